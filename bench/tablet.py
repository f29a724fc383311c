"""Clinic tablets: one FHIR SDC ``$next-question`` round trip beside the bare Assess, and how
many questions a simulated tablet interview asks on the clinical cases.

The round trip is HTTP to the gateway (uvicorn, keep-alive connection) -> NormalizeIntake and
NextQuestion over gRPC -> the next question back: what a tablet waits for after each tap.
The interview count runs every clinical vignette (tests/clinical/vignettes) and the examples
through the real gateway with a simulated patient (services/gateway/tablet/simulate.py) who
answers from the case's findings and says "I don't know" otherwise.

    python -m bench.tablet            # starts its own suite and gateway (~1 min)
    make bench                        # the round trip figures join the full run
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from bench.harness import Collector, Params, Probe, Rounds, log, run_rounds
from bench.report import figure, table
from devtools.suite import ROOT, LocalSuite

NEXT = "/fhir/Questionnaire/$next-question"
FORM_URL = "urn:footcds:questionnaire:foot-numbness-intake"
VIGNETTES = ROOT / "tests" / "clinical" / "vignettes"


class Client:
    """One keep-alive HTTP connection per thread to the gateway, as a tablet keeps one."""

    def __init__(self, base: str, token: str) -> None:
        self.netloc = urlparse(base).netloc
        self.headers = {"Content-Type": "application/fhir+json", "Authorization": f"Bearer {token}"}
        self.local = threading.local()

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body)
        for attempt in (1, 2):  # uvicorn closes a keep-alive connection idle for 5 s: dial again once
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.netloc, timeout=30)
            try:
                conn.request("POST", NEXT, payload, self.headers)
                reply = conn.getresponse()
                data = reply.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        if reply.status != 200:
            raise RuntimeError(f"$next-question answered {reply.status}: {data[:300]!r}")
        result: dict[str, Any] = json.loads(data)
        return result


def mid_interview(client: Client) -> dict[str, Any]:
    """A QR after the body map (top of the foot): the next call runs NormalizeIntake + NextQuestion."""
    qr = client.post({"resourceType": "QuestionnaireResponse", "status": "in-progress"})
    qr["item"] = [{"linkId": "q_location", "answer": [{"valueCoding": {"system": FORM_URL,
                                                                      "code": "q_location|dorsum"}}]}]
    return qr


def probe(suite: LocalSuite, token: str) -> Probe:
    client = Client(suite.gateway_url, token)
    qr = mid_interview(client)

    def call() -> object:
        return client.post(qr)

    return Probe("tablet.next_question", call, inflight=(8,))


def figures(rounds: Rounds, out: Collector) -> None:
    assess_p50, assess_p99 = out.get("assess.pipeline.p50"), out.get("assess.pipeline.p99")
    out.add(figure("tablet.next_question.p50", rounds.p50_of("tablet.next_question"), "ms", ceiling=assess_p50,
                   note="one $next-question round trip over HTTP (NormalizeIntake + NextQuestion) vs a bare Assess"))
    out.add(figure("tablet.next_question.p99", rounds.p99_of("tablet.next_question"), "ms", ceiling=assess_p99))
    if ("tablet.next_question", 8) in rounds.rps:
        out.add(figure("tablet.next_question.rps@8", rounds.rps_of("tablet.next_question", 8), "/s"))


def cases() -> list[tuple[str, set[str], set[str], str]]:
    """(id, present, absent, expected triage) of every vignette and example."""
    out = []
    for path in sorted(VIGNETTES.glob("*.yaml")):
        for v in yaml.safe_load(path.read_text())["vignettes"]:
            present = {e["id"] for e in v["evidence"] if e["state"] == "present"}
            absent = {e["id"] for e in v["evidence"] if e["state"] == "absent"}
            out.append((v["id"], present, absent, str(v.get("expected", {}).get("triage", ""))))
    for path in sorted((ROOT / "examples").glob("*.json")):
        data = json.loads(path.read_text())
        present = {e["id"] for e in data["evidence"] if e["state"] == "present"}
        absent = {e["id"] for e in data["evidence"] if e["state"] == "absent"}
        out.append((path.stem, present, absent, ""))
    return out


def form_map(suite: LocalSuite) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    from footcds.v1 import intake_pb2, intake_pb2_grpc

    with suite.channel("intake") as channel:
        reply = intake_pb2_grpc.IntakeServiceStub(channel).GetIntakeForm(intake_pb2.GetIntakeFormRequest(), timeout=10)
    return {q.question_id: {o.option_id: (list(o.sets_present), list(o.sets_absent)) for o in q.options}
            for q in reply.questions}


def interviews(suite: LocalSuite, token: str) -> dict[str, Any]:
    """Questions asked per simulated interview on every clinical case; emergencies caught."""
    from services.gateway.tablet import simulate

    client = Client(suite.gateway_url, token)
    form = form_map(suite)
    counts: dict[str, int] = {}
    alerts: dict[str, str] = {}
    missed_emergencies: list[str] = []
    for case_id, present, absent, expected in cases():
        final = simulate.interview(client.post, present, absent, form)
        questionnaire = next(r for r in final["contained"] if r["resourceType"] == "Questionnaire")
        counts[case_id] = sum(1 for i in questionnaire["item"] if i["type"] != "display")
        alert = next((e["valueCode"] for e in final.get("extension", []) if e["url"].endswith("triage-alert")), "")
        alerts[case_id] = alert
        if expected == "emergency" and alert != "emergency":
            missed_emergencies.append(case_id)
    values = sorted(counts.values())
    worst = max(counts, key=lambda k: counts[k])
    return {"cases": len(counts), "mean": round(statistics.mean(values), 2), "median": statistics.median(values),
            "worst": values[-1], "worst_case": worst, "alerts": sum(1 for a in alerts.values() if a),
            "expected_emergencies_without_alert": missed_emergencies}


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    params = Params.make(quick)
    suite = LocalSuite(log_dir=Path(tempfile.mkdtemp(prefix="footcds-bench-tablet-")))
    from bench import assess

    out = Collector()
    try:
        suite.start()
        suite.start_gateway()
        token = suite.issue_token("bench-tablet", ["tablet"], max_concurrent=64)
        log("suite and gateway up")
        stub_call: Callable[[], object] = assess.probe("pipeline", suite.address("encounter"), suite.token).call
        probes = [Probe("assess.pipeline", stub_call), probe(suite, token)]
        rounds = run_rounds(probes, params)
        out.add(figure("assess.pipeline.p50", rounds.p50_of("assess.pipeline"), "ms", note="bare Assess, same run"))
        out.add(figure("assess.pipeline.p99", rounds.p99_of("assess.pipeline"), "ms"))
        figures(rounds, out)
        log("simulated interviews on the clinical cases")
        result = interviews(suite, token)
        print(json.dumps({"name": "tablet.interview.questions", **result}), flush=True)
    finally:
        suite.stop()
    print()
    print(table(out.figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
