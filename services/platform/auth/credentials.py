"""Who a caller is and what it may do: scopes, the method map, principals and the tokens
document (hashes only), re-read when it changes. No gRPC here but the method names.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.platform.config import Settings

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
