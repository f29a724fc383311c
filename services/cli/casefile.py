"""Read a case file (JSON) into an AssessRequest, naming the field of every problem.

Format (README, "Case files"):
  {"patient": {"age": 34, "sex": "female", "activity": "runner"},
   "evidence": [{"id": "loc_dorsum_foot", "state": "present"}, ...],
   "answers": [{"question": "q_where", "options": ["dorsum"]}]}
Shape problems are caught here; meaning (unknown ids, impossible ages) is checked by the
intake service, so the CLI and the gRPC API reject the same cases with the same messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from footcds.v1 import common_pb2, encounter_pb2

from services.platform.errors import InvalidInput, Violation
from services.wire.convert import SETTING_TO_PB, SEX_TO_PB

STATES = {
    "present": common_pb2.EVIDENCE_STATE_PRESENT,
    "absent": common_pb2.EVIDENCE_STATE_ABSENT,
    "unknown": common_pb2.EVIDENCE_STATE_UNKNOWN,
}
PATIENT_KEYS = {"ref", "age", "sex", "activity", "setting", "context_flags", "days_to_competition"}


def _int(value: Any, where: str, problems: list[Violation]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(Violation(where, f"must be a whole number, got {value!r}"))
        return None
    if not -(2**31) <= value < 2**31:
        problems.append(Violation(where, f"out of range: {value}"))
        return None
    return value


def patient_from_json(raw: Any, where: str, problems: list[Violation]) -> common_pb2.PatientContext:
    patient = common_pb2.PatientContext()
    if raw is None:
        return patient
    if not isinstance(raw, dict):
        problems.append(Violation(where, "must be an object"))
        return patient
    for key in sorted(set(raw) - PATIENT_KEYS):
        problems.append(Violation(f"{where}.{key}", f"unknown field; expected one of {sorted(PATIENT_KEYS)}"))
    if "ref" in raw:
        patient.patient_ref = str(raw["ref"])
    if raw.get("age") is not None and (age := _int(raw["age"], f"{where}.age", problems)) is not None:
        patient.age_years = age
    if raw.get("sex") is not None:
        if not isinstance(raw["sex"], str) or raw["sex"] not in SEX_TO_PB:
            problems.append(Violation(f"{where}.sex", f"must be one of {sorted(SEX_TO_PB)}"))
        else:
            patient.sex = SEX_TO_PB[raw["sex"]]
    if raw.get("setting") is not None:
        if not isinstance(raw["setting"], str) or raw["setting"] not in SETTING_TO_PB:
            problems.append(Violation(f"{where}.setting", f"must be one of {sorted(SETTING_TO_PB)}"))
        else:
            patient.setting = SETTING_TO_PB[raw["setting"]]
    patient.activity = str(raw.get("activity") or "")
    flags = raw.get("context_flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        problems.append(Violation(f"{where}.context_flags", "must be a list of strings"))
    else:
        patient.context_flags.extend(flags)
    if raw.get("days_to_competition") is not None:
        days = _int(raw["days_to_competition"], f"{where}.days_to_competition", problems)
        if days is not None:
            patient.days_to_competition = days
    return patient


def evidence_from_json(raw: Any, where: str, problems: list[Violation]) -> list[common_pb2.Evidence]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Violation(where, "must be a list of {id, state} objects"))
        return []
    out = []
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            problems.append(Violation(here, "must be an object with 'id' and 'state'"))
            continue
        finding_id = item.get("id")
        if not isinstance(finding_id, str) or not finding_id:
            problems.append(Violation(f"{here}.id", "a finding id (string) is required"))
            continue
        state = item.get("state")
        if state is not None and (not isinstance(state, str) or state not in STATES):
            problems.append(Violation(f"{here}.state", f"must be one of {sorted(STATES)}, got {state!r}"))
            continue
        out.append(
            common_pb2.Evidence(
                finding_id=finding_id,
                state=STATES.get(state, common_pb2.EVIDENCE_STATE_UNSPECIFIED),  # type: ignore[arg-type]
            )
        )
    return out


def answers_from_json(
    raw: Any, where: str, problems: list[Violation]
) -> list[common_pb2.QuestionnaireAnswer]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Violation(where, "must be a list of {question, options} objects"))
        return []
    out = []
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            problems.append(Violation(f"{here}.question", "a question id (string) is required"))
            continue
        options = item.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            problems.append(Violation(f"{here}.options", "must be a list of option ids"))
            continue
        out.append(common_pb2.QuestionnaireAnswer(question_id=item["question"], option_ids=options))
    return out


def case_from_json(raw: Any) -> encounter_pb2.AssessRequest:
    problems: list[Violation] = []
    if not isinstance(raw, dict):
        raise InvalidInput([Violation("(case)", "the case must be a JSON object")], "the case file is invalid")
    for key in sorted(set(raw) - {"patient", "evidence", "answers"}):
        problems.append(Violation(key, "unknown field; expected patient, evidence, answers"))
    try:  # JSON escapes can spell lone surrogates ("\ud800"), which no protobuf string holds
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput([Violation("(case)", "contains text that is not valid Unicode (a lone \\u surrogate)")],
                           "the case file is invalid") from None
    request = encounter_pb2.AssessRequest(
        patient=patient_from_json(raw.get("patient"), "patient", problems),
        evidence=evidence_from_json(raw.get("evidence"), "evidence", problems),
        answers=answers_from_json(raw.get("answers"), "answers", problems),
    )
    if problems:
        raise InvalidInput(problems, "the case file is invalid")
    return request


def read_case(path: Path) -> encounter_pb2.AssessRequest:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Violation("(file)", f"cannot read {path}: {exc.__class__.__name__}")]) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [Violation("(file)", f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
            "the case file is invalid",
        ) from None
    return case_from_json(raw)
