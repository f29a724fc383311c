"""FHIR SDC adaptive questionnaire: QuestionnaireResponse in, suite requests out, and back.

No clinical logic here: which question comes next is NextQuestion's choice, what an answer
means is NormalizeIntake's, red flags are the intake service's. This module only translates:

* a ``$next-question`` body (Parameters with a ``questionnaire-response`` part, or a bare
  QuestionnaireResponse) -> a validated QuestionnaireResponse (fhir.resources R4B), each
  problem named by a FHIRPath expression into the request;
* its answered items -> ``QuestionnaireAnswer`` (form questions, linkId = question id, answer
  code ``question|option`` as in GetIntakeForm's Questionnaire) and ``Evidence`` (finding
  questions, linkId = finding id, answer code present / absent / unknown), remembering which
  item each came from so a suite violation names the item;
* the next question -> an item appended to the contained Questionnaire.

"I don't know" is the code ``unknown`` of ``ANSWER_SYSTEM``: kept as UNKNOWN for a finding,
and for a form question no option at all (never "no").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from footcds.v1 import common_pb2, intake_pb2
from pydantic import ValidationError

from services.gateway.outcome import HttpProblem, Issue, bad_input
from services.platform.errors import Violation

ANSWER_SYSTEM = "urn:footcds:intake-answer"  # present / absent / unknown
UNKNOWN = "unknown"
ADAPTIVE_EXTENSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive"
ADAPTIVE_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-adapt"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
BODY_MAP_EXTENSION = "urn:footcds:fhir:extension:body-map"
ALERT_EXTENSION = "urn:footcds:fhir:extension:triage-alert"  # valueCode emergency | urgent
QR = "QuestionnaireResponse"
CONTAINED_ID = "adaptive"
QR_STATUSES = frozenset({"in-progress", "completed", "amended", "entered-in-error", "stopped"})
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
STATES = {"present": common_pb2.EVIDENCE_STATE_PRESENT, "absent": common_pb2.EVIDENCE_STATE_ABSENT,
          UNKNOWN: common_pb2.EVIDENCE_STATE_UNKNOWN}


@dataclass
class Interview:
    """A parsed, validated QuestionnaireResponse and the suite requests it stands for."""

    resource: dict[str, Any]  # the QR as JSON (validated), to be returned with items appended
    questionnaire: dict[str, Any]  # the contained Questionnaire (created when absent)
    answers: list[common_pb2.QuestionnaireAnswer] = field(default_factory=list)
    evidence: list[common_pb2.Evidence] = field(default_factory=list)
    answer_items: list[int] = field(default_factory=list)  # answers[k] came from item[answer_items[k]]
    evidence_items: list[int] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # linkIds in the contained Questionnaire, in order
    unknown_findings: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return str(self.resource["id"])

    def expression(self, violation: Violation) -> str:
        """A suite field path (``answers[1].option_ids[0]``) as a FHIRPath into the request."""
        match = re.match(r"^(answers|evidence)\[(\d+)\](.*)$", violation.field)
        if not match:
            return f"{QR}.item"
        kind, index, rest = match.group(1), int(match.group(2)), match.group(3)
        items = self.answer_items if kind == "answers" else self.evidence_items
        if index >= len(items):
            return f"{QR}.item"
        item = f"{QR}.item[{items[index]}]"
        option = re.match(r"^\.option_ids\[(\d+)\]", rest)
        if option:
            return f"{item}.answer[{option.group(1)}]"
        return f"{item}.linkId" if rest in (".question_id", ".finding_id") else item


def _fhirpath(root: str, loc: tuple[int | str, ...]) -> str:
    out = root
    for part in loc:
        if part in ("root", "__root__"):  # pydantic's name for a custom type's inner value
            continue
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _validate(model: Any, data: dict[str, Any], root: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        issues = [Issue(_fhirpath(root, tuple(e["loc"])), e["msg"]) for e in exc.errors()[:10]]
        raise HttpProblem(400, issues) from None


def questionnaire_response_of(body: Any) -> dict[str, Any]:
    """The QuestionnaireResponse in a ``$next-question`` body (Parameters or bare)."""
    if not isinstance(body, dict):
        raise bad_input("", "the body must be a FHIR JSON resource: Parameters or QuestionnaireResponse")
    kind = body.get("resourceType")
    if kind == QR:
        return body
    if kind != "Parameters":
        raise bad_input("resourceType", f"expected Parameters or QuestionnaireResponse, got {kind!r}")
    for i, part in enumerate(body.get("parameter") or []):
        if isinstance(part, dict) and part.get("name") == "questionnaire-response":
            resource = part.get("resource")
            if not isinstance(resource, dict) or resource.get("resourceType") != QR:
                raise bad_input(f"Parameters.parameter[{i}].resource", "must be a QuestionnaireResponse")
            return resource
    raise bad_input("Parameters.parameter", "no 'questionnaire-response' part")


def _contained(qr: dict[str, Any]) -> tuple[int | None, dict[str, Any] | None]:
    ref = str(qr.get("questionnaire") or "")
    for i, resource in enumerate(qr.get("contained") or []):
        if isinstance(resource, dict) and resource.get("resourceType") == "Questionnaire" and (
            not ref or ref == f"#{resource.get('id')}"
        ):
            return i, resource
    return None, None


def parse(body: Any, form: dict[str, intake_pb2.FormQuestion], new_ref: str) -> Interview:
    """Validate and translate; ``form`` is GetIntakeForm's questions by id."""
    qr = questionnaire_response_of(body)
    if qr.get("status") not in QR_STATUSES:
        raise bad_input(f"{QR}.status", f"must be one of {sorted(QR_STATUSES)}, got {qr.get('status')!r}")
    _validate(QuestionnaireResponse, qr, QR)
    qr = dict(qr)
    if "id" not in qr:
        qr["id"] = new_ref
    elif not FHIR_ID.match(str(qr["id"])):
        raise bad_input(f"{QR}.id", "must be a FHIR id (an opaque reference, 1-64 letters, digits, '-', '.')")
    index, questionnaire = _contained(qr)
    if questionnaire is None:
        if qr.get("item"):
            raise bad_input(f"{QR}.contained", "answered items need the contained Questionnaire that asked them")
        questionnaire = {"resourceType": "Questionnaire", "id": CONTAINED_ID, "status": "active", "item": []}
        qr["contained"] = [*(qr.get("contained") or []), questionnaire]
        qr["questionnaire"] = f"#{CONTAINED_ID}"
    else:
        _validate(Questionnaire, questionnaire, f"{QR}.contained[{index}]")
    interview = Interview(qr, questionnaire)
    interview.asked = [str(item.get("linkId")) for item in questionnaire.get("item") or []]
    answered: set[str] = set()
    for i, item in enumerate(qr.get("item") or []):
        _item(interview, i, item, form, answered)
    for link_id in interview.asked:
        kind = next((q.get("type") for q in questionnaire["item"] if q.get("linkId") == link_id), None)
        if link_id not in answered and kind != "display":
            raise bad_input(f"{QR}.item", f"question {link_id!r} has no answer; answer it (or \"I don't know\")")
    return interview


def _item(interview: Interview, i: int, item: dict[str, Any], form: dict[str, intake_pb2.FormQuestion],
          answered: set[str]) -> None:
    where = f"{QR}.item[{i}]"
    link_id = str(item.get("linkId"))
    if link_id not in interview.asked:
        raise bad_input(f"{where}.linkId", f"unknown linkId {link_id!r}: not a question of the contained Questionnaire")
    if link_id in answered:
        raise bad_input(f"{where}.linkId", f"linkId {link_id!r} is answered twice")
    answered.add(link_id)
    answers = item.get("answer") or []
    if not answers:
        raise bad_input(f"{where}.answer", f"question {link_id!r} has no answer; answer it (or \"I don't know\")")
    codes: list[tuple[str, str]] = []
    for j, answer in enumerate(answers):
        coding = answer.get("valueCoding")
        if not isinstance(coding, dict) or not coding.get("code"):
            raise bad_input(f"{where}.answer[{j}]", "expected a valueCoding with a code")
        codes.append((str(coding.get("system") or ""), str(coding["code"])))
    dont_know = [j for j, (system, code) in enumerate(codes) if system == ANSWER_SYSTEM and code == UNKNOWN]
    if dont_know and len(codes) > 1:
        raise bad_input(f"{where}.answer[{dont_know[0]}]", "\"I don't know\" cannot be combined with other answers")
    question = form.get(link_id)
    if question is not None:
        if dont_know:
            return  # no option chosen: the question's findings stay unknown, never "no"
        options = []
        for j, (_system, code) in enumerate(codes):
            qid, _, option = code.partition("|")
            if qid != link_id or not option:
                raise bad_input(f"{where}.answer[{j}]", f"expected the code '{link_id}|<option>', got {code!r}")
            options.append(option)
        if question.kind == "single" and len(options) > 1:
            raise bad_input(f"{where}.answer[1]", f"question {link_id!r} takes one answer")
        interview.answers.append(common_pb2.QuestionnaireAnswer(question_id=link_id, option_ids=options))
        interview.answer_items.append(i)
        return
    if len(codes) > 1:
        raise bad_input(f"{where}.answer[1]", f"question {link_id!r} takes one answer: yes, no or I don't know")
    system, code = codes[0]
    if system != ANSWER_SYSTEM or code not in STATES:
        raise bad_input(f"{where}.answer[0]", f"expected {ANSWER_SYSTEM} present, absent or unknown, got {code!r}")
    interview.evidence.append(common_pb2.Evidence(finding_id=link_id, state=STATES[code]))
    interview.evidence_items.append(i)
    if code == UNKNOWN:
        interview.unknown_findings.append(link_id)


# --- building the reply -------------------------------------------------------------------


def _option(system: str, code: str, display: str) -> dict[str, Any]:
    return {"valueCoding": {"system": system, "code": code, "display": display}}


DONT_KNOW = _option(ANSWER_SYSTEM, UNKNOWN, "I don't know")


def form_item(question: intake_pb2.FormQuestion, form_url: str) -> dict[str, Any]:
    """A GetIntakeForm question as an item (answer codes as in the base Questionnaire)."""
    control = "check-box" if question.kind != "single" else "radio-button"
    item: dict[str, Any] = {
        "linkId": question.question_id, "text": question.text, "type": "choice", "required": True,
        "repeats": question.kind != "single",
        "extension": [{"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [{
            "system": "http://hl7.org/fhir/questionnaire-item-control", "code": control}]}}],
        "answerOption": [_option(form_url, f"{question.question_id}|{o.option_id}", o.label)
                         for o in question.options] + [DONT_KNOW],
    }
    if question.kind == "body_map":
        item["extension"].append({"url": BODY_MAP_EXTENSION, "valueBoolean": True})
    return item


def finding_item(finding_id: str, text: str) -> dict[str, Any]:
    """A yes / no / I don't know question about one finding (NextQuestion's choice)."""
    return {
        "linkId": finding_id, "text": text, "type": "choice", "required": True, "repeats": False,
        "answerOption": [_option(ANSWER_SYSTEM, "present", "Yes"), _option(ANSWER_SYSTEM, "absent", "No"),
                         DONT_KNOW],
    }


def alert_item(level: str) -> dict[str, Any]:
    """The emergency instruction as a display item any SDC client shows (plain words)."""
    text = ("Stop. Tell the front desk right now. If you feel very sick or it is getting worse fast, call 911."
            if level == "emergency" else "Please tell the front desk now, before you sit down again.")
    return {"linkId": "alert", "type": "display", "text": text,
            "extension": [{"url": ALERT_EXTENSION, "valueCode": level}]}


def finish(interview: Interview, *, base: str, version: str, status: str, new_item: dict[str, Any] | None,
           alert: str = "") -> dict[str, Any]:
    """The reply: the QR with the contained Questionnaire marked adaptive and ``new_item`` appended."""
    questionnaire = interview.questionnaire
    questionnaire["derivedFrom"] = [f"{base}|{version}" if version else base]
    questionnaire.setdefault("meta", {})["profile"] = [ADAPTIVE_PROFILE]
    extensions = [e for e in questionnaire.get("extension") or [] if e.get("url") != ADAPTIVE_EXTENSION]
    questionnaire["extension"] = [*extensions, {"url": ADAPTIVE_EXTENSION, "valueBoolean": True}]
    questionnaire["status"] = "active"
    items = [i for i in questionnaire.get("item") or [] if i.get("linkId") != "alert"]
    if new_item is not None:
        items.append(new_item)
    if alert:
        items.append(alert_item(alert))
    questionnaire["item"] = items
    resource = interview.resource
    resource["status"] = status
    resource["extension"] = [e for e in resource.get("extension") or [] if e.get("url") != ALERT_EXTENSION]
    if alert:
        resource["extension"].append({"url": ALERT_EXTENSION, "valueCode": alert})
    if not resource["extension"]:
        del resource["extension"]
    _validate(QuestionnaireResponse, resource, QR)  # what we send is valid FHIR too
    return resource
