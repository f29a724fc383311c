"""buf lint (STANDARD) and buf breaking (FILE) against the first published v1 (80e399b).

Integrators who built on v1 must keep working: a change that breaks the wire or the
generated code of v1 fails here, as it fails `make lint`. The buf binary comes from npm
(`make buf`); the tests are skipped, saying so, only when it is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "node_modules" / ".bin" / "buf"
FIRST_V1 = "80e399b"
CLONE_DEPTH = 100_000  # the whole history: `make lint` passes the same depth

pytestmark = pytest.mark.skipif(not BUF.exists(), reason="the buf CLI is not installed: run `make buf` (needs npm)")


def buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def against() -> str:
    if subprocess.run(["git", "cat-file", "-e", f"{FIRST_V1}^{{commit}}"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip(f"commit {FIRST_V1} is not in this clone (shallow?): buf breaking has nothing to compare with")
    # buf clones only the last 50 commits for a ref unless told a depth: v1 is older than that.
    return f"{ROOT}/.git#ref={FIRST_V1},depth={CLONE_DEPTH},subdir=protos"


def test_buf_lint_is_clean() -> None:
    run = buf("lint")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_protos_are_wire_compatible_with_the_first_v1() -> None:
    run = buf("breaking", "--against", against())
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_breaking_change_is_caught(tmp_path: Path) -> None:
    """The check can fail: renumbering a field of a copy of the protos is reported by name."""
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    common = tmp_path / "protos" / "footcds" / "v1" / "common.proto"
    text = common.read_text()
    assert "  optional int32 age_years = 2 [" in text
    common.write_text(text.replace("  optional int32 age_years = 2 [", "  optional int32 age_years = 22 ["))
    run = buf("breaking", "--against", against(), cwd=tmp_path)
    assert run.returncode != 0
    assert "age_years" in run.stdout + run.stderr or "PatientContext" in run.stdout + run.stderr
