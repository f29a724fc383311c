"""TLS and mutual TLS from configuration, and the one way FootCDS code dials a service.

Servers: ``FOOTCDS_TLS_CERT`` + ``FOOTCDS_TLS_KEY`` switch every gRPC port to TLS;
``FOOTCDS_TLS_CLIENT_AUTH=require`` (with ``FOOTCDS_TLS_CA``) makes it mutual: a client
without a certificate signed by that CA fails the handshake and never reaches a handler.

Clients: ``FOOTCDS_TLS_CA`` (the CA that signed the servers) switches dialing to TLS;
``FOOTCDS_TLS_CLIENT_CERT`` + ``FOOTCDS_TLS_CLIENT_KEY`` are presented under mTLS. A bearer
token, when given, rides on every call (see ``services.platform.auth.BearerToken``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from services.platform.auth import BearerToken
from services.platform.config import Settings, settings


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RuntimeError(f"{what}: cannot read {path}: {exc.strerror}") from None


def server_credentials(cfg: Settings | None = None) -> grpc.ServerCredentials | None:
    """TLS server credentials, or ``None`` for a plaintext port (no FOOTCDS_TLS_CERT)."""
    cfg = cfg or settings()
    if not cfg.tls_cert:
        return None
    if not cfg.tls_key:
        raise RuntimeError("FOOTCDS_TLS_CERT is set but FOOTCDS_TLS_KEY is not")
    require = cfg.tls_client_auth == "require"
    ca = _read(cfg.tls_ca, "FOOTCDS_TLS_CA") if cfg.tls_ca else None
    if require and ca is None:
        raise RuntimeError("FOOTCDS_TLS_CLIENT_AUTH=require needs FOOTCDS_TLS_CA (the client certificates' CA)")
    pair = (_read(cfg.tls_key, "FOOTCDS_TLS_KEY"), _read(cfg.tls_cert, "FOOTCDS_TLS_CERT"))
    return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=require)


def channel_credentials(
    cfg: Settings | None = None, *, ca: str | None = None, cert: str | None = None, key: str | None = None
) -> grpc.ChannelCredentials | None:
    """TLS channel credentials from settings (arguments override), or ``None`` for plaintext."""
    cfg = cfg or settings()
    ca = ca if ca is not None else cfg.tls_ca
    cert = cert if cert is not None else cfg.tls_client_cert
    key = key if key is not None else cfg.tls_client_key
    if not (ca or cert):
        return None
    if bool(cert) != bool(key):
        raise RuntimeError("a client certificate needs its key (FOOTCDS_TLS_CLIENT_CERT and FOOTCDS_TLS_CLIENT_KEY)")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "TLS CA") if ca else None,
        private_key=_read(key, "TLS client key") if key else None,
        certificate_chain=_read(cert, "TLS client certificate") if cert else None,
    )


def dial(
    address: str,
    *,
    token: str = "",
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, int | str]] = (),
    cfg: Settings | None = None,
) -> grpc.Channel:
    """A channel to ``address``: TLS when configured (or ``credentials`` given), with ``token``."""
    cfg = cfg or settings()
    creds = credentials if credentials is not None else channel_credentials(cfg)
    options = list(options)
    if not any(name == "grpc.lb_policy_name" for name, _ in options):
        options.append(("grpc.lb_policy_name", cfg.grpc_lb_policy))
    channel = (
        grpc.secure_channel(address, creds, options=list(options))
        if creds is not None
        else grpc.insecure_channel(address, options=list(options))
    )
    return grpc.intercept_channel(channel, BearerToken(token)) if token else channel
