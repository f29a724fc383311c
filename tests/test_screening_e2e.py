"""Team screening against real processes: Redis, the five gRPC services, Celery workers.

The session suite serves the ordinary paths; a small suite of this module's own (a short
broker visibility timeout, a 2,500-athlete limit, chunks of 100) is the one whose worker is
killed and whose Redis is stopped, so the session suite always keeps its worker.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import redis
from footcds.v1 import common_pb2, encounter_pb2, encounter_pb2_grpc
from kombu.exceptions import OperationalError

from devtools.suite import LocalSuite
from services.cli.roster import parse_roster, synthesize
from services.encounter import screening_servicer
from services.knowledge.loader import knowledge_base
from services.pipeline.screening import LocalBatchCalls, screen_chunk
from services.pipeline.screening_store import ScreeningStore, idempotency_key
from services.platform.config import settings
from services.platform.errors import violations_of
from tests.conftest import EXAMPLES, ROOT


@contextmanager
def in_process_encounter() -> Iterator[encounter_pb2_grpc.EncounterServiceStub]:
    """The encounter's servicer on a loopback gRPC server in this process, so a test can patch
    what it dispatches to or stores in; stopped on the way out."""
    from services.encounter.servicer import EncounterServicer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    encounter_pb2_grpc.add_EncounterServiceServicer_to_server(EncounterServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield encounter_pb2_grpc.EncounterServiceStub(channel)
    finally:
        server.stop(None)

pytestmark = pytest.mark.e2e
DONE = encounter_pb2.SCREENING_STATE_DONE
LIMIT = 2500


def synthetic(athletes: int, seed: int) -> list[encounter_pb2.RosterEntry]:
    rows = list(synthesize(knowledge_base(), athletes, seed))
    text = ",".join(rows[0]) + "\n" + "\n".join(",".join(r.values()) for r in rows) + "\n"
    roster = parse_roster(text)
    assert not roster.rejected
    return roster.entries


def submit(
    stub: encounter_pb2_grpc.EncounterServiceStub, athletes: list[encounter_pb2.RosterEntry], key: str
) -> encounter_pb2.SubmitScreeningResponse:
    response: encounter_pb2.SubmitScreeningResponse = stub.SubmitScreening(
        encounter_pb2.SubmitScreeningRequest(idempotency_key=key, athletes=athletes, team_label="test"), timeout=30
    )
    return response


def watch_to_end(
    stub: encounter_pb2_grpc.EncounterServiceStub, screening_id: str, timeout: float = 60
) -> list[encounter_pb2.WatchScreeningResponse]:
    request = encounter_pb2.WatchScreeningRequest(screening_id=screening_id)
    return list(stub.WatchScreening(request, timeout=timeout))


def watch_to_end_or_first(
    stub: encounter_pb2_grpc.EncounterServiceStub, screening_id: str
) -> encounter_pb2.WatchScreeningResponse:
    """The current progress: the first update of a watch."""
    stream = stub.WatchScreening(encounter_pb2.WatchScreeningRequest(screening_id=screening_id), timeout=10)
    first: encounter_pb2.WatchScreeningResponse = next(stream)
    stream.cancel()
    return first


def results_of(stub: encounter_pb2_grpc.EncounterServiceStub, screening_id: str) -> list[encounter_pb2.AthleteResult]:
    request = encounter_pb2.GetScreeningResultsRequest(screening_id=screening_id)
    return [r.result for r in stub.GetScreeningResults(request, timeout=60)]


def screening_ids(url: str) -> set[str]:
    client = redis.Redis.from_url(url)
    try:
        return {k.decode().split(":")[2] for k in client.scan_iter("footcds:screening:scr_*") if k.count(b":") == 2}
    finally:
        client.close()


# --- the session suite -------------------------------------------------------------------------


def test_cli_screens_the_example_roster_as_local_does(suite: LocalSuite, tmp_path: Path) -> None:
    outputs = {}
    for mode, extra in (("suite", ["--address", suite.address("encounter"), "--key", f"cli-{time.time()}"]),
                        ("local", ["--local"])):
        out, summary, report = tmp_path / f"{mode}.csv", tmp_path / f"{mode}.json", tmp_path / f"{mode}.html"
        run = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "screen", str(EXAMPLES / "roster.csv"), "--out", str(out),
             "--summary", str(summary), "--report", str(report), *extra],
            capture_output=True, text=True, cwd=ROOT, timeout=120, env=suite.client_env(),
        )
        assert run.returncode == 0, run.stderr
        assert "20/20" in run.stderr  # the progress bar reached the end
        outputs[mode] = (out.read_text(), json.loads(summary.read_text()), report.read_text())
    assert outputs["suite"][0] == outputs["local"][0]
    assert outputs["suite"][1] == outputs["local"][1]
    lines = outputs["suite"][0].splitlines()
    assert len(lines) == 21
    body = outputs["suite"][1]
    assert body["total"] == 20 and body["screened"] == 19 and body["rejected"] == 1
    assert body["rejected_rows"][0]["row"] == 13
    assert body["rejected_rows"][0]["problems"][0].startswith("present[0]: unknown finding id 'loc_dorsum_fot'")
    assert body["follow_up"][0]["athlete_id"] == "XC-10" and body["follow_up"][0]["triage"] == "emergency"
    assert any(a.startswith("Shoe-fitting and lacing session") for a in body["team_advice"])
    assert "decision support" in body["disclaimer"] and body["kb_version"].startswith("kb-")
    assert '<svg id="chart-triage"' in outputs["suite"][2]


def test_same_key_twice_is_one_screening(
    suite: LocalSuite, encounter: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    athletes = synthetic(40, seed=11)
    before = screening_ids(suite.redis_url)
    first = submit(encounter, athletes, "same-key-twice")
    second = submit(encounter, athletes, "same-key-twice")
    other = submit(encounter, athletes, "another-key")
    assert (first.duplicate, second.duplicate, other.duplicate) == (False, True, False)
    assert second.screening_id == first.screening_id != other.screening_id
    assert screening_ids(suite.redis_url) - before == {first.screening_id, other.screening_id}
    assert watch_to_end(encounter, first.screening_id)[-1].done == 40
    assert len(results_of(encounter, first.screening_id)) == 40


def test_same_key_with_a_different_roster_is_refused_and_writes_nothing(
    suite: LocalSuite, encounter: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    athletes = synthetic(6, seed=12)
    first = submit(encounter, athletes, "reused-key")
    client = redis.Redis.from_url(suite.redis_url)
    try:
        bound = client.get(idempotency_key("reused-key"))
        before = screening_ids(suite.redis_url)
        changed = [*athletes[:-1], synthetic(7, seed=13)[-1]]
        relabelled = encounter_pb2.SubmitScreeningRequest(
            idempotency_key="reused-key", athletes=athletes, team_label="another team"
        )
        for call in (lambda: submit(encounter, changed, "reused-key"),
                     lambda: encounter.SubmitScreening(relabelled, timeout=30)):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "already used for a different roster" in (caught.value.details() or "")
            assert "idempotency_key" in (caught.value.details() or "")
        assert screening_ids(suite.redis_url) == before
        assert client.get(idempotency_key("reused-key")) == bound
    finally:
        client.close()
    again = submit(encounter, athletes, "reused-key")  # the same roster still finds its screening
    assert (again.duplicate, again.screening_id) == (True, first.screening_id)


def test_watch_streams_progress_then_results_and_summary_agree(
    encounter: encounter_pb2_grpc.EncounterServiceStub,
) -> None:
    athletes = synthetic(600, seed=12)
    athletes[5].evidence[0].finding_id = "not_a_finding"
    submitted = submit(encounter, athletes, f"watch-{time.time()}")
    assert submitted.total == 600 and submitted.kb_version.startswith("kb-")
    updates = watch_to_end(encounter, submitted.screening_id)
    done = [u.done for u in updates]
    assert done == sorted(done) and updates[-1].state == DONE and done[-1] == 600
    final = updates[-1]
    assert final.rejected == 1 and sum(t.count for t in final.by_triage) == 599
    assert all("decision support" in u.disclaimer for u in updates)

    results = results_of(encounter, submitted.screening_id)
    assert [r.row_number for r in results] == list(range(1, 601))
    bad = [r for r in results if r.status == encounter_pb2.ATHLETE_STATUS_REJECTED]
    assert [(r.row_number, r.violations[0].field) for r in bad] == [(6, "athletes[5].evidence[0].finding_id")]

    summary = encounter.GetScreeningSummary(
        encounter_pb2.GetScreeningSummaryRequest(screening_id=submitted.screening_id), timeout=30
    ).summary
    assert (summary.state, summary.total, summary.screened, summary.rejected) == (DONE, 600, 599, 1)
    assert [(t.level, t.count) for t in summary.by_triage] == [(t.level, t.count) for t in final.by_triage]
    emergencies = [f for f in summary.follow_up if f.triage == common_pb2.TRIAGE_LEVEL_EMERGENCY]
    assert summary.follow_up[: len(emergencies)] == emergencies
    assert summary.team_label == "test"


def test_results_in_pages_are_the_same_results_in_the_same_order(
    encounter: encounter_pb2_grpc.EncounterServiceStub,
) -> None:
    """What `footcds screen` asks for (pages; a message per athlete cost both ends more than the
    result, docs/performance.md, eighth pass) is what a v1 client reading one per message gets."""
    athletes = synthetic(130, seed=14)
    athletes[7].evidence[0].finding_id = "not_a_finding"
    submitted = submit(encounter, athletes, f"pages-{time.time()}")
    assert watch_to_end(encounter, submitted.screening_id)[-1].state == DONE
    one_by_one = results_of(encounter, submitted.screening_id)
    pages = list(encounter.GetScreeningResults(
        encounter_pb2.GetScreeningResultsRequest(screening_id=submitted.screening_id, results_per_message=50),
        timeout=60,
    ))
    assert [len(p.results) for p in pages] == [50, 50, 30]
    assert all(not p.HasField("result") and "decision support" in p.disclaimer for p in pages)
    paged = [r for p in pages for r in p.results]
    assert [r.SerializeToString(deterministic=True) for r in paged] == [
        r.SerializeToString(deterministic=True) for r in one_by_one
    ]
    assert [r.row_number for r in paged] == list(range(1, 131))
    assert paged[7].status == encounter_pb2.ATHLETE_STATUS_REJECTED
    with pytest.raises(grpc.RpcError) as caught:
        list(encounter.GetScreeningResults(
            encounter_pb2.GetScreeningResultsRequest(screening_id=submitted.screening_id, results_per_message=1001),
            timeout=10,
        ))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_of(caught.value)] == ["results_per_message"]


def test_a_page_stops_growing_at_its_byte_bound() -> None:
    """A page of large results (a rejected row names every bad field) stays near PAGE_BYTES."""
    big = encounter_pb2.AthleteResult(athlete_ref="A", row_number=1, violations=[
        common_pb2.FieldViolation(field=f"athletes[0].evidence[{i}].finding_id", description="x" * 200)
        for i in range(500)
    ]).SerializeToString()
    pages = list(screening_servicer._pages(iter([big] * 30), 1000, "kb", "d"))
    assert sum(len(p.results) for p in pages) == 30 and len(pages) > 1
    assert all(p.ByteSize() < screening_servicer.PAGE_BYTES + len(big) + 1000 for p in pages)


def test_a_submit_without_a_key_names_the_field(encounter: encounter_pb2_grpc.EncounterServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        submit(encounter, synthetic(3, seed=13), "")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_of(caught.value)] == ["idempotency_key"]


@pytest.mark.parametrize("rpc", ["watch", "results", "summary"])
@pytest.mark.parametrize(
    ("bad_id", "code"),
    [("../etc", grpc.StatusCode.INVALID_ARGUMENT), ("scr_" + "0" * 32, grpc.StatusCode.NOT_FOUND)],
)
def test_a_bad_or_unknown_screening_id_is_a_clear_status(
    encounter: encounter_pb2_grpc.EncounterServiceStub, rpc: str, bad_id: str, code: grpc.StatusCode
) -> None:
    """Streaming RPCs too: their errors are statuses, not broken streams."""
    with pytest.raises(grpc.RpcError) as caught:
        if rpc == "watch":
            watch_to_end(encounter, bad_id, timeout=10)
        elif rpc == "results":
            results_of(encounter, bad_id)
        else:
            encounter.GetScreeningSummary(encounter_pb2.GetScreeningSummaryRequest(screening_id=bad_id), timeout=10)
    assert caught.value.code() == code
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert [v.field for v in violations_of(caught.value)] == ["screening_id"]
    else:
        assert bad_id in (caught.value.details() or "")


# --- a suite of this module's own: killed workers, a stopped Redis ------------------------------


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    running = LocalSuite(
        log_dir=tmp_path_factory.mktemp("fragile"),
        extra_env={
            # A killed worker's chunks come back after 15 s. Not less: a live worker's prefetched chunks
            # are unacked too, and on a loaded 2-core machine they wait longer than 3 s, were restored
            # and run twice, and the roster crawled (counted once, but past the watch's deadline).
            "FOOTCDS_VISIBILITY_TIMEOUT_SECONDS": "15",
            "FOOTCDS_UNACKED_RESTORE_INTERVAL_SECONDS": "1",
            "FOOTCDS_SCREENING_MAX_ATHLETES": str(LIMIT),
            "FOOTCDS_SCREENING_CHUNK_SIZE": "100",
        },
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def fragile_stub(fragile: LocalSuite) -> Iterator[encounter_pb2_grpc.EncounterServiceStub]:
    with fragile.channel("encounter") as channel:
        yield encounter_pb2_grpc.EncounterServiceStub(channel)


def test_an_oversize_roster_is_refused_before_any_work(
    fragile: LocalSuite, fragile_stub: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    athletes = synthetic(1, seed=14) * (LIMIT + 1)
    before = screening_ids(fragile.redis_url)
    with pytest.raises(grpc.RpcError) as caught:
        submit(fragile_stub, athletes, "too-big")
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"limit is {LIMIT}" in (caught.value.details() or "")
    assert "FOOTCDS_SCREENING_MAX_ATHLETES" in (caught.value.details() or "")
    assert screening_ids(fragile.redis_url) == before


def test_a_killed_worker_loses_and_duplicates_no_athlete(
    fragile: LocalSuite, fragile_stub: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    athletes = synthetic(2000, seed=15)
    submitted = submit(fragile_stub, athletes, f"kill-{time.time()}")
    watch = fragile_stub.WatchScreening(
        encounter_pb2.WatchScreeningRequest(screening_id=submitted.screening_id), timeout=60
    )
    at_kill = 0
    for update in watch:
        if update.done >= 200:
            at_kill = update.done
            break
    watch.cancel()
    fragile.stop_process("worker", signal.SIGKILL)
    time.sleep(0.5)
    stalled = watch_to_end_or_first(fragile_stub, submitted.screening_id)
    assert stalled.done < 2000 and stalled.state != DONE, "no worker alive: the screening waits"
    assert 0 < at_kill < 2000, "the worker must die in the middle of the roster"

    fragile.start_worker(name="worker2")
    fragile.wait_worker()
    final = watch_to_end(fragile_stub, submitted.screening_id, timeout=180)[-1]
    assert (final.state, final.done, final.total) == (DONE, 2000, 2000)  # counted once, not twice

    results = results_of(fragile_stub, submitted.screening_id)
    assert sorted(r.row_number for r in results) == list(range(1, 2001))
    assert len({r.athlete_ref for r in results}) == 2000
    sample = list(range(0, 2000, 97))
    expected = screen_chunk([(i, athletes[i]) for i in sample], LocalBatchCalls())
    assert [results[i] for i in sample] == [r for _, r in expected]


def test_a_failed_dispatch_leaves_nothing_behind(fragile: LocalSuite, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failure injected at the queue boundary after the key was claimed: no trace, key free again."""
    store = ScreeningStore(redis.Redis.from_url(fragile.redis_url), 3600)
    monkeypatch.setattr(screening_servicer, "store", lambda: store)
    dispatched: list[int] = []

    def broken(screening_id: str, chunks: list[object]) -> None:
        raise OperationalError("injected: the broker went away")

    monkeypatch.setattr(screening_servicer, "dispatch", broken)
    with in_process_encounter() as stub:
        before = screening_ids(fragile.redis_url)
        with pytest.raises(grpc.RpcError) as caught:
            submit(stub, synthetic(30, seed=16), "half-written?")
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert screening_ids(fragile.redis_url) == before
        assert store.client.get(idempotency_key("half-written?")) is None

        monkeypatch.setattr(screening_servicer, "dispatch", lambda sid, chunks: dispatched.append(len(chunks)))
        retried = submit(stub, synthetic(30, seed=16), "half-written?")
        assert not retried.duplicate and dispatched == [1]
        assert screening_ids(fragile.redis_url) - before == {retried.screening_id}


def test_a_chunk_that_keeps_failing_ends_the_screening_as_failed(
    fragile: LocalSuite, fragile_stub: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    """A service gone for longer than the retries: FAILED with the reason, not a watch forever."""
    fragile.stop_process("workup")
    try:
        submitted = submit(fragile_stub, synthetic(20, seed=18), f"workup-down-{time.time()}")
        final = watch_to_end(fragile_stub, submitted.screening_id, timeout=60)[-1]
        assert final.state == encounter_pb2.SCREENING_STATE_FAILED
        assert "workup" in final.message and final.done < 20
        assert results_of(fragile_stub, submitted.screening_id) == []  # finished: what exists is served
    finally:
        fragile.start_service("workup")
        fragile.wait_service("workup")


def test_redis_down_at_submit_is_unavailable(
    fragile: LocalSuite, fragile_stub: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    athletes = synthetic(20, seed=17)
    fragile.stop_process("redis", signal.SIGKILL)
    try:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            submit(fragile_stub, athletes, "redis-down")
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "Redis" in (caught.value.details() or "")
        assert time.monotonic() - started < 10
    finally:
        fragile.start_redis()
    submitted = submit(fragile_stub, athletes, "redis-down")  # nothing was left claiming the key
    assert not submitted.duplicate
    assert watch_to_end(fragile_stub, submitted.screening_id)[-1].done == 20


def test_a_watch_is_woken_by_each_chunk_write_not_a_timer(suite: LocalSuite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk writes push to the screening's events list and the watch blocks on it: with
    the watch's fallback re-read set to a minute, every chunk still shows within a second of
    its write, and the watch ends as the last chunk lands (a 25 ms poll loop used to do this
    at ~40 Redis reads a second; a watch that only slept its fallback would take minutes)."""
    store = ScreeningStore(redis.Redis.from_url(suite.redis_url), 3600)
    monkeypatch.setattr(screening_servicer, "store", lambda: store)
    monkeypatch.setattr(screening_servicer, "WATCH_WAIT_SECONDS", 60.0)
    monkeypatch.setattr(settings(), "screening_chunk_size", 10)
    written: list[float] = []
    writers: list[futures.Future[None]] = []

    def run_chunks(screening_id: str, chunks: list[list[tuple[int, encounter_pb2.RosterEntry]]]) -> None:
        def work() -> None:
            time.sleep(0.5)  # the watch is blocked by now
            store.mark_started(screening_id)
            for index, chunk in enumerate(chunks):
                time.sleep(0.3)
                store.write_chunk(screening_id, index, screen_chunk(chunk, LocalBatchCalls()))
                written.append(time.monotonic())

        writers.append(futures.ThreadPoolExecutor(max_workers=1).submit(work))

    monkeypatch.setattr(screening_servicer, "dispatch", run_chunks)
    with in_process_encounter() as stub:
        submitted = submit(stub, synthetic(30, seed=21), f"pushed-{time.time()}")
        seen: list[tuple[int, float]] = []
        for update in stub.WatchScreening(
            encounter_pb2.WatchScreeningRequest(screening_id=submitted.screening_id), timeout=20
        ):
            seen.append((update.done, time.monotonic()))
        assert [done for done, _ in seen] == [0, 0, 10, 20, 30]  # queued, running, each chunk
        # The watch may end as the last write lands, before the writer thread has noted its time.
        for writer in writers:
            writer.result(timeout=10)
        assert len(written) == 3
        for (_, shown), landed in zip(seen[2:], written, strict=True):
            assert shown - landed < 1.0  # woken by the write, not by the minute's fallback
