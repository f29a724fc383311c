"""Every surface names triage levels in the knowledge base's words (triage.yaml ``labels``), issue 14.

A knowledge base whose triage.yaml says something else (a copy with every label rewritten,
loaded and validated by the real loader) changes what each surface shows: the CLI panel, the
team report, the CDS Hooks cards and clinician page, the FHIR note and the staff pages.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from footcds.v1 import common_pb2, encounter_pb2
from rich.console import Console

from services.cli.render import assessment_json, print_assessment
from services.cli.report import render_report
from services.encounter.fhir import assessment_bundle
from services.gateway.cds_hooks.cards import detail, summary
from services.gateway.cds_hooks.view import assessment_html
from services.gateway.tablet.staff_render import intake_detail, intake_list
from services.gateway.tablet.store import IntakeRecord
from services.knowledge.clinical import TRIAGE_ORDER
from services.knowledge.loader import DATA_DIR, KnowledgeBase, knowledge_base, load_knowledge_base
from services.knowledge.models import TriageSurface
from services.pipeline.local import assess_local
from services.wire.convert import TRIAGE_TO_PB
from tests.conftest import example_request

SURFACES: tuple[str, ...] = get_args(TriageSurface)


def relabelled(level: str, surface: str) -> str:
    return f"Zq {surface} {level}"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The real data with every triage label rewritten (``relabelled``)."""
    data = tmp_path_factory.mktemp("kb") / "data"
    shutil.copytree(DATA_DIR, data)
    triage = yaml.safe_load((data / "triage.yaml").read_text())
    for level in triage["levels"]:
        level["labels"] = {surface: relabelled(level["id"], surface) for surface in SURFACES}
    (data / "triage.yaml").write_text(yaml.safe_dump(triage, sort_keys=False))
    return load_knowledge_base(Path(data), check_codes=False)


@pytest.fixture(scope="module")
def answers() -> dict[str, encounter_pb2.Assessment]:
    """Real assessments (in-process pipeline) at three triage levels."""
    out = {}
    for name, level in (("cauda_equina_emergency", "emergency"), ("mortons_neuroma", "routine"),
                        ("tight_laces_runner", "self_care")):
        out[level] = assess_local(example_request(name))
    return out


def test_the_shipped_labels_cover_every_level_and_surface() -> None:
    real = knowledge_base()
    for level in real.triage_levels:
        for surface in SURFACES:
            assert real.triage_label(level, surface).strip()  # type: ignore[arg-type]
    assert real.triage_label("no_such_level", "card", "fallback") == "fallback"


def test_the_terminal_panel(kb: KnowledgeBase, answers: dict[str, encounter_pb2.Assessment]) -> None:
    for level, answer in answers.items():
        console = Console(record=True, width=200)
        print_assessment(answer, console, kb)
        assert f"TRIAGE: {relabelled(level, 'console')}" in console.export_text()


def test_the_team_report(kb: KnowledgeBase) -> None:
    levels = [(TRIAGE_TO_PB[level], level) for level in TRIAGE_ORDER]
    team = encounter_pb2.TeamSummary(
        total=4, screened=4,
        by_triage=[encounter_pb2.TriageCount(level=n, count=1) for n, _ in levels],
        follow_up=[encounter_pb2.FollowUp(row_number=1, athlete_ref="a1", triage=common_pb2.TRIAGE_LEVEL_EMERGENCY,
                                          leading_condition_id="x")],
    )
    page = render_report(team, [], {}, kb_version=kb.version, disclaimer=kb.disclaimer, kb=kb)
    for _, level in levels:
        assert f">{relabelled(level, 'report')}</text>" in page  # the chart's axis
    assert f">{relabelled('emergency', 'report')}</td>" in page  # the follow-up table


def test_the_cds_hooks_cards_and_clinician_page(
    kb: KnowledgeBase, answers: dict[str, encounter_pb2.Assessment]
) -> None:
    for level, answer in answers.items():
        assert summary(answer, kb).startswith(relabelled(level, "card"))
        assert detail(answer, kb).startswith(f"**Triage: {relabelled(level, 'card')}**")
        page = assessment_html("ref-1", assessment_json(answer), kb)
        assert f"<h2>Triage: {relabelled(level, 'clinician_view')}</h2>" in page


def test_the_fhir_note(kb: KnowledgeBase, answers: dict[str, encounter_pb2.Assessment]) -> None:
    for level, answer in answers.items():
        bundle = assessment_bundle(answer, kb)
        [risk] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]
        assert risk["note"][0]["text"].startswith(f"Triage: {relabelled(level, 'record')}.")


def test_the_staff_pages(kb: KnowledgeBase, answers: dict[str, encounter_pb2.Assessment]) -> None:
    def record(level: str) -> IntakeRecord:
        answer = answers[level]
        data: dict[str, Any] = {"triage": {"reasons": list(answer.triage.reasons), "advice": answer.triage.advice}}
        return IntakeRecord(ref=f"r-{level}", completed_at=0.0, device="t1", triage=int(answer.triage.level),
                            emergency=False, alert="", red_flags=[], questions=3, kb_version=kb.version,
                            assessment=data)

    listed = intake_list([record(level) for level in answers], "2026-01-01", kb)
    for level in answers:
        assert f">{relabelled(level, 'record')}</span>" in listed
    assert f">{relabelled('routine', 'record')}</span>" in intake_detail(record("routine"), kb)
