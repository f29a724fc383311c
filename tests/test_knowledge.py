"""The knowledge base: complete against the vocabulary, grounded, and loud when broken."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from services.knowledge.loader import (
    DATA_DIR,
    KnowledgeBase,
    KnowledgeBaseError,
    knowledge_base,
    load_knowledge_base,
)
from services.knowledge.validate import VOCABULARY_PATH, vocabulary

SHARED_VOCABULARY = Path(__file__).resolve().parents[2] / "shared" / "clinical-vocabulary.yaml"


def test_loads_with_a_content_version() -> None:
    kb = knowledge_base()
    assert re.fullmatch(r"kb-[0-9a-f]{12}", kb.version)
    assert "decision support" in kb.disclaimer


@pytest.mark.skipif(not SHARED_VOCABULARY.exists(), reason="shared/ is not beside the checkout")
def test_project_vocabulary_keeps_every_shared_id() -> None:
    shared = yaml.safe_load(SHARED_VOCABULARY.read_text())
    project = yaml.safe_load(VOCABULARY_PATH.read_text())
    assert set(shared["conditions"]) <= set(project["conditions"])
    assert set(shared["tests"]) <= set(project["tests"])
    assert shared["triage_levels"] == project["triage_levels"]
    for group, ids in shared["findings"].items():
        assert set(ids) <= set(project["findings"][group]), group


def test_every_vocabulary_id_is_in_the_knowledge_base() -> None:
    kb, vocab = knowledge_base(), vocabulary()
    assert set(kb.conditions) == vocab["conditions"]
    assert set(kb.findings) == vocab["findings"]
    assert set(kb.tests) == vocab["tests"]
    assert set(kb.triage_levels) == vocab["triage_levels"]
    assert set(kb.plans) == vocab["conditions"]


def test_every_condition_has_codes_priors_and_likelihoods() -> None:
    kb = knowledge_base()
    for cid, condition in kb.conditions.items():
        assert condition.icd10cm and condition.citations, cid
        assert 0 < condition.prevalence.sports_medicine < 1
        if cid != "other":
            assert len(kb.likelihoods.get(cid, {})) >= 5, cid


def test_emergencies_are_flagged_as_such() -> None:
    kb = knowledge_base()
    emergencies = {c for c, cond in kb.conditions.items() if cond.emergency}
    assert {"cauda_equina_syndrome", "stroke", "guillain_barre", "acute_compartment_syndrome",
            "acute_limb_ischemia", "spinal_cord_injury"} <= emergencies
    assert all(kb.conditions[c].default_triage == "emergency" for c in emergencies)


def test_every_seed_is_cited() -> None:
    kb = knowledge_base()
    seeds = {s.file for s in kb.sources.values() if s.kind == "seed"}
    assert len(seeds) == 5


@pytest.fixture()
def broken_kb(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    return data


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "mutate", "message"),
    [
        ("conditions.yaml", ("id: mortons_neuroma", "id: mortons_neuroma_typo"),
         "unknown condition id 'mortons_neuroma_typo'"),
        ("likelihoods.yaml", ("p: 0.61", "p: 1.61"), "likelihoods.yaml"),
        ("conditions.yaml", ("- G57.60", "- Q99.999"), "'Q99.999' is not a real ICD-10-CM code"),
        ("conditions.yaml", ("id: tarsal_tunnel", "id: mortons_neuroma"), "duplicated"),
    ],
    ids=["unknown-id", "probability-out-of-range", "fake-icd-code", "duplicate"],
)
def test_a_broken_file_is_caught_with_file_and_entry(
    broken_kb: Path, file: str, mutate: tuple[str, str], message: str
) -> None:
    _edit(broken_kb / file, *mutate)
    with pytest.raises(KnowledgeBaseError) as raised:
        load_knowledge_base(broken_kb)
    assert message in str(raised.value)


def test_a_missing_citation_is_caught(broken_kb: Path) -> None:
    raw = yaml.safe_load((broken_kb / "likelihoods.yaml").read_text())
    condition, findings = next(iter(raw["likelihoods"].items()))
    finding = next(iter(findings))
    findings[finding]["citations"] = ["no_such_source"]
    (broken_kb / "likelihoods.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(KnowledgeBaseError) as raised:
        load_knowledge_base(broken_kb)
    assert f"likelihoods.yaml: {condition!r} / {finding!r}: citation 'no_such_source'" in str(raised.value)


def test_a_change_in_the_data_changes_the_version(broken_kb: Path) -> None:
    before = load_knowledge_base(broken_kb).version
    _edit(broken_kb / "likelihoods.yaml", "p: 0.61", "p: 0.62")
    assert load_knowledge_base(broken_kb).version != before


def test_sources_say_what_kind_of_evidence_they_are() -> None:
    kinds = {s.kind for s in knowledge_base().sources.values()}
    assert {"primary", "review", "guideline", "seed", "summary_page"} <= kinds


def _summary_pages_cited_by_figures(kb: KnowledgeBase) -> list[str]:
    """Every clinical figure, rule or recommendation that rests on a generic web summary page."""
    pages = {key for key, source in kb.sources.items() if source.kind == "summary_page"}
    cited: list[tuple[str, list[str]]] = []
    for cid, per in kb.likelihoods.items():
        cited += [(f"likelihoods*.yaml: {cid} / {fid}", lik.citations) for fid, lik in per.items()]
    for cid, cond in kb.conditions.items():
        cited += [(f"conditions.yaml: {cid}", cond.citations)]
        cited += [(f"conditions.yaml: {cid} prevalence", cond.prevalence.citations)]
    for tid, test in kb.tests.items():
        cited += [(f"tests.yaml: {tid}", test.citations)]
        cited += [(f"tests.yaml: {tid} detects {cid}", acc.citations) for cid, acc in test.detects.items()]
        if test.value is not None:
            cited += [(f"tests.yaml: {tid} value", test.value.citations)]
    cited += [(f"treatments.yaml: item {iid}", item.citations) for iid, item in kb.treatment_items.items()]
    cited += [(f"treatments.yaml: plan {cid}", plan.citations) for cid, plan in kb.plans.items()]
    cited += [(f"team_advice.yaml: {rule.id}", rule.citations) for rule in kb.team_advice]
    cited += [(f"red_flags.yaml: {rule.id}", rule.citations) for rule in kb.red_flags]
    cited += [("triage.yaml: policy", kb.triage_policy.citations)]
    return [f"{where}: {key}" for where, keys in cited for key in keys if key in pages]


def test_no_figure_rests_on_a_summary_page() -> None:
    assert _summary_pages_cited_by_figures(knowledge_base()) == []


def test_a_summary_page_cited_by_a_likelihood_is_caught(broken_kb: Path) -> None:
    raw = yaml.safe_load((broken_kb / "likelihoods.yaml").read_text())
    raw["likelihoods"]["tarsal_tunnel"]["ex_tinel_tarsal_tunnel"]["citations"].append("physio")
    (broken_kb / "likelihoods.yaml").write_text(yaml.safe_dump(raw))
    found = _summary_pages_cited_by_figures(load_knowledge_base(broken_kb))
    assert found == ["likelihoods*.yaml: tarsal_tunnel / ex_tinel_tarsal_tunnel: physio"]
