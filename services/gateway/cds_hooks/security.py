"""The EHR's JWT, checked as CDS Hooks 2.0 requires before any patient data is touched.

Every call carries ``Authorization: Bearer <JWT>`` signed by the EHR. Accepted only when:
the algorithm is asymmetric (never ``none`` or HS*: a shared secret would let anyone holding
it mint tokens); ``iss`` is a configured trusted issuer; the signature verifies with a key of
that issuer's JWKS (fetched with PyJWKClient, keys cached, a new ``kid`` refetches); ``aud`` is
the exact URL called; ``exp``, ``iat`` and ``jti`` are present, the token is current and lives
at most FOOTCDS_CDS_JWT_MAX_LIFETIME_SECONDS; and its ``jti`` was not seen before (kept in Redis
for the token's lifetime). Anything else is 401 with an OperationOutcome saying which check
failed, and nothing about the token is logged.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import anyio
import jwt
import redis.asyncio as aioredis

from services.gateway.credentials import Caller
from services.gateway.outcome import HttpProblem, Issue
from services.platform.auth import Principal
from services.platform.config import Settings

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
JTI_PREFIX = "footcds:gateway:cds:jti:"


def refused(why: str) -> HttpProblem:
    return HttpProblem(401, [Issue("Authorization", why)], {"WWW-Authenticate": 'Bearer realm="footcds-cds-hooks"'})


@dataclass(frozen=True, slots=True)
class EhrCaller:
    """A verified EHR call: the issuer (the EHR) and the user the JWT names, for the audit trail."""

    issuer: str
    subject: str
    tenant: str

    @property
    def client_id(self) -> str:
        return f"ehr:{self.issuer}"

    def as_caller(self) -> Caller:
        """The gateway's caller shape (for its audit helper): authenticated "via" a JWT, no suite scopes."""
        return Caller(Principal(self.client_id, frozenset(), via="jwt"), suite_token="")


class TrustedIssuers:
    """iss -> JWKS URL, from FOOTCDS_CDS_TRUSTED_ISSUERS and/or a file re-read when it changes."""

    def __init__(self, cfg: Settings) -> None:
        self.inline = dict(cfg.cds_trusted_issuers)
        self.path = cfg.cds_trusted_issuers_file
        self._stamp: float | None = None
        self._from_file: dict[str, str] = {}
        self._lock = threading.Lock()

    def current(self) -> dict[str, str]:
        if self.path:
            try:
                stamp = os.stat(self.path).st_mtime
            except OSError:
                stamp = None
            with self._lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        with open(self.path, encoding="utf-8") as handle:
                            data = json.loads(handle.read()) if stamp else {}
                    except (OSError, ValueError):
                        data = {}  # an unreadable file trusts nobody rather than everybody
                    self._from_file = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return {**self._from_file, **self.inline}


class JwtVerifier:
    def __init__(self, cfg: Settings, client: aioredis.Redis) -> None:
        self.cfg = cfg
        self.redis = client
        self.issuers = TrustedIssuers(cfg)
        self._jwks: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def _client(self, url: str) -> jwt.PyJWKClient:
        with self._lock:
            found = self._jwks.get(url)
            if found is None:
                found = jwt.PyJWKClient(url, cache_keys=True, lifespan=max(self.cfg.cds_jwks_cache_seconds, 1),
                                        timeout=5)
                self._jwks[url] = found
            return found

    async def verify(self, authorization: str, audience: str) -> EhrCaller:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise refused("a JWT from the EHR is required (Authorization: Bearer <JWT>)")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise refused("the bearer token is not a JWT") from None
        alg = str(header.get("alg", ""))
        if alg not in ASYMMETRIC:
            raise refused(f"JWT algorithm {alg or 'none'!r} refused: only asymmetric signatures are accepted")
        issuer = str(unverified.get("iss", ""))
        jwks_url = self.issuers.current().get(issuer)
        if jwks_url is None:
            raise refused("JWT issuer is not a trusted EHR")
        try:
            key = await anyio.to_thread.run_sync(self._client(jwks_url).get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise refused(f"no key of the issuer's JWKS verifies this JWT ({type(exc).__name__})") from None
        leeway = self.cfg.cds_jwt_leeway_seconds
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=audience, issuer=issuer, leeway=leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.InvalidAudienceError:
            raise refused(f"JWT aud must be the URL called: {audience}") from None
        except jwt.ExpiredSignatureError:
            raise refused("JWT expired") from None
        except jwt.PyJWTError as exc:
            raise refused(f"JWT refused: {type(exc).__name__}") from None
        now = time.time()
        exp, iat = float(claims["exp"]), float(claims["iat"])
        if iat > now + leeway:
            raise refused("JWT iat is in the future")
        if exp - iat > self.cfg.cds_jwt_max_lifetime_seconds:
            raise refused(f"JWT lifetime exceeds {self.cfg.cds_jwt_max_lifetime_seconds} s")
        key_name = JTI_PREFIX + hashlib.sha256(f"{issuer}|{claims['jti']}".encode()).hexdigest()
        ttl = max(int(exp - now + leeway) + 1, 1)
        try:
            fresh = await self.redis.set(key_name, "1", nx=True, ex=ttl)
        except aioredis.RedisError:
            raise HttpProblem(503, [Issue("", "replay check unavailable")]) from None
        if not fresh:
            raise refused("JWT jti already used (replay)")
        return EhrCaller(issuer, str(claims.get("sub", "")), str(claims.get("tenant", "")))
