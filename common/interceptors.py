"""What every server-side interceptor of ours needs: the same handler with its behaviour
wrapped, whatever kind of RPC (unary or streaming, either way) it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


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
            return make(
                wrap(behaviour), handler.request_deserializer, handler.response_serializer
            )
    raise ValueError(f"a handler with no behaviour: {handler}")
