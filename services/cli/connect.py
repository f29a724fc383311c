"""How every `footcds` command reaches the suite: TLS when configured, the caller's token.

The token comes from ``--token-file`` or ``FOOTCDS_TOKEN`` (never a command-line argument:
those end up in shell history and ``ps``). TLS from ``--tls-ca/--tls-cert/--tls-key`` or
``FOOTCDS_TLS_CA``/``FOOTCDS_TLS_CLIENT_CERT``/``FOOTCDS_TLS_CLIENT_KEY``. ``make run`` prints
``export FOOTCDS_TOKEN=$(cat .run/dev-token)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.common.config import settings
from services.common.tls import channel_credentials, dial

EXIT_DENIED = 4
DENIED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@dataclass
class ConnectOptions:
    """Set once by the root command's options; empty means "from the environment"."""

    token_file: Path | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


OPTIONS = ConnectOptions()


def token() -> str:
    if OPTIONS.token_file is not None:
        try:
            return OPTIONS.token_file.read_text().strip()
        except OSError as exc:
            raise SystemExit(f"error: cannot read the token file {OPTIONS.token_file}: {exc.strerror}") from None
    return settings().token


def open_channel(address: str, options: Sequence[tuple[str, int | str]] = ()) -> grpc.Channel:
    """A channel to ``address`` with the caller's credentials on every call."""
    credentials = channel_credentials(ca=OPTIONS.tls_ca, cert=OPTIONS.tls_cert, key=OPTIONS.tls_key)
    return dial(address, token=token(), credentials=credentials, options=options)


def denied_hint(code: grpc.StatusCode) -> str:
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return "set FOOTCDS_TOKEN (with `make run`: export FOOTCDS_TOKEN=$(cat .run/dev-token)) or --token-file"
    return "this client's token lacks the scope; ask an administrator for one that has it"
