"""What every server counts of its RPCs, for Prometheus (`/metrics`): calls by method and
status code, and how long they took, measured by one interceptor before any other check so
that refused calls count too."""

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


class RpcMetrics(Wrapping):
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
