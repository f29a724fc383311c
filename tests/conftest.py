"""Fixtures that start real processes: Redis, the five gRPC services, a Celery worker.

The suite is started once per test session and stopped at the end; tests that need to
break something (stop a service, kill a worker) start their own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from footcds.v1 import encounter_pb2, encounter_pb2_grpc

from devtools.suite import LocalSuite
from services.cli.casefile import case_from_json
from services.worker.app import _NoArgsReprAMQP, broker_transport
from tests.fold_memo import FoldMemo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    running = LocalSuite(log_dir=tmp_path_factory.mktemp("suite"), metrics=True)  # /metrics: conformance
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def encounter(suite: LocalSuite) -> Iterator[encounter_pb2_grpc.EncounterServiceStub]:
    with suite.channel("encounter") as channel:  # carries the suite's developer token
        yield encounter_pb2_grpc.EncounterServiceStub(channel)


def example_request(name: str) -> encounter_pb2.AssessRequest:
    return case_from_json(json.loads((EXAMPLES / f"{name}.json").read_text()))


@pytest.fixture(scope="session")
def gateway(suite: LocalSuite) -> str:
    """The real HTTP gateway (uvicorn, a free port) in front of the session's suite."""
    suite.start_gateway()
    return suite.gateway_url


@pytest.fixture(scope="session")
def tablet_token(suite: LocalSuite) -> str:
    """An enrolled clinic tablet: its own token with only the ``tablet`` scope."""
    return suite.issue_token("tablet-waiting-room-1", ["tablet"])


@pytest.fixture(scope="session")
def staff_token(suite: LocalSuite) -> str:
    """A medical assistant's credential for the staff view (``staff`` scope only)."""
    return suite.issue_token("staff-desk-1", ["staff"])


@pytest.fixture()
def transport_app(suite: LocalSuite) -> Celery:
    """A Celery app on the suite's Redis with FootCDS's transport and serializer, no tasks:
    for tests of what a publish puts on the wire."""
    app = Celery("transport-test", broker=suite.redis_url, backend=suite.redis_url, amqp=_NoArgsReprAMQP)
    app.conf.update(task_serializer="msgpack", broker_transport=broker_transport(suite.redis_url))
    return app


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    """A private copy of the knowledge-base data folder, for tests that edit a file and expect
    the loader to refuse it (the shipped files stay untouched)."""
    from services.knowledge.loader import DATA_DIR

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    return data


@pytest.fixture(scope="session")
def shared_folds() -> Iterator[FoldMemo]:
    """The held-out gates' nested-fold fits, computed once per content for the session
    (tests/fold_memo.py: keyed on the knowledge base, cases and parameters, never stale)."""
    with FoldMemo().installed() as memo:
        yield memo
