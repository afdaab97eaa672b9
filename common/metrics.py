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

from common.interceptors import Behaviour, Handler, Wrapping

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
    """Each method's handler is made once, with its figures' labelled children looked up once
    (a lookup takes a lock: several of them a call were a measurable part of a small one)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = super().intercept_service(continuation, handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cache: dict[str, tuple[Handler, Handler]] = self.__dict__.setdefault("_counted", {})
        known = cache.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        label = _short(method)
        counted: Handler = handler._replace(  # type: ignore[attr-defined]
            request_deserializer=_counting_decoder(
                handler.request_deserializer, RECEIVED.labels(label)
            ),
            response_serializer=_counting_encoder(handler.response_serializer, SENT.labels(label)),
        )
        cache[method] = (handler, counted)
        return counted

    def wrapper(self, method: str) -> Callable[[Behaviour], Behaviour]:
        figures = _Figures(_short(method))

        def measured(behaviour: Behaviour) -> Behaviour:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                start = time.perf_counter()
                try:
                    result = behaviour(request, context)
                except BaseException:
                    figures.record(context, start, failed=True)
                    raise
                if isinstance(result, Iterator):
                    return _streaming(result, figures, context, start)
                figures.record(context, start, failed=False)
                return result

            return call

        return measured


class _Figures:
    """One method's call counts by status code, and its latency."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.latency = LATENCY.labels(label)
        self.calls: dict[grpc.StatusCode, Any] = {}

    def record(self, context: grpc.ServicerContext, start: float, failed: bool) -> None:
        code = context.code()  # type: ignore[attr-defined]
        if code is None:
            code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
        counter = self.calls.get(code)
        if counter is None:
            counter = self.calls[code] = RPCS.labels(self.label, code.name)
        counter.inc()
        self.latency.observe(time.perf_counter() - start)


def _streaming(
    items: Iterator[Any], figures: _Figures, context: grpc.ServicerContext, start: float
) -> Iterator[Any]:
    failed = True
    try:
        yield from items
        failed = False
    finally:
        figures.record(context, start, failed)
