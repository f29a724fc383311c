"""The intake questionnaire as a tablet renders it, and as a FHIR R4B Questionnaire."""

from __future__ import annotations

import json

from fhir.resources.R4B.questionnaire import Questionnaire

from services.knowledge.loader import KnowledgeBase

FORM_URL = "urn:footcds:questionnaire:foot-numbness-intake"


def fhir_questionnaire(kb: KnowledgeBase, audience: str = "patient") -> str:
    """The form as FHIR JSON; each answer option's code is ``question_id|option_id``."""
    items = []
    for question in kb.questions:
        text = question.text_patient if audience == "patient" else question.text_clinician
        items.append(
            {
                "linkId": question.id,
                "text": text,
                "type": "choice",
                "repeats": question.kind != "single",
                "answerOption": [
                    {
                        "valueCoding": {
                            "system": FORM_URL,
                            "code": f"{question.id}|{option.id}",
                            "display": option.label,
                        }
                    }
                    for option in question.options
                ],
            }
        )
    resource = Questionnaire.model_validate(
        {
            "resourceType": "Questionnaire",
            "url": FORM_URL,
            "version": kb.version,
            "name": "FootNumbnessIntake",
            "title": "Foot and lower-leg numbness intake",
            "status": "active",
            "subjectType": ["Patient"],
            "description": kb.disclaimer,
            "item": items,
        }
    )
    return json.dumps(json.loads(resource.model_dump_json(exclude_none=True)), sort_keys=True)
