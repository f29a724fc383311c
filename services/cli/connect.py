"""How every `footcds` command reaches the suite: TLS when configured, the caller's token.

The token comes from ``--token-file`` or ``FOOTCDS_TOKEN`` (never a command-line argument:
those end up in shell history and ``ps``). TLS from ``--tls-ca/--tls-cert/--tls-key`` or
``FOOTCDS_TLS_CA``/``FOOTCDS_TLS_CLIENT_CERT``/``FOOTCDS_TLS_CLIENT_KEY``. ``make run`` prints
``export FOOTCDS_TOKEN=$(cat .run/dev-token)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import grpc
import typer
from rich.console import Console

from services.platform.config import settings
from services.platform.errors import Violation, violations_of
from services.platform.tls import channel_credentials, dial

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3
EXIT_DENIED = 4
DENIED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
err = Console(stderr=True)


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


def fail_bad_input(message: str, violations: Iterable[Violation] = ()) -> NoReturn:
    """Say what is wrong, one line per bad field, and exit 2 (never a traceback)."""
    err.print(f"[bold red]error:[/bold red] {message.split(':')[0]}")
    for v in violations:
        err.print(f"  {v.field}: {v.description}")
    raise typer.Exit(EXIT_BAD_INPUT)


def fail_rpc(error: grpc.RpcError, address: str) -> NoReturn:
    """Report a failed call the same way in every command, with the exit code for its kind."""
    code = error.code()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        fail_bad_input(error.details() or "invalid request", violations_of(error))
    err.print(f"[bold red]error:[/bold red] {code.name}: {error.details()}")
    if code in DENIED:
        err.print(f"  {denied_hint(code)}")
        raise typer.Exit(EXIT_DENIED)
    if code == grpc.StatusCode.UNAVAILABLE:
        err.print(f"  is the suite running at {address}? start it with `make run`")
    raise typer.Exit(EXIT_UNAVAILABLE)
