"""Who may call what: each server's table of RPCs and the roles allowed to call them, enforced
by one interceptor on every secure server before the servicer sees the call. An RPC missing
from the table is refused (a new RPC must be given its callers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc

from common import errors, tls
from common.interceptors import Behaviour, Wrapping

Policy = Mapping[str, frozenset[str]]  # full method name -> roles allowed

USERS = frozenset({"user", "admin"})


def require(context: grpc.ServicerContext, roles: frozenset[str], what: str) -> None:
    """Refuses the call unless the caller holds one of `roles` (anyone, on an insecure
    server: simple mode)."""
    who = tls.peer(context)
    if who is not None and who.role not in roles:
        raise errors.PermissionDenied(f"{who.role} {who.name!r} may not {what}")


class Enforcer(Wrapping):
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def wrapper(self, method: str) -> Callable[[Behaviour], Behaviour]:
        allowed = self.policy.get(method, frozenset())
        name = method.rsplit("/", 1)[-1]

        def guarded(behaviour: Behaviour) -> Behaviour:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                who = tls.peer(context)
                if who is None or who.role not in allowed:
                    role = f"{who.role} {who.name!r}" if who else "an unauthenticated caller"
                    context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{role} may not call {name}")
                return behaviour(request, context)

            return call

        return guarded
