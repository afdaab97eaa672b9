"""What every server counts of its RPCs, for Prometheus (`/metrics`): calls by method and
status code, how long they took, and the bytes of the messages received and sent, measured by
one interceptor before any other check so that refused calls count too. Bytes are counted where
gRPC decodes and encodes the messages, so counting costs no copy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from common.interceptors import Behaviour, Wrapping

RPCS = Counter(
    "gfs_rpc_requests_total", "RPCs served, by method and status code", ["method", "code"]
)
RECEIVED = Counter("gfs_rpc_received_bytes_total", "Bytes of requests received", ["method"])
SENT = Counter("gfs_rpc_sent_bytes_total", "Bytes of responses sent", ["method"])
LATENCY = Histogram(
    "gfs_rpc_duration_seconds",
    "Time an RPC took to serve (a stream: until its last message)",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60),
)


def _short(method: str) -> str:
    """'/pygfs.master.Master/Mkdir' -> 'Master.Mkdir'."""
    service, _, name = method.rpartition("/")
    return f"{service.rsplit('.', 1)[-1]}.{name}"


def _counting_decoder(
    decode: Callable[[bytes], Any] | None, counter: Any
) -> Callable[[bytes], Any]:
    def decoded(data: bytes) -> Any:
        counter.inc(len(data))
        return data if decode is None else decode(data)

    return decoded


def _counting_encoder(
    encode: Callable[[Any], bytes] | None, counter: Any
) -> Callable[[Any], bytes]:
    def encoded(message: Any) -> bytes:
        data: bytes = message if encode is None else encode(message)
        counter.inc(len(data))
        return data

    return encoded


class RpcMetrics(Wrapping):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = super().intercept_service(continuation, handler_call_details)
        if handler is None:
            return None
        label = _short(handler_call_details.method)
        return handler._replace(  # type: ignore[attr-defined,no-any-return]
            request_deserializer=_counting_decoder(
                handler.request_deserializer, RECEIVED.labels(label)
            ),
            response_serializer=_counting_encoder(handler.response_serializer, SENT.labels(label)),
        )

    def wrapper(self, method: str) -> Callable[[Behaviour], Behaviour]:
        label = _short(method)

        def measured(behaviour: Behaviour) -> Behaviour:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                start = time.perf_counter()
                try:
                    result = behaviour(request, context)
                except BaseException:
                    _record(label, context, start, failed=True)
                    raise
                if isinstance(result, Iterator):
                    return _streaming(result, label, context, start)
                _record(label, context, start, failed=False)
                return result

            return call

        return measured


def _streaming(
    items: Iterator[Any], method: str, context: grpc.ServicerContext, start: float
) -> Iterator[Any]:
    failed = True
    try:
        yield from items
        failed = False
    finally:
        _record(method, context, start, failed)


def _record(method: str, context: grpc.ServicerContext, start: float, failed: bool) -> None:
    code = context.code()  # type: ignore[attr-defined]
    if code is None:
        code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    RPCS.labels(method, code.name).inc()
    LATENCY.labels(method).observe(time.perf_counter() - start)
