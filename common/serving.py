"""Shared by both servers' servicers: library errors leave as gRPC statuses (through
`transport.abort`, the one table), and an unexpected exception is logged and answered
INTERNAL, never crashing the server."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from common import errors, transport

F = TypeVar("F", bound=Callable[..., Any])


def _abort(log: logging.Logger, name: str, err: Exception, context: grpc.ServicerContext) -> None:
    if isinstance(err, errors.GfsError):
        transport.abort(context, err)
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
