"""Who may call what: one server interceptor shared by every FootCDS service.

A caller proves who it is with a bearer token (``authorization: Bearer <token>``) or, under
mutual TLS, with its client certificate. The identity maps to a client id and scopes:

* ``assess``       - Assess and the single-case domain RPCs the worker calls for it;
* ``screen``       - SubmitScreening and the batch domain RPCs;
* ``results:read`` - watching and reading screening results;
* ``admin``        - the audit trail;
* ``tablet``       - a clinic intake tablet on the HTTP gateway: the adaptive intake only;
* ``staff``        - clinic staff on the HTTP gateway: the day's completed intakes.

``tablet`` and ``staff`` open no gRPC method: the gateway checks them at its HTTP edge and
calls the suite with its own service identity (services/gateway/credentials.py).

No credentials -> UNAUTHENTICATED; a scope the client lacks -> PERMISSION_DENIED. Health and
reflection stay open (load balancers and ``grpcurl list`` need them; they carry no data).
A method missing from ``METHOD_SCOPES`` needs ``admin``: new RPCs are closed until mapped.

Tokens are never stored: the tokens file holds ``sha256(token)`` per client, so a leaked
file grants nothing, and a presented token is compared against every entry with
``hmac.compare_digest`` (constant time, no early exit). The file is re-read when it changes,
so issuing or revoking a client needs no restart (``python -m services.common.auth``).
"""

from __future__ import annotations

import argparse
import contextvars
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import yaml

from services.common.config import Settings, settings
from services.common.interceptors import Behavior, BehaviorInterceptor, around

log = logging.getLogger("footcds.auth")

ASSESS, SCREEN, RESULTS_READ, ADMIN = "assess", "screen", "results:read", "admin"
TABLET, STAFF = "tablet", "staff"
SCOPES = frozenset({ASSESS, SCREEN, RESULTS_READ, ADMIN, TABLET, STAFF})

# Method -> the scope it needs. "<service>/*" covers a whole service. Data, not code paths.
METHOD_SCOPES: Mapping[str, str] = {
    "/footcds.v1.EncounterService/Assess": ASSESS,
    "/footcds.v1.EncounterService/SubmitScreening": SCREEN,
    "/footcds.v1.EncounterService/WatchScreening": RESULTS_READ,
    "/footcds.v1.EncounterService/GetScreeningResults": RESULTS_READ,
    "/footcds.v1.EncounterService/GetScreeningSummary": RESULTS_READ,
    "/footcds.v1.AuditService/*": ADMIN,
    "/footcds.v1.IntakeService/NormalizeIntakeBatch": SCREEN,
    "/footcds.v1.IntakeService/*": ASSESS,
    "/footcds.v1.DifferentialService/RankDifferentialBatch": SCREEN,
    "/footcds.v1.DifferentialService/*": ASSESS,
    "/footcds.v1.WorkupService/RecommendTestsBatch": SCREEN,
    "/footcds.v1.WorkupService/*": ASSESS,
    "/footcds.v1.TreatmentService/PlanTreatmentBatch": SCREEN,
    "/footcds.v1.TreatmentService/*": ASSESS,
}
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def required_scope(method: str) -> str | None:
    """The scope ``method`` needs; ``None`` for health and reflection."""
    if method.startswith(EXEMPT_PREFIXES):
        return None
    if method in METHOD_SCOPES:
        return METHOD_SCOPES[method]
    service = method.rsplit("/", 1)[0]
    return METHOD_SCOPES.get(f"{service}/*", ADMIN)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``via`` is how: "token", "mtls" or "off" (auth switched off)."""

    client_id: str
    scopes: frozenset[str]
    via: str = "token"
    max_concurrent: int | None = None


ANONYMOUS = Principal("anonymous", SCOPES, via="off")
_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("footcds_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the RPC this thread is serving (``None`` outside one, or for health)."""
    return _current.get()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CredentialsError(ValueError):
    """The tokens document is malformed; the message names the entry."""


def _entry(where: str, raw: Any, client_id: str | None = None) -> Principal:
    if not isinstance(raw, dict):
        raise CredentialsError(f"{where}: expected a mapping with client_id and scopes")
    cid = raw.get("client_id", client_id)
    scopes = raw.get("scopes")
    if not isinstance(cid, str) or not cid:
        raise CredentialsError(f"{where}.client_id: missing")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise CredentialsError(f"{where}.scopes: expected a list of scopes")
    unknown = set(scopes) - SCOPES
    if unknown:
        raise CredentialsError(f"{where}.scopes: unknown {sorted(unknown)}; known: {sorted(SCOPES)}")
    limit = raw.get("max_concurrent")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise CredentialsError(f"{where}.max_concurrent: expected a positive integer")
    return Principal(cid, frozenset(scopes), max_concurrent=limit)


@dataclass(frozen=True)
class Credentials:
    """Token hashes and certificate common names, each mapped to a principal."""

    tokens: tuple[tuple[bytes, Principal], ...] = ()
    certificates: Mapping[str, Principal] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, where: str = "tokens") -> Credentials:
        """``{"tokens": {sha256: {...}}, "certificates": {cn: {...}}}``, or the tokens mapping alone."""
        data = yaml.safe_load(text) if text.strip() else {}
        if not isinstance(data, dict):
            raise CredentialsError(f"{where}: expected a mapping")
        raw_tokens = data.get("tokens", {}) if ("tokens" in data or "certificates" in data) else data
        raw_certs = data.get("certificates", {}) or {}
        if not isinstance(raw_tokens, dict) or not isinstance(raw_certs, dict):
            raise CredentialsError(f"{where}: tokens and certificates must be mappings")
        tokens = []
        for digest, raw in raw_tokens.items():
            if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
                raise CredentialsError(f"{where}.tokens: keys are sha256 hex digests of tokens, not tokens")
            tokens.append((digest.encode(), _entry(f"{where}.tokens[{digest[:8]}…]", raw)))
        certs = {
            str(cn): _entry(f"{where}.certificates.{cn}", raw, str(cn)) for cn, raw in raw_certs.items()
        }
        return cls(tuple(tokens), {cn: Principal(p.client_id, p.scopes, "mtls", p.max_concurrent)
                                   for cn, p in certs.items()})

    def by_token(self, token: str) -> Principal | None:
        """Constant time in the token: every entry is compared, no early exit."""
        presented = token_hash(token).encode()
        found: Principal | None = None
        for digest, principal in self.tokens:
            if hmac.compare_digest(digest, presented):
                found = principal
        return found


class CredentialStore:
    """Credentials from FOOTCDS_TOKENS_FILE (re-read when its mtime changes) or FOOTCDS_TOKENS."""

    CHECK_EVERY_S = 1.0

    def __init__(self, cfg: Settings) -> None:
        self._file = Path(cfg.tokens_file) if cfg.tokens_file else None
        self._inline = cfg.tokens
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._creds = Credentials()
        self._load()

    def _load(self) -> None:
        parts: list[Credentials] = []
        if self._inline:
            parts.append(Credentials.parse(self._inline, "FOOTCDS_TOKENS"))
        if self._file is not None:
            try:
                self._stamp = self._file_stamp()
                parts.append(Credentials.parse(self._file.read_text(), str(self._file)))
            except (OSError, CredentialsError) as exc:
                # Keep what was loaded before: a half-written file must not lock everyone out.
                log.error("credentials not loaded", extra={"error_type": type(exc).__name__})
                if not parts:
                    return
        self._creds = Credentials(
            tuple(t for p in parts for t in p.tokens), {k: v for p in parts for k, v in p.certificates.items()}
        )
        if not self._creds.tokens and not self._creds.certificates:
            log.warning("no credentials configured: every call but health is refused")

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self._file is None:
            return None
        try:
            st = self._file.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self, *, recheck: bool = False) -> Credentials:
        """The credentials, re-read if the file changed (checked at most once a second, or now
        when ``recheck``: an unknown token may be one issued a moment ago)."""
        now = time.monotonic()
        if self._file is not None and (recheck or now - self._checked >= self.CHECK_EVERY_S):
            with self._lock:
                self._checked = now
                stamp = self._file_stamp()
                if stamp is not None and stamp != self._stamp:
                    self._load()
        return self._creds


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



# --- the client side: a token on every call -----------------------------------------------


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: Any


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call of a channel (TLS or not)."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> _CallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def read_secret(value: str, path: str) -> str:
    """A secret given inline or as a file (Docker/Kubernetes secrets); inline wins."""
    if value:
        return value
    return Path(path).read_text().strip() if path else ""


def service_token(cfg: Settings | None = None) -> str:
    """The worker's service identity token (FOOTCDS_SERVICE_TOKEN or FOOTCDS_SERVICE_TOKEN_FILE)."""
    cfg = cfg or settings()
    return read_secret(cfg.service_token, cfg.service_token_file)


# --- issuing credentials ----------------------------------------------------------------


def issue(path: Path, client_id: str, scopes: Sequence[str], max_concurrent: int | None = None) -> str:
    """Add a new client to a tokens file (created 0600); returns the token, shown only once."""
    unknown = set(scopes) - SCOPES
    if unknown:
        raise CredentialsError(f"unknown scopes {sorted(unknown)}; known: {sorted(SCOPES)}")
    data = _load_document(path)
    token = secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"client_id": client_id, "scopes": sorted(scopes)}
    if max_concurrent is not None:
        entry["max_concurrent"] = max_concurrent
    data["tokens"][token_hash(token)] = entry
    _write_document(path, data)
    return token


def revoke(path: Path, client_id: str) -> int:
    """Remove every token of ``client_id`` from a tokens file; returns how many. Servers (and the
    gateway) re-read the file, so the client is refused from its next call on."""
    data = _load_document(path)
    kept = {digest: entry for digest, entry in data["tokens"].items() if entry.get("client_id") != client_id}
    removed = len(data["tokens"]) - len(kept)
    if removed:
        data["tokens"] = kept
        _write_document(path, data)
    return removed


def _load_document(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"tokens": {}, "certificates": {}}
    loaded = yaml.safe_load(path.read_text()) or {}
    Credentials.parse(json.dumps(loaded), str(path))  # refuse to extend a broken file
    data: dict[str, Any] = loaded if ("tokens" in loaded or "certificates" in loaded) else {"tokens": loaded}
    data.setdefault("tokens", {})
    data.setdefault("certificates", {})
    return data


def _write_document(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    os.replace(tmp, path)  # atomic: servers never read half a file


def trust_certificate(path: Path, common_name: str, scopes: Sequence[str], max_concurrent: int | None = None) -> None:
    """Map a client certificate's common name to scopes in a tokens file (mTLS identities)."""
    unknown = set(scopes) - SCOPES
    if unknown:
        raise CredentialsError(f"unknown scopes {sorted(unknown)}; known: {sorted(SCOPES)}")
    data = _load_document(path)
    entry: dict[str, Any] = {"client_id": common_name, "scopes": sorted(scopes)}
    if max_concurrent is not None:
        entry["max_concurrent"] = max_concurrent
    data["certificates"][common_name] = entry
    _write_document(path, data)


def dotenv() -> str:
    """New service and smoke-test tokens as .env lines; FOOTCDS_TOKENS is YAML flow style
    (no quotes), which docker-compose's .env parser passes through unchanged."""
    service, smoke = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    entries = (
        f"{token_hash(service)}: {{client_id: worker, scopes: [{ASSESS}, {SCREEN}], max_concurrent: 1000}}, "
        f"{token_hash(smoke)}: {{client_id: smoke, scopes: [{ASSESS}]}}"
    )
    return "\n".join([
        f"FOOTCDS_TOKENS={{tokens: {{{entries}}}}}",
        f"FOOTCDS_SERVICE_TOKEN={service}",
        f"FOOTCDS_SMOKE_TOKEN={smoke}",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m services.common.auth issue CLIENT --scopes assess,results:read --file tokens.json`."""
    parser = argparse.ArgumentParser(prog="python -m services.common.auth", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    issue_cmd = sub.add_parser("issue", help="add a client to a tokens file and print its token once")
    issue_cmd.add_argument("client_id")
    issue_cmd.add_argument("--scopes", required=True, help=f"comma-separated, from {sorted(SCOPES)}")
    issue_cmd.add_argument("--file", required=True, type=Path, help="the tokens file (FOOTCDS_TOKENS_FILE)")
    issue_cmd.add_argument("--max-concurrent", type=int, default=None)
    revoke_cmd = sub.add_parser("revoke", help="remove every token of a client (a lost tablet) from a tokens file")
    revoke_cmd.add_argument("client_id")
    revoke_cmd.add_argument("--file", required=True, type=Path, help="the tokens file (FOOTCDS_TOKENS_FILE)")
    sub.add_parser("hash", help="print sha256(token) for a token read from stdin")
    sub.add_parser("dotenv", help="print FOOTCDS_TOKENS / FOOTCDS_SERVICE_TOKEN / FOOTCDS_SMOKE_TOKEN "
                                  "lines for docker-compose's .env (new tokens)")
    args = parser.parse_args(argv)
    try:
        if args.command == "issue":
            scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
            print(issue(args.file, args.client_id, scopes, args.max_concurrent))
        elif args.command == "revoke":
            removed = revoke(args.file, args.client_id)
            print(f"revoked {removed} token(s) of {args.client_id!r}")
            if not removed:
                return 1
        elif args.command == "dotenv":
            print(dotenv())
        else:
            print(token_hash(sys.stdin.readline().strip()))
    except CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
