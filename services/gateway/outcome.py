"""FHIR OperationOutcome errors: every refused HTTP call says what was wrong and where.

The gateway answers bad input with 400 and an OperationOutcome whose issues each name the
item (a FHIRPath ``expression`` such as ``QuestionnaireResponse.item[2]``), the same promise the
gRPC services keep with google.rpc.BadRequest field violations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

FHIR_JSON = "application/fhir+json"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# HTTP status -> OperationOutcome.issue.code (http://hl7.org/fhir/issue-type)
_ISSUE_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 409: "conflict",
               412: "business-rule", 413: "too-costly", 415: "not-supported", 422: "processing",
               429: "throttled", 503: "transient", 504: "timeout"}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where (a FHIRPath into the request, may be empty) and what, in words."""

    expression: str
    diagnostics: str


class HttpProblem(Exception):
    """Raised anywhere in a request; the app turns it into an OperationOutcome response."""

    def __init__(self, status: int, issues: Iterable[Issue], headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.issues = list(issues) or [Issue("", "request refused")]
        self.headers = headers or {}
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in self.issues))


def bad_input(expression: str, diagnostics: str) -> HttpProblem:
    return HttpProblem(400, [Issue(expression, diagnostics)])


def operation_outcome(status: int, issues: Iterable[Issue]) -> dict[str, Any]:
    code = _ISSUE_CODE.get(status, "exception")
    severity = "error" if status < 500 else "fatal"
    out: list[dict[str, Any]] = []
    for issue in issues:
        entry: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": issue.diagnostics}
        if issue.expression:
            entry["expression"] = [issue.expression]
        out.append(entry)
    return {"resourceType": "OperationOutcome", "issue": out}


def problem_response(problem: HttpProblem) -> JSONResponse:
    return JSONResponse(operation_outcome(problem.status, problem.issues), status_code=problem.status,
                        media_type=FHIR_JSON, headers={**NO_STORE, **problem.headers})


async def handle_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HttpProblem)
    return problem_response(exc)
