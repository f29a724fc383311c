"""The server side: one interceptor on every service admits a caller by token or mTLS
certificate and records who is calling (``current_principal``) for limits and the audit.
"""

from __future__ import annotations

import contextvars
import logging

import grpc

from services.platform.auth.credentials import ANONYMOUS, CredentialStore, Principal, required_scope
from services.platform.config import Settings, settings
from services.platform.interceptors import Behavior, BehaviorInterceptor, around

log = logging.getLogger("footcds.auth")

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("footcds_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the RPC this thread is serving (``None`` outside one, or for health)."""
    return _current.get()


def _bearer(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def _certificate_name(context: grpc.ServicerContext) -> str | None:
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode() if names else None


class AuthInterceptor(BehaviorInterceptor):
    """Authenticate, check the method's scope, and expose the caller via ``current_principal``."""

    def __init__(self, cfg: Settings | None = None) -> None:
        cfg = cfg or settings()
        self._off = cfg.auth_mode == "off"
        self._store = None if self._off else CredentialStore(cfg)

    def authenticate(self, context: grpc.ServicerContext) -> Principal | None:
        if self._store is None:
            return ANONYMOUS
        creds = self._store.current()
        token = _bearer(context)
        if token is not None:
            return creds.by_token(token) or self._store.current(recheck=True).by_token(token)
        name = _certificate_name(context)
        return creds.certificates.get(name) if name is not None else None

    def _admit(self, method: str, scope: str, context: grpc.ServicerContext) -> Principal:
        principal = self.authenticate(context)
        if principal is None:
            log.warning("unauthenticated", extra={"rpc": method, "code": "UNAUTHENTICATED"})
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "credentials required: a bearer token (authorization metadata) or a client certificate")
            raise AssertionError("unreachable")  # abort raises
        if scope not in principal.scopes:
            log.warning("permission denied",
                        extra={"rpc": method, "client_id": principal.client_id, "code": "PERMISSION_DENIED"})
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"client {principal.client_id!r} lacks the {scope!r} scope this method needs")
        return principal

    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        scope = required_scope(method)
        if scope is None:
            return behavior

        return around(
            behavior, streaming, lambda context: _current.set(self._admit(method, scope, context)), _current.reset
        )
