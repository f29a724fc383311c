"""The CLI's handling of bad case files: a clear message naming the field, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"patient": {"age": 30}, "evidence": [', "not valid JSON"),
        ("[1, 2]", "the case must be a JSON object"),
        (json.dumps({"evidence": [{"id": "loc_moon", "state": "present"}]}), "evidence[0].finding_id"),
        (json.dumps({"patient": {"age": -3}, "evidence": [{"id": "loc_sole", "state": "present"}]}),
         "patient.age_years"),
        (json.dumps({"evidence": [{"id": "loc_sole"}]}), "evidence[0].state"),
        (json.dumps({"evidence": [{"id": "loc_sole", "state": "maybe"}]}), "evidence[0].state"),
        (json.dumps({"evidence": []}), "evidence"),
        (json.dumps({"patient": {"age": "old"}, "evidence": [{"id": "loc_sole", "state": "present"}]}),
         "patient.age"),
        ("\udcff", "cannot read"),
    ],
    ids=["truncated", "not-object", "unknown-finding", "age-minus-3", "missing-state", "bad-state",
         "empty", "age-string", "not-utf8"],
)
def test_bad_case_file_exits_2_with_the_field_named(tmp_path: Path, content: str, expected: str) -> None:
    case = tmp_path / "case.json"
    if content == "\udcff":
        case.write_bytes(b"\xff\xfe\x00garbage")
    else:
        case.write_text(content)
    run = run_cli("assess", str(case), "--local")
    assert run.returncode == 2, run.stdout + run.stderr
    assert expected in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    run = run_cli("assess", str(tmp_path / "nope.json"), "--local")
    assert run.returncode == 2
    assert "cannot read" in run.stderr and "Traceback" not in run.stderr


def test_unreachable_suite_is_a_clear_error() -> None:
    run = run_cli("assess", str(ROOT / "examples" / "tight_laces_runner.json"), "--address", "127.0.0.1:1",
                  "--timeout", "1")
    assert run.returncode == 3
    assert "UNAVAILABLE" in run.stderr and "make run" in run.stderr


def test_local_human_output_leads_with_triage() -> None:
    run = run_cli("assess", str(ROOT / "examples" / "cauda_equina_emergency.json"), "--local")
    assert run.returncode == 0, run.stderr
    assert run.stdout.index("TRIAGE: EMERGENCY") < run.stdout.index("Differential")
    assert "decision support" in run.stdout


def test_fhir_output_is_a_valid_r4b_bundle() -> None:
    import json

    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.servicerequest import ServiceRequest

    from tests.fhir_support import resources_of

    run = run_cli("assess", str(ROOT / "examples" / "mortons_neuroma.json"), "--local", "--fhir")
    assert run.returncode == 0, run.stderr
    bundle = Bundle.model_validate(json.loads(run.stdout))
    conditions = resources_of(bundle, Condition)
    codes: set[str] = set()
    for cond in conditions:
        assert cond.code is not None and cond.code.coding is not None, "a Condition without a coded diagnosis"
        codes |= {c.code or "" for c in cond.code.coding}
    assert any(code.startswith("G57.6") for code in codes)
    requests = resources_of(bundle, ServiceRequest)
    assert requests and requests[0].intent == "proposal"
