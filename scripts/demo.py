"""`make demo`: start the suite, assess every example case through it, stop the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools.suite import LocalSuite

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    suite = LocalSuite()
    print(f"starting the suite (logs in {suite.log_dir}) ...", flush=True)
    try:
        suite.start()
        for case in sorted((ROOT / "examples").glob("*.json")):
            print(f"\n===== {case.name} =====", flush=True)
            run = subprocess.run(
                [sys.executable, "-m", "services.cli.main", "assess", str(case),
                 "--address", suite.address("encounter")],
                cwd=ROOT, env=suite.client_env(),  # the suite's developer token
            )
            if run.returncode != 0:
                return run.returncode
    finally:
        suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
