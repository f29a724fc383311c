"""``validate`` reads each knowledge base's questions, implication order and age stand-ins once
(``domain._rules``) instead of per case (issue 15: it runs three times per athlete of a team
screening).  What it prepares belongs to the base it was prepared from: another base - here one
whose age stand-in starts at another age - gets its own, never the first one's."""

from __future__ import annotations

import dataclasses

from services.intake import domain
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base
from services.platform.errors import InvalidInput


def _stand_in(kb_findings: dict[str, object]) -> str:
    return next(fid for fid, f in kb_findings.items() if getattr(f, "age_above", None) is not None)


def test_an_age_stand_in_follows_the_base_it_was_prepared_from() -> None:
    kb = knowledge_base()
    stand_in = _stand_in(dict(kb.findings))
    threshold = kb.findings[stand_in].age_above
    assert threshold is not None
    items = [domain.EvidenceInput("loc_calf", State.PRESENT)]
    age = threshold + 5
    assert domain.validate(kb, Patient(age=age), items).evidence[stand_in] is State.PRESENT
    later = kb.findings[stand_in].model_copy(update={"age_above": threshold + 10})
    other = dataclasses.replace(kb, findings={**kb.findings, stand_in: later})
    assert domain.validate(other, Patient(age=age), items).evidence[stand_in] is State.ABSENT
    assert domain.validate(kb, Patient(age=age), items).evidence[stand_in] is State.PRESENT  # still


def test_an_answer_to_an_unknown_question_is_named_and_no_answers_need_no_questions() -> None:
    kb = knowledge_base()
    items = [domain.EvidenceInput("loc_calf", State.PRESENT)]
    try:
        domain.validate(kb, Patient(), items, [domain.AnswerInput("no_such_question", ())])
    except InvalidInput as exc:
        assert [v.field for v in exc.violations] == ["answers[0].question_id"]
    else:
        raise AssertionError("an unknown question was accepted")
    assert domain.validate(kb, Patient(), items).evidence["loc_calf"] is State.PRESENT
