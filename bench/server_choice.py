"""Thread-pool ``grpc.server`` vs ``grpc.aio`` on a bare echo, each server in its own process.

``make bench`` measures this on every full run (figures ``ceiling.grpc_echo*``); this
script measures only it:  .venv/bin/python -m bench.server_choice [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import ceilings, procs
from bench.harness import Collector, Params, run_rounds
from bench.report import table
from devtools.suite import LocalSuite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_choice", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    params = Params.make(args.quick)
    # Only for its process table and log directory: no Redis, no services.
    holder = LocalSuite(log_dir=Path(tempfile.mkdtemp(prefix="footcds-server-choice-")), auth=False)
    try:
        keys = [procs.start_echo(holder, kind) for kind in ("sync", "aio")]
        for key in keys:
            procs.wait_echo(holder, key)
        probes = [
            ceilings.echo_probe(holder.address("echo-sync"), "ceiling.grpc_echo"),
            ceilings.echo_probe(holder.address("echo-aio"), "ceiling.grpc_echo_aio"),
        ]
        rounds = run_rounds(probes, params)
    finally:
        holder.stop()
    out = Collector()
    ceilings.echo_figures(rounds, out, aio=True)
    print()
    print(table(out.figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
