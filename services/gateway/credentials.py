"""Who may use the gateway: the suite's token store, checked at the HTTP edge.

A clinic tablet is a *device* with its own token (scope ``tablet``): enrolled once by pasting
the token on /intake/enrol, kept in an HttpOnly, SameSite=Strict cookie, revoked by removing
its line from the tokens file (``python -m services.platform.auth revoke``), which the gateway
re-reads like every server. Staff pages need a ``staff`` token (cookie set by /staff/login).
SDC apps and EHRs send ``Authorization: Bearer``. The cookie holds the token itself and every
request is checked against the store, so a revocation bites on the next request.

The gateway calls the suite as the caller when the caller holds the ``assess`` scope (its
name then appears in the suite's audit trail), else as itself (FOOTCDS_SERVICE_TOKEN): a
tablet's token opens nothing on the gRPC ports.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from services.gateway.outcome import HttpProblem, Issue
from services.platform.auth import ANONYMOUS, ASSESS, CredentialStore, Principal, read_secret
from services.platform.config import Settings

DEVICE_COOKIE = "footcds_device"
STAFF_COOKIE = "footcds_staff"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated HTTP caller and the token the gateway uses for its suite calls."""

    principal: Principal
    suite_token: str

    @property
    def client_id(self) -> str:
        return self.principal.client_id


class GatewayAuth:
    def __init__(self, cfg: Settings) -> None:
        self.off = cfg.auth_mode == "off"
        self.store = None if self.off else CredentialStore(cfg)
        self.service_token = read_secret(cfg.service_token, cfg.service_token_file)

    def principal_of(self, token: str) -> Principal | None:
        if self.store is None:
            return ANONYMOUS
        return self.store.current().by_token(token) or self.store.current(recheck=True).by_token(token)

    @staticmethod
    def presented(request: Request, cookie: str) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return request.cookies.get(cookie, "")

    def identify(self, request: Request, cookie: str) -> tuple[Principal, str] | None:
        token = self.presented(request, cookie)
        if self.off:
            return ANONYMOUS, token
        if not token:
            return None
        principal = self.principal_of(token)
        return (principal, token) if principal is not None else None

    def require(self, request: Request, scope: str, cookie: str) -> Caller:
        """The caller, or 401 (no or unknown credentials) / 403 (lacks ``scope``)."""
        found = self.identify(request, cookie)
        if found is None:
            raise HttpProblem(401, [Issue("", "credentials required: a bearer token, or an enrolled device")],
                              {"WWW-Authenticate": 'Bearer realm="footcds"'})
        principal, token = found
        if scope not in principal.scopes:
            raise HttpProblem(403, [Issue("", f"client {principal.client_id!r} lacks the {scope!r} scope")])
        suite_token = token if ASSESS in principal.scopes and not self.off else self.service_token
        return Caller(principal, suite_token)
