"""The checker behind `make compose-scale` (scripts/compose_scale_check.py), without a container engine.

The proof itself needs podman and minutes (deploy/README.md "Scaling"); what is tested here is
that the checker cannot pass vacuously: it reads the counters a replica really exports, leaves
health checks out, and flags a duplicated, missing, rejected or altered athlete.
"""

from __future__ import annotations

import collections
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from footcds.v1 import encounter_pb2
from prometheus_client import CollectorRegistry, Counter, generate_latest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compose_scale_check", ROOT / "scripts" / "compose_scale_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def exported(rpcs: dict[tuple[str, str, str], int], tasks: dict[tuple[str, str], int]) -> str:
    """/metrics text with the same metric names and labels as services.platform.metrics."""
    registry = CollectorRegistry()
    handled = Counter("footcds_grpc_server_handled_total", "", ["grpc_service", "grpc_method", "grpc_code"],
                      registry=registry)
    done = Counter("footcds_celery_tasks_total", "", ["task", "state"], registry=registry)
    for labels, n in rpcs.items():
        handled.labels(*labels).inc(n)
    for task_labels, n in tasks.items():
        done.labels(*task_labels).inc(n)
    return generate_latest(registry).decode()


def test_served_counts_calls_by_method_without_health_checks(checker: ModuleType) -> None:
    text = exported(
        {("footcds.v1.IntakeService", "NormalizeIntake", "OK"): 7,
         ("footcds.v1.IntakeService", "NormalizeIntakeBatch", "OK"): 3,
         ("footcds.v1.IntakeService", "NormalizeIntake", "UNAVAILABLE"): 1,
         ("grpc.health.v1.Health", "Check", "OK"): 40},
        {("footcds.assess.pipeline", "success"): 5},
    )
    counts = checker.served(text)
    assert counts["IntakeService/NormalizeIntake OK"] == 7
    assert not any("Health" in key for key in counts)
    assert counts["footcds.assess.pipeline success"] == 5
    intake = collections.Counter({k: n for k, n in counts.items() if k.startswith("IntakeService/")})
    assert checker.split(intake) == (8, 3, 1)  # single-case calls, batch calls, calls not OK


def test_a_replica_that_served_nothing_shows_zero(checker: ModuleType) -> None:
    idle = checker.served(exported({("grpc.health.v1.Health", "Check", "OK"): 12}, {}))
    assert sum(idle.values()) == 0


@pytest.fixture(scope="module")
def screened(checker: ModuleType) -> tuple[Any, dict[str, bytes]]:
    roster = checker.make_roster(6, seed=3)
    return roster, checker.local_reference(roster)


def run_of(checker: ModuleType, results: list[encounter_pb2.AthleteResult]) -> Any:
    screened_count = sum(1 for r in results if r.status == encounter_pb2.ATHLETE_STATUS_SCREENED)
    summary = encounter_pb2.TeamSummary(total=len(results), screened=screened_count)
    return checker.RosterRun("scr_x", results, summary, encounter_pb2.SCREENING_STATE_DONE, 1.0)


def results_of(reference: dict[str, bytes]) -> list[encounter_pb2.AthleteResult]:
    return [encounter_pb2.AthleteResult.FromString(raw) for raw in reference.values()]


Screened = tuple[Any, dict[str, bytes]]


def test_exactly_once_accepts_the_roster_as_screened_in_process(checker: ModuleType, screened: Screened) -> None:
    roster, reference = screened
    report = checker.exactly_once(roster, run_of(checker, results_of(reference)), reference)
    assert report["ok"], report
    assert report["results"] == report["roster_rows"] == 6


def test_exactly_once_flags_a_duplicate_a_gap_a_rejection_and_a_changed_answer(
    checker: ModuleType, screened: Screened
) -> None:
    roster, reference = screened
    results = results_of(reference)

    duplicated = checker.exactly_once(roster, run_of(checker, [*results, results[2]]), reference)
    assert not duplicated["ok"] and duplicated["duplicate_athletes"] == 1 and duplicated["duplicate_rows"] == 1

    missing = checker.exactly_once(roster, run_of(checker, results[1:]), reference)
    assert not missing["ok"] and missing["missing"] == 1

    rejected = [*results]
    rejected[0] = encounter_pb2.AthleteResult(athlete_ref=results[0].athlete_ref, row_number=1,
                                              status=encounter_pb2.ATHLETE_STATUS_REJECTED)
    report = checker.exactly_once(roster, run_of(checker, rejected), reference)
    assert not report["ok"] and report["not_screened"] == 1

    changed = [*results]
    changed[3] = encounter_pb2.AthleteResult()
    changed[3].CopyFrom(results[3])
    changed[3].first_test_id = "something_else"
    report = checker.exactly_once(roster, run_of(checker, changed), reference)
    assert not report["ok"] and report["differs_from_local"] == 1
    assert report["first_difference"].startswith(f"{results[3].athlete_ref}: first_test_id: 'something_else' here")

    unfinished = run_of(checker, results)
    unfinished.state = encounter_pb2.SCREENING_STATE_FAILED
    assert not checker.exactly_once(roster, unfinished, reference)["ok"]


def test_a_probability_one_ulp_off_is_a_changed_answer_and_named(checker: ModuleType, screened: Screened) -> None:
    """The sixth pass's defect: probabilities a few ulps off, depending on the chunk's size."""
    roster, reference = screened
    results = results_of(reference)
    nudged = encounter_pb2.AthleteResult()
    nudged.CopyFrom(results[1])
    leader = nudged.top_conditions[0]
    leader.probability = float(np.nextafter(leader.probability, 1.0))
    report = checker.exactly_once(roster, run_of(checker, [results[0], nudged, *results[2:]]), reference)
    assert not report["ok"] and report["differs_from_local"] == 1
    assert f"top_conditions[0].probability ({leader.condition_id})" in report["first_difference"]
    assert report["first_difference"].endswith("local (1 ulps)")
    assert "first_difference" not in checker.exactly_once(roster, run_of(checker, results), reference)
