"""Clinical policy as data (knowledge/data/policy.yaml): cited or estimated, versioned, used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.knowledge.clinical import Patient
from services.knowledge.loader import DATA_DIR, KnowledgeBaseError, knowledge_base, load_knowledge_base
from services.knowledge.policy import clinical_policy, load_policy
from services.treatment import domain as treatment


def test_every_cited_policy_number_names_a_known_source() -> None:
    sources = knowledge_base().sources
    numbers = clinical_policy().numbers()
    assert len(numbers) == 9
    for name, number in numbers.items():
        assert number.source in sources or number.estimate, name


def _write(tmp_path: Path, edit: dict[str, object]) -> Path:
    data = yaml.safe_load((DATA_DIR / "policy.yaml").read_text())
    data["treatment"]["age_flag_years"] = edit
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "entry, complaint",
    [
        ({"value": 65}, "exactly one of 'source'"),
        ({"value": 65, "source": "w_np_tab", "estimate": "both given here is not allowed at all"}, "exactly one"),
        ({"value": 65, "estimate": "a guess"}, "says why"),
        ({"value": "old", "source": "w_np_tab"}, "value"),
    ],
)
def test_an_uncited_or_unexplained_number_is_refused_naming_it(
    tmp_path: Path, entry: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint) as raised:
        load_policy(_write(tmp_path, entry))
    assert "treatment.age_flag_years" in str(raised.value)


def test_the_policy_is_part_of_the_knowledge_base_version(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    before = load_knowledge_base(copy, check_codes=False).version
    text = (copy / "policy.yaml").read_text()
    (copy / "policy.yaml").write_text(text.replace("value: 0.6\n", "value: 0.7\n"))
    assert load_knowledge_base(copy, check_codes=False).version != before


def test_the_treatment_flags_follow_the_policy_cut_offs() -> None:
    policy = clinical_policy().treatment
    age = int(policy.age_flag_years.value)
    window = int(policy.competition_window_days.value)
    assert "age_65_or_over" in treatment.context_flags(Patient(age=age))
    assert "age_65_or_over" not in treatment.context_flags(Patient(age=age - 1))
    assert "upcoming_competition" in treatment.context_flags(Patient(days_to_competition=window))
    assert "upcoming_competition" not in treatment.context_flags(Patient(days_to_competition=window + 1))


def test_a_triage_file_ordering_the_levels_otherwise_is_refused(tmp_path: Path) -> None:
    """The code's triage order is the knowledge base's; a triage.yaml that disagrees does not load."""
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    data = yaml.safe_load((copy / "triage.yaml").read_text())
    ranks = {level["id"]: level["rank"] for level in data["levels"]}
    for level in data["levels"]:
        level["rank"] = {"urgent": ranks["routine"], "routine": ranks["urgent"]}.get(level["id"], level["rank"])
    (copy / "triage.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(KnowledgeBaseError, match=r"triage.yaml: levels: ranks order them"):
        load_knowledge_base(copy, check_codes=False)


def test_the_no_test_entry_is_marked_in_the_catalogue_once(tmp_path: Path) -> None:
    assert knowledge_base().tests[knowledge_base().no_test_id].no_test
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    text = (copy / "tests.yaml").read_text()
    (copy / "tests.yaml").write_text(text.replace("    no_test: true", "    no_test: false"))
    with pytest.raises(KnowledgeBaseError, match=r"tests.yaml: exactly one test must have no_test: true; found \[\]"):
        load_knowledge_base(copy, check_codes=False)
