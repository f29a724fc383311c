"""The FHIR data a hook needs: from the EHR's prefetch, else read from ``fhirServer``.

The spec lets an EHR skip a prefetch (absent or null); the service then reads the data itself
with the ``fhirAuthorization`` access token. With neither, the answer is 412 naming the
missing prefetch keys, never a guess from partial data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from services.gateway.cds_hooks.mapping import entries, latest, mapping
from services.gateway.outcome import HttpProblem, Issue
from services.intake.form import FORM_URL


def _observation_codes() -> str:
    loinc = mapping().systems["loinc"]
    return ",".join(f"{loinc}|{rule.loinc}" for rule in mapping().observations)


# Prefetch templates (the spec's query syntax; {{context.patientId}} is filled by the EHR).
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "intake": ("QuestionnaireResponse?subject=Patient/{{context.patientId}}"
               f"&questionnaire={FORM_URL}&status=completed&_sort=-authored&_count=1"),
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": f"Observation?patient={{{{context.patientId}}}}&code={_observation_codes()}&_sort=-date",
}
FHIR_ACCEPT = {"Accept": "application/fhir+json"}


@dataclass
class PatientData:
    """What the assessment is made from (resources as the EHR sent them)."""

    patient: dict[str, Any]
    intake: dict[str, Any] | None
    conditions: list[dict[str, Any]]
    observations: list[dict[str, Any]]

    @property
    def has_clinical_data(self) -> bool:
        return self.intake is not None or bool(self.conditions) or bool(self.observations)


def fill(template: str, context: dict[str, Any]) -> str:
    out = template
    for key in ("patientId", "userId", "encounterId"):
        out = out.replace("{{context." + key + "}}", str(context.get(key, "")))
    return out


async def _read(client: httpx.AsyncClient, base: str, key: str, query: str, headers: dict[str, str]) -> Any:
    try:
        reply = await client.get(f"{base.rstrip('/')}/{query}", headers=headers)
    except httpx.HTTPError as exc:
        why = f"reading {key} from fhirServer failed: {type(exc).__name__}"
        raise HttpProblem(502, [Issue(f"prefetch.{key}", why)]) from None
    if reply.status_code >= 400:
        status = 412 if reply.status_code < 500 else 502
        why = f"fhirServer answered {reply.status_code} for the {key} query"
        raise HttpProblem(status, [Issue(f"prefetch.{key}", why)])
    try:
        return reply.json()
    except ValueError:
        raise HttpProblem(502, [Issue(f"prefetch.{key}", f"fhirServer's {key} answer is not JSON")]) from None


async def gather(request: dict[str, Any], timeout: float) -> PatientData:
    """The prefetch, completed from ``fhirServer`` where missing; 412 when it cannot be."""
    prefetch = request.get("prefetch") or {}
    context = request.get("context") or {}
    found: dict[str, Any] = {k: prefetch[k] for k in PREFETCH if prefetch.get(k) is not None}
    missing = [k for k in PREFETCH if k not in found]
    server = request.get("fhirServer")
    if missing and not server:
        raise HttpProblem(412, [Issue(f"prefetch.{k}", f"prefetch {k!r} missing and no fhirServer to read it from")
                                for k in missing])
    if missing:
        auth = request.get("fhirAuthorization") or {}
        headers = dict(FHIR_ACCEPT)
        if auth.get("access_token"):
            headers["Authorization"] = f"Bearer {auth['access_token']}"
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            read = await asyncio.gather(*(_read(client, str(server), k, fill(PREFETCH[k], context), headers)
                                          for k in missing))
        found.update(zip(missing, read, strict=True))
    patients = entries(found["patient"], "Patient")
    if not patients:
        raise HttpProblem(412, [Issue("prefetch.patient", "no Patient resource in the patient prefetch")])
    return PatientData(
        patient=patients[0],
        intake=latest(entries(found["intake"], "QuestionnaireResponse")),
        conditions=entries(found["conditions"], "Condition"),
        observations=entries(found["observations"], "Observation"),
    )
