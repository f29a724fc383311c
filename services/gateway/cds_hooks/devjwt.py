"""A development EHR identity: sign CDS Hooks JWTs and serve their JWKS, so curl can call the gateway.

    python -m services.gateway.cds_hooks.devjwt serve            # JWKS on http://127.0.0.1:8099
    python -m services.gateway.cds_hooks.devjwt token --aud URL  # prints a signed JWT (ES384, 5 min)
    python -m services.gateway.cds_hooks.devjwt issuers          # the FOOTCDS_CDS_TRUSTED_ISSUERS JSON

The private key is made once and kept in .run/cds-dev-key.pem (mode 0600); ``make run`` trusts
this issuer (its .run/cds-issuers.json). Never trust it outside development: whoever holds the
key file can sign as "the EHR". Tests and the bench use ``DevIssuer`` and ``serve_jwks`` directly.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_KEY = ROOT / ".run" / "cds-dev-key.pem"
DEFAULT_PORT = 8099
JWKS_PATH = "/.well-known/jwks.json"


@dataclass
class DevIssuer:
    """An EC P-384 key pair standing in for an EHR (the spec recommends ES384)."""

    issuer: str
    key: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def generate(cls, issuer: str) -> DevIssuer:
        return cls(issuer, ec.generate_private_key(ec.SECP384R1()), uuid.uuid4().hex[:16])

    @classmethod
    def load_or_create(cls, issuer: str, path: Path = DEFAULT_KEY) -> DevIssuer:
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            kid = (path.with_suffix(".kid").read_text().strip() if path.with_suffix(".kid").exists() else "dev")
            return cls(issuer, loaded, kid)
        made = cls.generate(issuer)
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = made.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        path.with_suffix(".kid").write_text(made.kid + "\n")
        return made

    @property
    def jwks_url(self) -> str:
        return self.issuer.rstrip("/") + JWKS_PATH

    def jwks(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="ES384")
        return {"keys": [public]}

    def token(self, audience: str, *, lifetime: int = 300, jti: str | None = None, iat: float | None = None,
              extra: dict[str, Any] | None = None) -> str:
        now = int(time.time() if iat is None else iat)
        claims = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + lifetime,
                  "jti": jti or uuid.uuid4().hex, "sub": "dev-clinician", **(extra or {})}
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})


def serve_jwks(issuer: DevIssuer, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The issuer's JWKS over HTTP from a daemon thread; ``server.shutdown()`` stops it."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?")[0] not in (JWKS_PATH, "/jwks.json"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="dev-jwks").start()
    return server


def dev_issuer_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.cds_hooks.devjwt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key", type=Path, default=DEFAULT_KEY, help="the private key file (made if missing)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the JWKS port (the issuer is its URL)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the JWKS until Ctrl-C")
    token = sub.add_parser("token", help="print a signed JWT")
    token.add_argument("--aud", required=True, help="the exact URL to call, e.g. .../cds-services/footcds-patient-view")
    token.add_argument("--lifetime", type=int, default=300, help="seconds (the spec: at most 300)")
    sub.add_parser("issuers", help="print the trusted-issuers JSON for this dev issuer")
    args = parser.parse_args(argv)
    issuer = DevIssuer.load_or_create(dev_issuer_url(args.port), args.key)
    if args.command == "token":
        print(issuer.token(args.aud, lifetime=args.lifetime))
    elif args.command == "issuers":
        print(json.dumps({issuer.issuer: issuer.jwks_url}))
    else:
        server = serve_jwks(issuer, port=args.port)
        print(f"dev EHR issuer {issuer.issuer}: JWKS at {issuer.jwks_url} (Ctrl-C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
