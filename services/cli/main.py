"""`footcds`: assess a case from a file, against the suite or in-process.

Exit codes: 0 ok, 2 bad input (the message names the field), 3 the suite is unreachable or
too slow, 4 not authenticated or not allowed (FOOTCDS_TOKEN; see README "Security").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import grpc
import typer
from footcds.v1 import encounter_pb2, encounter_pb2_grpc
from rich.console import Console

from services.cli import audit as audit_cli
from services.cli import connect
from services.cli.casefile import read_case
from services.cli.render import assessment_json, print_assessment
from services.cli.screen import roster_app, screen
from services.platform.config import settings
from services.platform.errors import InvalidInput

app = typer.Typer(
    help="FootCDS: decision support for foot and lower-leg numbness (for clinicians).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    token_file: Annotated[Path | None, typer.Option(help="File holding the bearer token (else FOOTCDS_TOKEN).")] = None,
    tls_ca: Annotated[str | None, typer.Option(help="CA of the servers' certificates (else FOOTCDS_TLS_CA).")] = None,
    tls_cert: Annotated[str | None, typer.Option(help="mTLS client cert (else FOOTCDS_TLS_CLIENT_CERT).")] = None,
    tls_key: Annotated[str | None, typer.Option(help="Its private key (else FOOTCDS_TLS_CLIENT_KEY).")] = None,
) -> None:
    """FootCDS is decision support for a clinician: it does not diagnose."""
    connect.OPTIONS = connect.ConnectOptions(token_file, tls_ca, tls_cert, tls_key)


def assess_remote(request: encounter_pb2.AssessRequest, address: str, timeout: float) -> encounter_pb2.AssessResponse:
    with connect.open_channel(address) as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        try:
            response: encounter_pb2.AssessResponse = stub.Assess(request, timeout=timeout)
            return response
        except grpc.RpcError as error:
            connect.fail_rpc(error, address)


@app.command()
def assess(
    case: Annotated[Path, typer.Argument(help="Case file (JSON); see README 'Case files'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the assessment as JSON.")] = False,
    local: Annotated[bool, typer.Option("--local", help="Run in-process, without servers or Redis.")] = False,
    fhir: Annotated[bool, typer.Option("--fhir", help="Print the assessment as a FHIR R4B Bundle.")] = False,
    address: Annotated[str, typer.Option(help="Encounter service address.")] = "",
    timeout: Annotated[float, typer.Option(help="Deadline in seconds.")] = 10.0,
) -> None:
    """Assess one case: triage first, then the differential, tests and plan."""
    try:
        request = read_case(case)
        request.include_fhir_bundle = fhir
        if local:
            from services.encounter.handlers import assess_response
            from services.pipeline.local import assess_local

            response = assess_response(assess_local(request), fhir)
        else:
            response = assess_remote(request, address or settings().encounter_addr, timeout)
    except InvalidInput as exc:
        connect.fail_bad_input(str(exc), exc.violations)
    if fhir:
        print(json.dumps(json.loads(response.fhir_bundle_json), indent=2))
    elif as_json:
        print(json.dumps(assessment_json(response.assessment), indent=2))
    else:
        print_assessment(response.assessment, Console())


app.command()(screen)
app.command("audit")(audit_cli.audit)
app.add_typer(roster_app, name="roster")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
