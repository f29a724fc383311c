"""A simulated patient for the adaptive intake: answers each question from a case's findings.

Used by the tests and by the bench (questions asked per interview on the clinical cases). The
patient answers what the case says and "I don't know" otherwise, like a person who knows their
symptoms but not every detail: a form question gets the options whose findings the case has
present (or, failing that, an option that rules out findings the case has absent); a finding
question gets yes / no / I don't know.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from services.gateway.tablet.sdc import ANSWER_SYSTEM, UNKNOWN

Post = Callable[[dict[str, Any]], dict[str, Any]]


def _answers_for(item: dict[str, Any], present: Collection[str], absent: Collection[str],
                 form: dict[str, Any]) -> list[dict[str, Any]]:
    options = [o["valueCoding"] for o in item.get("answerOption", [])]
    dont_know = [{"valueCoding": c} for c in options if c["system"] == ANSWER_SYSTEM and c["code"] == UNKNOWN]
    link = item["linkId"]
    if link in form:  # a form question: options carry the findings they set
        chosen = []
        for coding in options:
            sets = form[link].get(coding["code"].partition("|")[2])
            if sets is None:
                continue
            sets_present, sets_absent = sets
            if set(sets_present) & set(present) and not set(sets_present) & set(absent):
                chosen.append({"valueCoding": coding})
        if not chosen:
            chosen = [{"valueCoding": c} for c in options if c["code"].partition("|")[2] in form[link]
                      and not form[link][c["code"].partition("|")[2]][0]
                      and set(form[link][c["code"].partition("|")[2]][1]) & set(absent)][:1]
        if chosen and not item.get("repeats"):
            chosen = chosen[:1]
        return chosen or dont_know
    state = "present" if link in present else "absent" if link in absent else UNKNOWN
    return [{"valueCoding": c} for c in options if c["code"] == state][:1]


def interview(post: Post, present: Collection[str], absent: Collection[str],
              form: dict[str, dict[str, tuple[list[str], list[str]]]], max_steps: int = 100,
              on_reply: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run one interview to its end through ``post`` (one ``$next-question`` round trip);
    ``form`` maps question id -> option id -> (sets_present, sets_absent). Returns the final QR."""
    qr: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "status": "in-progress"}
    for _ in range(max_steps):
        qr = post({"resourceType": "Parameters", "parameter": [{"name": "questionnaire-response", "resource": qr}]})
        if on_reply is not None:
            on_reply(qr)
        if qr["status"] != "in-progress":
            return qr
        questionnaire = next(r for r in qr["contained"] if r["resourceType"] == "Questionnaire")
        answered = {i["linkId"] for i in qr.get("item", [])}
        for item in questionnaire["item"]:
            if item["linkId"] not in answered and item["type"] != "display":
                qr.setdefault("item", []).append({"linkId": item["linkId"], "text": item.get("text", ""),
                                                  "answer": _answers_for(item, present, absent, form)})
    raise RuntimeError(f"the interview did not end within {max_steps} questions")
