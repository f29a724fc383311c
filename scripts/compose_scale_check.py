"""`make compose-scale`'s checker: replicas of a running compose stack really share the load.

Run by scripts/compose_scale.sh against a stack started with two replicas of each domain
service and three workers. From the host it talks to the published encounter port with the
project's own gRPC stubs, and reads each replica's Prometheus counters through the container
engine (``<engine> exec <container>``: port 9100 is only exposed on the internal network):

1. a few hundred Assess calls and a synthetic roster (``footcds roster synth``), then, from
   every replica's counters, the calls each one served: every domain replica must have
   served calls and every worker must have run tasks;
2. a second roster; once a tenth of it is done one domain replica is stopped, and the roster
   must still come back with every athlete screened exactly once (one result per roster
   row, no duplicates, none missing, none rejected or failed), each result identical to the
   same athlete screened in-process (``--local``), and the stopped replica's sibling must
   have carried on serving.

Prints the per-replica figures and exits 1 when any check fails; ``--json`` also writes them.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from footcds.v1 import encounter_pb2, encounter_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from services.cli.casefile import read_case
from services.cli.roster import Roster, parse_roster, synthesize, write_roster
from services.cli.screen import screen_local
from services.knowledge.loader import knowledge_base
from services.platform.config import settings
from services.platform.tls import dial

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("intake", "differential", "workup", "treatment")
SCREENED = encounter_pb2.ATHLETE_STATUS_SCREENED
READ_METRICS = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=10).read().decode())"
)

Counts = Counter[str]


@dataclass(frozen=True)
class Replica:
    service: str
    container: str  # the engine's container id
    name: str  # e.g. footcdsscale_intake_2


class Engine:
    """The few container-engine operations the check needs, through docker-compose and the CLI."""

    def __init__(self, compose: Sequence[str], cli: str) -> None:
        self.compose = list(compose)
        self.cli = cli

    def _run(self, args: Sequence[str], timeout: float = 60) -> str:
        done = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:4])} ... failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return done.stdout

    def replicas(self, service: str) -> list[Replica]:
        ids = self._run([*self.compose, "ps", "-q", service]).split()
        out = []
        for cid in ids:
            name = self._run([self.cli, "inspect", "--format", "{{.Name}}", cid]).strip().lstrip("/")
            out.append(Replica(service, cid, name))
        return sorted(out, key=lambda r: r.name)

    def metrics(self, replica: Replica) -> str:
        return self._run([self.cli, "exec", replica.container, "python", "-c", READ_METRICS])

    def signal(self, replica: Replica, hard: bool = False) -> None:
        """SIGTERM (the server stops taking calls, drains those in flight and exits) or, ``hard``,
        SIGKILL; returns once the signal is sent, not when the replica has exited."""
        self._run([self.cli, "kill", "--signal", "KILL" if hard else "TERM", replica.container])

    def stop(self, replica: Replica, hard: bool = False) -> None:
        """``stop``: SIGTERM, the server drains its calls (grace) and exits; ``hard``: SIGKILL.
        Either way the engine then counts it as stopped by hand (no restart)."""
        self._run([self.cli, "kill", replica.container] if hard else [self.cli, "stop", replica.container],
                  timeout=120)


def served(metrics_text: str) -> Counts:
    """Calls a replica handled, by method (health checks left out), or tasks by name and state."""
    counts: Counts = Counter()
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "footcds_grpc_server_handled_total":
                service = sample.labels["grpc_service"]
                if service.startswith("grpc.health."):
                    continue
                key = f"{service.rsplit('.', 1)[-1]}/{sample.labels['grpc_method']} {sample.labels['grpc_code']}"
                counts[key] += int(sample.value)
            elif sample.name == "footcds_celery_tasks_total":
                counts[f"{sample.labels['task']} {sample.labels['state']}"] += int(sample.value)
    return counts


def snapshot(engine: Engine, replicas: Sequence[Replica]) -> dict[str, Counts]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(engine.metrics, replicas))
    return {r.name: served(t) for r, t in zip(replicas, texts, strict=True)}


def delta(after: dict[str, Counts], before: dict[str, Counts]) -> dict[str, Counts]:
    return {name: after[name] - before.get(name, Counter()) for name in after}


def split(counts: Counts) -> tuple[int, int, int]:
    """(single-case calls, batch calls, calls not OK) for a domain replica."""
    single = sum(n for k, n in counts.items() if not k.split(" ")[0].endswith("Batch"))
    batch = sum(n for k, n in counts.items() if k.split(" ")[0].endswith("Batch"))
    bad = sum(n for k, n in counts.items() if not k.endswith(" OK"))
    return single, batch, bad


# --- load -------------------------------------------------------------------------------------


def assess_many(stub: encounter_pb2_grpc.EncounterServiceStub, calls: int, parallel: int) -> tuple[int, Counts, float]:
    """``calls`` Assess calls over the example cases, ``parallel`` at a time: (ok, errors, s)."""
    cases = [read_case(p) for p in sorted((ROOT / "examples").glob("*.json"))]
    errors: Counts = Counter()

    def one(i: int) -> bool:
        try:
            stub.Assess(cases[i % len(cases)], timeout=120)
            return True
        except grpc.RpcError as exc:
            errors[str(exc.code().name)] += 1
            return False

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        ok = sum(pool.map(one, range(calls)))
    return ok, errors, time.perf_counter() - started


def make_roster(athletes: int, seed: int) -> Roster:
    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), athletes, seed), text)
    roster = parse_roster(text.getvalue())
    if roster.rejected or len(roster.entries) != athletes:
        raise RuntimeError(f"the synthetic roster has {len(roster.rejected)} rows rejected while reading")
    return roster


@dataclass
class RosterRun:
    screening_id: str
    results: list[encounter_pb2.AthleteResult]
    summary: encounter_pb2.TeamSummary
    state: int
    seconds: float
    message: str = ""


def run_roster(
    stub: encounter_pb2_grpc.EncounterServiceStub,
    roster: Roster,
    label: str,
    timeout: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> RosterRun:
    """SubmitScreening, WatchScreening to the end, then GetScreeningResults and the summary."""
    started = time.perf_counter()
    request = encounter_pb2.SubmitScreeningRequest(
        idempotency_key=f"compose-scale-{uuid.uuid4()}", athletes=roster.entries, team_label=label
    )
    submitted = stub.SubmitScreening(request, timeout=60)
    last: encounter_pb2.WatchScreeningResponse | None = None
    watch = encounter_pb2.WatchScreeningRequest(screening_id=submitted.screening_id)
    for update in stub.WatchScreening(watch, timeout=timeout):
        last = update
        if on_progress is not None:
            on_progress(update.done, update.total)
    state = last.state if last is not None else encounter_pb2.SCREENING_STATE_UNSPECIFIED
    seconds = time.perf_counter() - started
    if state != encounter_pb2.SCREENING_STATE_DONE:
        return RosterRun(submitted.screening_id, [], encounter_pb2.TeamSummary(), state, seconds,
                         last.message if last is not None else "no progress")
    ask = encounter_pb2.GetScreeningResultsRequest(screening_id=submitted.screening_id)
    results = [r.result for r in stub.GetScreeningResults(ask, timeout=timeout)]
    summary = stub.GetScreeningSummary(
        encounter_pb2.GetScreeningSummaryRequest(screening_id=submitted.screening_id), timeout=timeout
    ).summary
    return RosterRun(submitted.screening_id, results, summary, state, seconds)


def difference(got: encounter_pb2.AthleteResult, want: encounter_pb2.AthleteResult) -> str:
    """The first field where a result differs from the local one, for the failure message
    (a float as its distance in ulps: the sixth pass's defect showed as a few ulps)."""
    for name in ("athlete_ref", "row_number", "status", "violations", "triage", "triage_reasons",
                 "first_test_id", "plan_highlights"):
        if getattr(got, name) != getattr(want, name):
            return f"{name}: {getattr(got, name)!r} here, {getattr(want, name)!r} local"
    for i, (g, w) in enumerate(zip(got.top_conditions, want.top_conditions, strict=False)):
        if g.condition_id != w.condition_id or g.unlikely != w.unlikely:
            return f"top_conditions[{i}]: {g.condition_id} here, {w.condition_id} local"
        if g.probability != w.probability:
            ulps = abs(int(np.float64(g.probability).view(np.int64)) - int(np.float64(w.probability).view(np.int64)))
            return f"top_conditions[{i}].probability ({w.condition_id}): {g.probability!r} here, " \
                   f"{w.probability!r} local ({ulps} ulps)"
    if len(got.top_conditions) != len(want.top_conditions):
        return f"top_conditions: {len(got.top_conditions)} here, {len(want.top_conditions)} local"
    return "another field (compare the two messages)"


def exactly_once(roster: Roster, run: RosterRun, reference: dict[str, bytes]) -> dict[str, Any]:
    """One screened result per roster row, no duplicates, none missing, each as screened locally:
    byte for byte, although the reference is screened in chunks of another size than the stack's
    (``local_reference``): an athlete's result must not depend on the athletes beside it."""
    expected = [e.athlete_ref for e in roster.entries]
    seen = Counter(r.athlete_ref for r in run.results)
    rows = Counter(r.row_number for r in run.results)
    by_ref = {r.athlete_ref: r for r in run.results}
    differing = [ref for ref in expected
                 if ref in by_ref and by_ref[ref].SerializeToString(deterministic=True) != reference[ref]]
    report = {
        "state": encounter_pb2.ScreeningState.Name(run.state),
        "message": run.message,
        "roster_rows": len(expected),
        "results": len(run.results),
        "duplicate_athletes": sum(1 for n in seen.values() if n > 1),
        "duplicate_rows": sum(1 for n in rows.values() if n > 1),
        "missing": len(set(expected) - set(seen)),
        "unexpected": len(set(seen) - set(expected)),
        "not_screened": sum(1 for r in run.results if r.status != SCREENED),
        "differs_from_local": len(differing),
        "summary_total": run.summary.total,
        "summary_screened": run.summary.screened,
        "seconds": round(run.seconds, 2),
    }
    if differing:
        first = differing[0]
        report["first_difference"] = f"{first}: " + difference(
            by_ref[first], encounter_pb2.AthleteResult.FromString(reference[first]))
    report["ok"] = (
        run.state == encounter_pb2.SCREENING_STATE_DONE
        and report["results"] == report["roster_rows"] == report["summary_total"] == report["summary_screened"]
        and not any(report[k] for k in ("duplicate_athletes", "duplicate_rows", "missing", "unexpected",
                                         "not_screened", "differs_from_local"))
    )
    return report


def local_reference(roster: Roster, chunk_size: int = 0) -> dict[str, bytes]:
    """Every athlete screened in-process (``footcds screen --local``): what the stack must answer.

    In this process's chunk size (``FOOTCDS_SCREENING_CHUNK_SIZE``, 250 by default) while the
    stack screens in chunks of 20 (deploy/compose.scale.yml), on purpose: the chunking, like the
    replica or the worker, must not change an athlete's bytes (docs/performance.md, sixth pass).
    """
    screened = screen_local(roster, team_label="reference", chunk_size=chunk_size or settings().screening_chunk_size,
                            show_progress=False)
    return {r.athlete_ref: r.SerializeToString(deterministic=True) for r in screened.results}


# --- stopping a replica mid-roster ------------------------------------------------------------


@dataclass
class Stopper:
    """Stops ``victim`` (from another thread) once ``fraction`` of the roster is done.

    Reads the victim's and its siblings' counters, then signals the victim (SIGTERM, or SIGKILL
    when ``hard``) and notes how much of the roster was done at that moment, then stops it for
    good (``podman stop``: it has exited by then). The figures show what each replica did before
    and after the signal. Why the signal first: ``podman stop`` returns only once the server has
    drained and exited (a second or two), and after the performance passes a 2,000-athlete roster
    is done in ~3 s, so "mid-roster" measured at its return was a race the check lost.
    """

    engine: Engine
    victim: Replica
    siblings: list[Replica]
    fraction: float
    hard: bool = False
    victim_counts: dict[str, Counts] = field(default_factory=dict)
    done_at_trigger: int = -1
    done_at_stopped: int = -1
    latest: int = 0
    sibling_counts: dict[str, Counts] = field(default_factory=dict)
    error: str = ""
    thread: threading.Thread | None = None

    def __call__(self, done: int, total: int) -> None:
        self.latest = done
        if self.thread is None and total and done >= self.fraction * total:
            self.done_at_trigger = done
            self.thread = threading.Thread(target=self._stop, daemon=True)
            self.thread.start()

    def _stop(self) -> None:
        try:
            counts = snapshot(self.engine, [self.victim, *self.siblings])
            self.victim_counts = {self.victim.name: counts[self.victim.name]}
            self.sibling_counts = {s.name: counts[s.name] for s in self.siblings}
            self.engine.signal(self.victim, self.hard)
            self.done_at_stopped = self.latest
            self.engine.stop(self.victim, self.hard)
        except Exception as exc:  # reported as a failed check
            self.error = str(exc)

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=180)


# --- the run ----------------------------------------------------------------------------------


def table(replicas: Sequence[Replica], counts: dict[str, Counts]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in replicas:
        c = counts.get(r.name, Counter())
        if r.name not in counts:
            rows.append({"replica": r.name, "calls": None, "missing": True})
        elif r.service == "worker":
            tasks = {k: n for k, n in sorted(c.items()) if n}
            rows.append({"replica": r.name, "tasks": sum(tasks.values()), "by_task": tasks})
        else:
            single, batch, bad = split(c)
            rows.append({"replica": r.name, "calls": single + batch, "single_case": single, "batch": batch,
                         "not_ok": bad})
    return rows


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    print(f"\n{title}")
    for row in rows:
        if row.get("missing"):
            print(f"  {row['replica']:<32} (no figures)")
        elif "tasks" in row:
            detail = ", ".join(f"{k} {n}" for k, n in row["by_task"].items())
            print(f"  {row['replica']:<32} tasks {row['tasks']:>6}   ({detail})")
        else:
            print(f"  {row['replica']:<32} calls {row['calls']:>6}   single-case {row['single_case']:>5}"
                  f"   batch {row['batch']:>4}   not OK {row['not_ok']}{row.get('note', '')}")


def check(args: argparse.Namespace) -> dict[str, Any]:
    engine = Engine(args.compose.split(), args.engine)
    replicas = {svc: engine.replicas(svc) for svc in (*DOMAIN, "worker")}
    wanted = {**{s: args.replicas for s in DOMAIN}, "worker": args.workers}
    failures = [f"{s}: {len(replicas[s])} replicas, expected {n}" for s, n in wanted.items() if len(replicas[s]) != n]
    everyone = [r for svc in (*DOMAIN, "worker") for r in replicas[svc]]
    out: dict[str, Any] = {"replicas": {s: [r.name for r in rs] for s, rs in replicas.items()}}

    channel = dial(args.encounter, token=settings().token, options=[
        ("grpc.max_send_message_length", settings().max_message_bytes),
        ("grpc.max_receive_message_length", settings().max_message_bytes)])
    stub = encounter_pb2_grpc.EncounterServiceStub(channel)
    first, second = make_roster(args.athletes, seed=1), make_roster(args.athletes, seed=2)
    reference = {**local_reference(first), **local_reference(second)}

    # 1. Assess calls and one roster: every replica must have served.
    before = snapshot(engine, everyone)
    ok, errors, seconds = assess_many(stub, args.assess, args.parallel)
    out["assess"] = {"calls": args.assess, "ok": ok, "errors": dict(errors), "seconds": round(seconds, 2)}
    print(f"Assess: {ok}/{args.assess} OK in {seconds:.1f} s ({ok / seconds:.0f}/s), errors {dict(errors)}")
    if ok != args.assess:
        failures.append(f"Assess: {args.assess - ok} calls failed: {dict(errors)}")
    run = run_roster(stub, first, "compose-scale 1", args.timeout)
    out["roster_1"] = exactly_once(first, run, reference)
    print(f"roster 1: {json.dumps(out['roster_1'])}")
    if not out["roster_1"]["ok"]:
        failures.append("roster 1 was not screened exactly once")
    phase1 = delta(snapshot(engine, everyone), before)
    out["phase_1"] = table(everyone, phase1)
    print_table(f"per replica, {args.assess} Assess calls + a {args.athletes}-athlete roster:", out["phase_1"])
    for row in out["phase_1"]:
        if not row.get("tasks", row.get("calls")):
            failures.append(f"{row['replica']} served nothing")
        if row.get("not_ok"):
            failures.append(f"{row['replica']} answered {row['not_ok']} calls not OK")

    # 2. A second roster; one domain replica stopped while it runs.
    victim = replicas[args.stop][-1]
    siblings = [r for r in replicas[args.stop] if r != victim]
    live = [r for r in everyone if r != victim]
    before = snapshot(engine, everyone)
    stopper = Stopper(engine, victim, siblings, args.stop_at, args.hard)
    run = run_roster(stub, second, "compose-scale 2", args.timeout, stopper)
    stopper.join()
    out["roster_2"] = exactly_once(second, run, reference)
    after = snapshot(engine, live)
    sibling_after_stop = sum(
        sum((after[s.name] - stopper.sibling_counts.get(s.name, Counter())).values()) for s in siblings)
    victim_before_stop = sum((stopper.victim_counts.get(victim.name, Counter()) - before[victim.name]).values())
    out["stop"] = {"replica": victim.name, "how": "kill (SIGKILL)" if args.hard else "stop (SIGTERM, drained)",
                   "victim_calls_before_stop": victim_before_stop, "done_at_trigger": stopper.done_at_trigger,
                   "done_when_signalled": stopper.done_at_stopped, "total": len(second.entries),
                   "sibling_calls_after_stop": sibling_after_stop, "error": stopper.error}
    n = len(second.entries)
    print(f"\n{'killed' if args.hard else 'stopped'} {victim.name} (it had served {victim_before_stop} calls of "
          f"roster 2) at {stopper.done_at_trigger}/{n} done; signalled at {stopper.done_at_stopped}/{n}; "
          f"its sibling served {sibling_after_stop} calls from then on")
    print(f"roster 2: {json.dumps(out['roster_2'])}")
    after.update(stopper.victim_counts)
    out["phase_2"] = table(everyone, delta(after, before))
    for row in out["phase_2"]:
        if row["replica"] == victim.name:
            row["note"] = "   <- until stopped"

    print_table(f"per replica, the second {args.athletes}-athlete roster ({victim.name} stopped):", out["phase_2"])
    if stopper.error or stopper.done_at_stopped < 0:
        failures.append(f"stopping {victim.name} failed: {stopper.error or 'it was never triggered'}")
    elif stopper.done_at_stopped >= len(second.entries):
        failures.append(f"{victim.name} was signalled only after the roster had finished: not mid-roster")
    elif sibling_after_stop == 0:
        failures.append(f"no {args.stop} replica served calls after {victim.name} stopped")
    if not out["roster_2"]["ok"]:
        failures.append("roster 2 was not screened exactly once with a replica stopped")
    out["failures"] = failures
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encounter", default="127.0.0.1:50050", help="published encounter address")
    parser.add_argument("--compose", default="docker-compose", help="the compose command (words)")
    parser.add_argument("--engine", default=shutil.which("podman") and "podman" or "docker",
                        help="container engine CLI for exec/inspect/stop")
    parser.add_argument("--replicas", type=int, default=2, help="expected replicas of each domain service")
    parser.add_argument("--workers", type=int, default=3, help="expected worker replicas")
    parser.add_argument("--assess", type=int, default=300, help="Assess calls")
    parser.add_argument("--parallel", type=int, default=16, help="Assess calls in flight")
    parser.add_argument("--athletes", type=int, default=2000, help="athletes per roster")
    parser.add_argument("--stop", choices=DOMAIN, default="differential", help="service whose last replica stops")
    parser.add_argument("--stop-at", type=float, default=0.1, help="fraction of roster 2 done before the stop")
    parser.add_argument("--hard", action="store_true", help="kill the replica (SIGKILL) instead of stopping it")
    parser.add_argument("--timeout", type=float, default=600, help="deadline of each roster, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    out = check(args)
    out["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    for failure in out["failures"]:
        print(f"FAILED: {failure}", file=sys.stderr)
    if not out["failures"]:
        print("\nOK: every replica served calls; both rosters screened every athlete exactly once")
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
