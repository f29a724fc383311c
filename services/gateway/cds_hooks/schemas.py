"""The JSON Schemas of CDS Hooks 2.0 (schemas/*.json, written from the spec's tables).

Requests and feedback are checked on the way in (400 with an OperationOutcome naming the
field, e.g. ``context.patientId``); the tests check every response against the same files.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource

from services.gateway.outcome import HttpProblem, Issue

SCHEMAS = Path(__file__).resolve().parent / "schemas"
NAMES = ("common", "discovery", "request", "response", "feedback")
formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None or "T" not in value:
            raise ValueError("a date-time needs a date, a time and a zone")
    return True


@formats.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    if isinstance(value, str) and not urlparse(value).scheme:
        raise ValueError("not an absolute URI")
    return True


@cache
def _documents() -> dict[str, dict[str, Any]]:
    return {name: json.loads((SCHEMAS / f"{name}.json").read_text()) for name in NAMES}


@cache
def validator(name: str) -> Draft202012Validator:
    docs = _documents()
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs.values()
    )
    return Draft202012Validator(docs[name], registry=registry, format_checker=formats)


def path_of(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problems(name: str, document: Any) -> list[Issue]:
    return [Issue(path_of(e.absolute_path), e.message)
            for e in sorted(validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def check(name: str, document: Any) -> None:
    """400 naming every offending field, or nothing."""
    found = problems(name, document)
    if found:
        raise HttpProblem(400, found[:20])
