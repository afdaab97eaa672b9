"""Shared by both servers' servicers: library errors leave as gRPC statuses (through
`transport.abort`, the one table), and an unexpected exception is logged and answered
INTERNAL, never crashing the server."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, NamedTuple, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from common import certs, errors, transport
from common.access import Enforcer, Policy
from common.admission import Shares
from common.exclusive import ensure_free
from common.metrics import RpcMetrics
from common.tls import TlsFiles

# The standard gRPC health service, on every server: anyone may ask, and it is never refused
# for want of a worker (servers list these among their vital methods).
HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
HEALTH_POLICY: Policy = dict.fromkeys(HEALTH_METHODS, frozenset(certs.ROLES))

F = TypeVar("F", bound=Callable[..., Any])


def _abort(log: logging.Logger, name: str, err: Exception, context: grpc.ServicerContext) -> None:
    if isinstance(err, errors.GfsError):
        transport.abort(context, err)
    if isinstance(err, grpc.RpcError) and not context.is_active():
        # The call is over (cancelled by its client, or by the server's own deadline): reading
        # its next request failed. Nobody is left to answer.
        log.info("%s: the call was cancelled before it ended", name)
        raise err
    log.exception("%s failed", name)
    context.abort(grpc.StatusCode.INTERNAL, f"{name}: {err}")


def aborting(log: logging.Logger) -> Callable[[F], F]:
    """Wraps a servicer method (unary or server-streaming) so that errors become statuses."""

    def decorate(method: F) -> F:
        name = method.__name__

        def stream(items: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from items
            except Exception as err:
                _abort(log, name, err, context)

        @functools.wraps(method)
        def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                result = method(self, request, context)
            except Exception as err:
                _abort(log, name, err, context)
            return stream(result, context) if inspect.isgenerator(result) else result

        return wrapper  # type: ignore[return-value]

    return decorate


class Health:
    """Whether a server serves: one answer for the standard gRPC health service (`gfs health`)
    and /healthz. Serving from the start; not serving once it begins to stop."""

    def __init__(self) -> None:
        self.servicer = health.HealthServicer()
        self.serving = True

    def stopping(self) -> None:
        self.serving = False
        self.servicer.enter_graceful_shutdown()


class Served(NamedTuple):
    server: grpc.Server
    port: int
    health: Health


def new_server(
    listen: str, workers: int, tls: TlsFiles | None, policy: Policy, shares: Shares
) -> Served:
    """A gRPC server bound to `listen` (port 0: any), the port it got, and its answer to the
    standard health service. Every call is counted (`common.metrics`); with `tls`, mutual TLS,
    and every call checked against `policy` before its servicer sees it; then against `shares`
    (calls under way per client and in all)."""
    ensure_free(listen, "gRPC")
    checks: list[grpc.ServerInterceptor] = (  # type: ignore[type-arg]
        [Enforcer({**policy, **HEALTH_POLICY})] if tls is not None else []
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
        # Never share the port with another process (gRPC's default on Linux).
        options=[*transport.CHANNEL_OPTIONS, ("grpc.so_reuseport", 0)],
        interceptors=[RpcMetrics(), *checks, shares],
    )
    answer = Health()
    health_pb2_grpc.add_HealthServicer_to_server(answer.servicer, server)
    try:
        if tls is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, tls.server_credentials())
    except RuntimeError:  # "Failed to bind": taken since ensure_free looked
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {listen} for gRPC")
    return Served(server, port, answer)
