"""The gateway ASGI app: ``create_app(settings)`` wires the shared parts and the routers.

Shared parts live on ``app.state.gateway`` (a ``Gateway``): the suite client, Redis, the audit
log and the credential checks. Routers come from sub-packages, one per user: the tablet intake
(services/gateway/tablet) and, beside it, CDS Hooks (services/gateway/cds_hooks). A router
gets the parts with ``Depends(gateway)``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from services.gateway.credentials import GatewayAuth
from services.gateway.outcome import NO_STORE, HttpProblem, handle_problem
from services.gateway.suite_client import SuiteClient
from services.platform.audit import AuditLog
from services.platform.config import Settings, settings
from services.platform.redis_client import async_redis_client

log = logging.getLogger("footcds.gateway")


@dataclass
class Gateway:
    """What every route may use; one per app."""

    cfg: Settings
    suite: SuiteClient
    redis: aioredis.Redis
    audit: AuditLog
    auth: GatewayAuth
    cache: dict[str, Any] = field(default_factory=dict)  # small per-process caches (the intake form)


def gateway(request: Request) -> Gateway:
    """FastAPI dependency: the app's shared parts."""
    found: Gateway = request.app.state.gateway
    return found


core = APIRouter()


@core.get("/healthz", include_in_schema=False)
async def healthz(gw: Gateway = Depends(gateway)) -> JSONResponse:  # noqa: B008 - FastAPI idiom
    """Ready when every suite service the gateway calls answers SERVING and Redis answers."""
    services = await gw.suite.health()
    try:
        redis_ok = bool(await gw.redis.ping())
    except Exception:  # any Redis failure means "not ready", never a 500
        redis_ok = False
    ok = all(services.values()) and redis_ok
    body = {"status": "ok" if ok else "unavailable", "services": services, "redis": redis_ok}
    return JSONResponse(body, status_code=200 if ok else 503, headers=NO_STORE)


# Every response: nothing from another host, no framing, no referrer, no sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def create_app(cfg: Settings | None = None) -> FastAPI:
    cfg = cfg or settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        suite = SuiteClient(cfg)
        client = async_redis_client(cfg, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)
        app.state.gateway = Gateway(cfg, suite, client, AuditLog(cfg), GatewayAuth(cfg))
        try:
            yield
        finally:
            await suite.close()
            await client.aclose()

    app = FastAPI(title="FootCDS gateway", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.add_exception_handler(HttpProblem, handle_problem)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    app.include_router(core)
    from services.gateway.tablet import router as tablet_router

    app.include_router(tablet_router)
    from services.gateway.cds_hooks import router as cds_hooks_router

    app.include_router(cds_hooks_router)
    return app
