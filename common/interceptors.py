"""What every server-side interceptor of ours shares: the same handler with its behaviour
wrapped, whatever kind of RPC (unary or streaming, either way) it is. An interceptor says only
how it wraps one method (`Wrapping.wrapper`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeAlias

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


def rewrapped(
    handler: grpc.RpcMethodHandler[Any, Any], wrap: Callable[[Behaviour], Behaviour]
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with its behaviour replaced by `wrap(behaviour)`; a streaming response is
    still returned as an iterator, which `wrap` must pass on."""
    for kind, make in (
        ("unary_unary", grpc.unary_unary_rpc_method_handler),
        ("unary_stream", grpc.unary_stream_rpc_method_handler),
        ("stream_unary", grpc.stream_unary_rpc_method_handler),
        ("stream_stream", grpc.stream_stream_rpc_method_handler),
    ):
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            return make(wrap(behaviour), handler.request_deserializer, handler.response_serializer)
    raise ValueError(f"a handler with no behaviour: {handler}")


class Wrapping(grpc.ServerInterceptor, ABC):  # type: ignore[type-arg]
    """Wraps each method's handler once, not on every call (a server's handlers are made at
    registration and never change)."""

    @abstractmethod
    def wrapper(self, method: str) -> Callable[[Behaviour], Behaviour] | None:
        """How calls of `method` (its full name) are wrapped; None: left as they are."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cache: dict[str, tuple[Handler, Handler]] = self.__dict__.setdefault("_wrapped", {})
        known = cache.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrap = self.wrapper(method)
        wrapped = handler if wrap is None else rewrapped(handler, wrap)
        cache[method] = (handler, wrapped)
        return wrapped
