"""The worker's /metrics sums its process files; a scrape while a file is being created still answers.

A restarted worker creates its metric files as it counts its first task; prometheus-client
creates each file empty and sizes it a moment later, and a scrape in that moment failed with
HTTP 500 (``tests/test_resilience.py`` reads task counts from a restarted worker's /metrics and
met it). The files here are written by real prometheus-client metrics in a child process.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from devtools.suite import free_port
from services.platform.metrics import multiprocess_registry, serve_metrics

_COUNT_ONE_TASK = """
from prometheus_client import Counter
Counter("footcds_celery_tasks", "tasks", ["task", "state"]).labels("footcds.assess.pipeline", "success").inc()
"""


def _count_one_task_in_another_process(directory: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", _COUNT_ONE_TASK], env=env, check=True)


def test_a_file_being_created_is_skipped_and_the_settled_ones_are_summed(tmp_path: Path) -> None:
    _count_one_task_in_another_process(tmp_path)
    (tmp_path / "counter_999999.db").touch()  # another process's file, created and not yet sized
    text = generate_latest(multiprocess_registry(str(tmp_path))).decode()
    assert 'footcds_celery_tasks_total{state="success",task="footcds.assess.pipeline"} 1.0' in text


def test_the_served_endpoint_answers_during_the_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _count_one_task_in_another_process(tmp_path)
    (tmp_path / "histogram_999999.db").touch()
    port = free_port()
    with monkeypatch.context() as patched:
        patched.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        serve_metrics(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert b'task="footcds.assess.pipeline"' in response.read()
