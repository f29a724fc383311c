"""Issuing credentials: ``python -m services.platform.auth issue|revoke|trust|dotenv``.

Tokens are printed once and stored as ``sha256(token)``; the running services pick up the
changed file without a restart.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from services.platform.auth.credentials import ASSESS, SCOPES, SCREEN, Credentials, CredentialsError, token_hash

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
    """`python -m services.platform.auth issue CLIENT --scopes assess,results:read --file tokens.json`."""
    parser = argparse.ArgumentParser(prog="python -m services.platform.auth", description=main.__doc__)
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
