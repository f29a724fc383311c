"""FHIR SDC `$next-question` on the real gateway and suite: adaptive interviews to the end,
red flags first, "I don't know" kept as unknown, and bad input named item by item."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from footcds.v1 import intake_pb2, intake_pb2_grpc

from devtools.suite import LocalSuite
from services.gateway.tablet import sdc, simulate
from tests.conftest import EXAMPLES
from tests.test_gateway import http

pytestmark = pytest.mark.e2e
NEXT = "/fhir/Questionnaire/$next-question"


def intake_form_map(suite: LocalSuite) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    """GetIntakeForm as question id -> option id -> (sets_present, sets_absent)."""
    with suite.channel("intake") as channel:
        reply = intake_pb2_grpc.IntakeServiceStub(channel).GetIntakeForm(intake_pb2.GetIntakeFormRequest(), timeout=10)
    return {q.question_id: {o.option_id: (list(o.sets_present), list(o.sets_absent)) for o in q.options}
            for q in reply.questions}


@pytest.fixture(scope="module")
def form(suite: LocalSuite) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    return intake_form_map(suite)


def poster(gateway: str, token: str) -> simulate.Post:
    def post(body: dict[str, Any]) -> dict[str, Any]:
        status, headers, reply = http(f"{gateway}{NEXT}", token=token, body=body)
        assert status == 200, reply
        assert headers["Cache-Control"] == "no-store"
        QuestionnaireResponse.model_validate(reply)
        assert isinstance(reply, dict), reply
        return reply
    return post


def case(name: str) -> tuple[set[str], set[str]]:
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    present = {e["id"] for e in data["evidence"] if e["state"] == "present"}
    absent = {e["id"] for e in data["evidence"] if e["state"] == "absent"}
    return present, absent


def contained(qr: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in qr["contained"] if r["resourceType"] == "Questionnaire")


def test_first_call_asks_the_body_map_in_an_adaptive_questionnaire(gateway: str, tablet_token: str) -> None:
    reply = poster(gateway, tablet_token)({"resourceType": "QuestionnaireResponse", "status": "in-progress"})
    questionnaire = contained(reply)
    assert reply["questionnaire"] == f"#{questionnaire['id']}" and reply["status"] == "in-progress"
    assert reply["id"].startswith("in-")  # an opaque reference, never a name
    assert questionnaire["derivedFrom"][0].startswith("urn:footcds:questionnaire:foot-numbness-intake|")
    assert {"url": sdc.ADAPTIVE_EXTENSION, "valueBoolean": True} in questionnaire["extension"]
    (item,) = questionnaire["item"]
    assert item["linkId"] == "q_location"
    assert {"url": sdc.BODY_MAP_EXTENSION, "valueBoolean": True} in item["extension"]
    assert item["answerOption"][-1]["valueCoding"]["code"] == "unknown"  # "I don't know" always offered


def test_tight_laces_runner_interview_runs_to_completed(gateway: str, tablet_token: str, form: Any) -> None:
    present, absent = case("tight_laces_runner")
    replies: list[dict[str, Any]] = []
    final = simulate.interview(poster(gateway, tablet_token), present, absent, form, on_reply=replies.append)
    assert final["status"] == "completed"
    asked = [i["linkId"] for i in contained(final)["item"]]
    assert len(asked) == len(set(asked)) >= 2, asked  # nothing asked twice; at least the body map and one more
    assert len(replies) == len(asked) + 1  # one question per round trip
    assert all("extension" not in r for r in replies)  # no alert for a self-care case
    text = json.dumps(final).lower()
    assert "probability" not in text and "footwear_compression" not in text  # the patient sees no differential


def test_cauda_equina_red_flag_ends_the_interview_with_the_emergency_instruction(
    gateway: str, tablet_token: str, form: Any
) -> None:
    present, absent = case("cauda_equina_emergency")
    replies: list[dict[str, Any]] = []
    final = simulate.interview(poster(gateway, tablet_token), present, absent, form, on_reply=replies.append)
    assert final["status"] == "completed"
    assert {"url": sdc.ALERT_EXTENSION, "valueCode": "emergency"} in final["extension"]
    alert = contained(final)["item"][-1]
    assert alert["type"] == "display" and "front desk" in alert["text"] and "911" in alert["text"]
    # The alert came with the very reply to the red-flag answer: no question after it.
    assert sum(1 for r in replies if r["status"] == "completed") == 1
    answered_before_alert = [i["linkId"] for i in final["item"]]
    assert answered_before_alert[-1] in ("q_location", "q_warning_signs", "sx_bladder_bowel_dysfunction",
                                         "sx_weakness", "q_sides", "loc_saddle_area")


def test_i_dont_know_is_kept_as_unknown_and_not_asked_again(gateway: str, tablet_token: str) -> None:
    post = poster(gateway, tablet_token)
    qr = post({"resourceType": "QuestionnaireResponse", "status": "in-progress"})
    qr["item"] = [{"linkId": "q_location", "answer": [{"valueCoding": {"system": "urn:footcds:questionnaire:"
                   "foot-numbness-intake", "code": "q_location|dorsum"}}]}]
    for _ in range(3):  # answer "I don't know" to the next questions
        qr = post(qr)
        new = contained(qr)["item"][-1]
        qr["item"].append({"linkId": new["linkId"], "answer": [sdc.DONT_KNOW]})
    qr = post(qr)
    asked = [i["linkId"] for i in contained(qr)["item"]]
    assert len(asked) == len(set(asked)) == 5
    kept = [i["answer"][0]["valueCoding"]["code"] for i in qr["item"][1:]]
    assert kept == ["unknown"] * 3  # returned as given: unknown, not "absent"


def parameters(qr: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "questionnaire-response", "resource": qr}]}


def refused(gateway: str, token: str, body: Any) -> list[dict[str, Any]]:
    status, headers, reply = http(f"{gateway}{NEXT}", token=token, body=body)
    assert status == 400, reply
    assert reply["resourceType"] == "OperationOutcome" and headers["Content-Type"].startswith("application/fhir+json")
    issues: list[dict[str, Any]] = reply["issue"]
    return issues


def test_bad_input_is_400_naming_the_item(gateway: str, tablet_token: str) -> None:
    post = poster(gateway, tablet_token)
    start = post({"resourceType": "QuestionnaireResponse", "status": "in-progress"})
    dorsum = {"valueCoding": {"system": "urn:footcds:questionnaire:foot-numbness-intake", "code": "q_location|dorsum"}}

    unknown_link = dict(start, item=[{"linkId": "q_location", "answer": [dorsum]},
                                     {"linkId": "q_made_up", "answer": [sdc.DONT_KNOW]}])
    (issue,) = refused(gateway, tablet_token, parameters(unknown_link))
    assert issue["expression"] == ["QuestionnaireResponse.item[1].linkId"] and "q_made_up" in issue["diagnostics"]

    bad_option = dict(start, item=[{"linkId": "q_location", "answer": [
        dorsum, {"valueCoding": {"code": "q_location|elbow"}}]}])
    (issue,) = refused(gateway, tablet_token, parameters(bad_option))
    assert issue["expression"] == ["QuestionnaireResponse.item[0].answer[1]"], issue
    assert "elbow" in issue["diagnostics"]

    malformed = dict(start, status="half-done", item=[{"linkId": "q_location", "answer": [{"valueCoding": 7}]}])
    issues = refused(gateway, tablet_token, malformed)
    assert issues[0]["expression"] == ["QuestionnaireResponse.status"] and "half-done" in issues[0]["diagnostics"]
    malformed["status"] = "in-progress"
    issues = refused(gateway, tablet_token, malformed)
    assert issues[0]["expression"] == ["QuestionnaireResponse.item[0].answer[0].valueCoding"], issues

    unanswered = dict(start)
    (issue,) = refused(gateway, tablet_token, unanswered)
    assert "q_location" in issue["diagnostics"] and "no answer" in issue["diagnostics"]

    (issue,) = refused(gateway, tablet_token, {"resourceType": "Parameters", "parameter": []})
    assert issue["expression"] == ["Parameters.parameter"]
    (issue,) = refused(gateway, tablet_token, b"{not json")
    assert "not JSON" in issue["diagnostics"]

    # Nothing already answered is lost: the same answers, corrected, go on from where they were.
    fixed = post(dict(start, item=[{"linkId": "q_location", "answer": [dorsum]}]))
    assert fixed["item"] == [{"linkId": "q_location", "answer": [dorsum]}] and fixed["id"] == start["id"]
    assert len(contained(fixed)["item"]) == 2


def test_completed_intakes_reach_staff_emergency_first_and_are_audited(
    gateway: str, suite: LocalSuite, tablet_token: str, staff_token: str, form: Any
) -> None:
    import hashlib

    from footcds.v1 import audit_pb2, audit_pb2_grpc

    post = poster(gateway, tablet_token)
    routine = simulate.interview(post, *case("tight_laces_runner"), form)
    emergency = simulate.interview(post, *case("cauda_equina_emergency"), form)
    assert http(f"{gateway}/staff/api/intakes", token=tablet_token)[0] == 403  # a tablet reads nothing back
    status, _, listing = http(f"{gateway}/staff/api/intakes", token=staff_token)
    assert status == 200
    refs = [i["ref"] for i in listing["intakes"]]
    assert emergency["id"] in refs and routine["id"] in refs
    first_routine = next(i for i, x in enumerate(listing["intakes"]) if not x["emergency"])
    assert all(x["emergency"] for x in listing["intakes"][:first_routine])
    assert refs.index(emergency["id"]) < first_routine
    flagged = next(x for x in listing["intakes"] if x["ref"] == emergency["id"])
    assert flagged["triage"] == 1 and flagged["device"] == "tablet-waiting-room-1"
    assert any("saddle" in f.lower() or "bladder" in f.lower() for f in flagged["red_flags"])
    status, _, bundle = http(f"{gateway}/staff/intakes/{emergency['id']}/Bundle", token=staff_token)
    assert status == 200 and bundle["resourceType"] == "Bundle"
    assert http(f"{gateway}/staff/intakes/in-nope/Bundle", token=staff_token)[0] == 404

    with suite.channel("encounter") as channel:
        records = audit_pb2_grpc.AuditServiceStub(channel).ListAuditRecords(
            audit_pb2.ListAuditRecordsRequest(limit=1000), timeout=10).records
    ref_hash = hashlib.sha256(emergency["id"].encode()).hexdigest()
    completed = [r for r in records if r.rpc == "POST /fhir/Questionnaire/$next-question"
                 and r.patient_ref_sha256 == ref_hash]
    assert len(completed) == 1 and completed[0].client_id == "tablet-waiting-room-1" and completed[0].triage == 1
    reads = [r for r in records if r.client_id == "staff-desk-1" and r.patient_ref_sha256 == ref_hash]
    assert reads and reads[0].rpc == "GET /staff/intakes/{ref}/Bundle"
    assert emergency["id"] not in str(records)  # the reference itself is only hashed


def test_another_tablet_cannot_overwrite_an_intake_and_huge_bodies_are_refused(
    gateway: str, suite: LocalSuite, tablet_token: str, form: Any
) -> None:
    final = simulate.interview(poster(gateway, tablet_token), *case("cauda_equina_emergency"), form)
    again = poster(gateway, tablet_token)(parameters(final))  # the same tablet may send it again
    assert again["status"] == "completed" and again["id"] == final["id"]
    other = suite.issue_token("tablet-exam-room-2", ["tablet"])
    status, _, outcome = http(f"{gateway}{NEXT}", token=other, body=parameters(final))
    assert status == 409 and outcome["issue"][0]["expression"] == ["QuestionnaireResponse.id"]
    huge = {"resourceType": "QuestionnaireResponse", "status": "in-progress", "text": {"status": "generated",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">" + "x" * 600_000 + "</div>"}}
    status, _, outcome = http(f"{gateway}{NEXT}", token=tablet_token, body=huge)
    assert status == 413 and outcome["resourceType"] == "OperationOutcome"
