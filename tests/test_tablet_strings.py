"""The tablet's strings and body map against the knowledge base: no server needed.

A language is a strings file; each must carry every UI key English has. The body map's SVG
regions must be options of the intake form's body-map question, or a tap would mean nothing.
"""

from __future__ import annotations

import json
import re
from importlib import resources

from services.gateway.tablet.pages import languages
from services.knowledge import knowledge_base

PACKAGE = resources.files("services.gateway.tablet")


def strings(lang: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(PACKAGE.joinpath("strings", f"{lang}.json").read_text())
    return data


def test_every_language_has_every_ui_string() -> None:
    assert {"en", "es"} <= set(languages())
    english = strings("en")
    for lang in languages():
        data = strings(lang)
        assert data["lang"] == lang
        missing, extra = set(english) - set(data), set(data) - set(english)
        assert not missing and not extra, f"{lang}: missing {missing}, extra {extra}"
        for key, value in data.items():
            if key not in ("questions", "options"):
                assert isinstance(value, str) and value.strip(), f"{lang}.{key} is empty"
        assert "911" in str(data["emergency_text"])  # the emergency number survives translation


def test_translations_name_real_questions_and_options() -> None:
    form = {q.id: {o.id for o in q.options} for q in knowledge_base().questions}
    for lang in languages():
        data = strings(lang)
        questions, options = data["questions"], data["options"]
        assert isinstance(questions, dict) and isinstance(options, dict)
        assert set(questions) <= set(form), f"{lang}: stale question translations {set(questions) - set(form)}"
        for code in options:
            question, _, option = code.partition("|")
            assert option in form.get(question, set()), f"{lang}: stale option translation {code!r}"


def test_every_body_map_region_is_a_location_option() -> None:
    svg = PACKAGE.joinpath("static", "intake.html").read_text()
    regions = set(re.findall(r'class="region" data-option="(\w+)"', svg))
    body_maps = [q for q in knowledge_base().questions if q.kind == "body_map"]
    assert len(body_maps) == 1
    options = {o.id for o in body_maps[0].options}
    assert regions and regions <= options, f"regions without an option: {regions - options}"
    assert {"toes", "sole", "heel", "dorsum", "calf"} <= regions
