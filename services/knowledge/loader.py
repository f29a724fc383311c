"""Load the knowledge base from YAML, validate it, and version it by content hash.

Loading happens once per process (``knowledge_base()`` caches); the hot paths take the
returned object and never touch the files again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from services.knowledge.clinical import TRIAGE_ORDER
from services.knowledge.correction import RankingCorrection
from services.knowledge.fitted import FittedLayer, red_flag_ingredients
from services.knowledge.models import (
    Condition,
    ConditionPlan,
    DiagnosticTest,
    EvidenceModel,
    ExclusivePair,
    Finding,
    Likelihood,
    Question,
    RedFlagRule,
    Source,
    TeamAdviceRule,
    TreatmentItem,
    TriageLevel,
    TriagePolicy,
    TriageSurface,
)

DATA_DIR = Path(__file__).parent / "data"
# The update layer fitted to the spent published cases (devtools/fit_likelihoods.py); optional.
FITTED_FILE = "fitted_likelihoods.yaml"
CORRECTION_FILE = "ranking_correction.yaml"
DISCLAIMER = (
    "FootCDS is decision support for a clinician. It does not diagnose, and its output must be "
    "reviewed by a qualified clinician together with the history and examination."
)

M = TypeVar("M", bound=BaseModel)


class KnowledgeBaseError(ValueError):
    """The knowledge base is broken; the message names the file and the entry."""


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    sources: dict[str, Source]
    conditions: dict[str, Condition]
    findings: dict[str, Finding]
    likelihoods: dict[str, dict[str, Likelihood]]
    red_flags: list[RedFlagRule]
    triage_levels: dict[str, TriageLevel]
    triage_policy: TriagePolicy
    tests: dict[str, DiagnosticTest]
    treatment_items: dict[str, TreatmentItem]
    plans: dict[str, ConditionPlan]
    questions: list[Question]
    evidence_model: EvidenceModel | None = None
    exclusive_pairs: list[ExclusivePair] = field(default_factory=list)
    team_advice: list[TeamAdviceRule] = field(default_factory=list)
    flags_from_findings: dict[str, str] = field(default_factory=dict)
    disclaimer: str = DISCLAIMER
    condition_ids: tuple[str, ...] = field(default=())
    finding_ids: tuple[str, ...] = field(default=())
    # The case-fitted ranking correction (ranking_correction.yaml, docs/ranking.md section 9).
    correction: RankingCorrection | None = None

    def triage_label(self, level: str, surface: TriageSurface, default: str = "") -> str:
        """What ``surface`` calls a triage level id (triage.yaml ``labels``); ``default`` if unknown."""
        found = self.triage_levels.get(level)
        return str(getattr(found.labels, surface)) if found is not None else default

    @cached_property
    def no_test_id(self) -> str:
        """The catalogue's "no test needed now" entry (``no_test: true`` in tests.yaml)."""
        return next(t.id for t in self.tests.values() if t.no_test)


# libyaml's parser when PyYAML has it (its wheels do): the same safe documents, about six times faster.
# Why: every service process and many tests load the knowledge base; the pure-Python parser took seconds.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path.name}: expected a mapping at the top level")
    return data


def _entry_name(raw: Any, index: int | str) -> str:
    if isinstance(raw, dict) and "id" in raw:
        return f"entry {raw['id']!r}"
    return f"entry {index!r}"


def _parse(model: type[M], raw: Any, where: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(entry)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise KnowledgeBaseError(f"{where}: {problems}") from None


def _parse_list(model: type[M], items: Any, file: str, key: str) -> list[M]:
    if not isinstance(items, list):
        raise KnowledgeBaseError(f"{file}: '{key}' must be a list")
    return [
        _parse(model, raw, f"{file}: {key} {_entry_name(raw, i)}") for i, raw in enumerate(items)
    ]


def _index(items: list[Any], file: str, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        ident = getattr(item, "id", None) or item.condition_id
        if ident in out:
            raise KnowledgeBaseError(f"{file}: {key} entry {ident!r} is duplicated")
        out[ident] = item
    return out


def _content_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_knowledge_base(
    data_dir: Path = DATA_DIR, *, check_codes: bool = True, fitted: bool = True, corrected: bool | None = None
) -> KnowledgeBase:
    """Read, parse and cross-validate every data file in ``data_dir``.

    ``fitted=False`` leaves out the case-fitted update layer (``fitted_likelihoods.yaml``): the
    knowledge base the fit starts from (its priors), which the generator and its test need.
    ``corrected`` (default: as ``fitted``) includes the case-fitted ranking correction
    (``ranking_correction.yaml``), which is fitted on top of the fitted layer.
    """
    from services.knowledge.validate import validate_knowledge_base

    files = sorted(data_dir.glob("*.yaml"))
    if not files:
        raise KnowledgeBaseError(f"{data_dir}: no knowledge-base files")

    sources: dict[str, Source] = {}
    for path in files:
        if not path.name.startswith("sources"):
            continue
        raw_sources = _read(path).get("sources")
        if not isinstance(raw_sources, dict):
            raise KnowledgeBaseError(f"{path.name}: 'sources' must be a mapping of key -> source")
        for key, raw in raw_sources.items():
            if key in sources:
                raise KnowledgeBaseError(f"{path.name}: source {key!r} is duplicated")
            sources[key] = _parse(Source, raw, f"{path.name}: source {key!r}")

    def read(name: str) -> dict[str, Any]:
        path = data_dir / name
        if not path.exists():
            raise KnowledgeBaseError(f"{name}: missing from {data_dir}")
        return _read(path)

    conditions = _index(
        _parse_list(Condition, read("conditions.yaml").get("conditions"), "conditions.yaml", "conditions"),
        "conditions.yaml",
        "conditions",
    )
    findings = _index(
        _parse_list(Finding, read("findings.yaml").get("findings"), "findings.yaml", "findings"),
        "findings.yaml",
        "findings",
    )

    read("likelihoods.yaml")  # the main table must exist; likelihoods_*.yaml extend it
    likelihoods: dict[str, dict[str, Likelihood]] = {}
    for path in files:
        if not path.name.startswith("likelihoods"):
            continue
        raw_likelihoods = _read(path).get("likelihoods")
        if not isinstance(raw_likelihoods, dict):
            raise KnowledgeBaseError(f"{path.name}: 'likelihoods' must map condition -> findings")
        for condition_id, per_finding in raw_likelihoods.items():
            if not isinstance(per_finding, dict):
                raise KnowledgeBaseError(f"{path.name}: {condition_id!r} must map finding -> p")
            table = likelihoods.setdefault(condition_id, {})
            for finding_id, raw in per_finding.items():
                if finding_id in table:
                    raise KnowledgeBaseError(
                        f"{path.name}: {condition_id!r} / {finding_id!r} is already given in another "
                        "likelihoods*.yaml"
                    )
                table[finding_id] = _parse(
                    Likelihood, raw, f"{path.name}: {condition_id!r} / {finding_id!r}"
                )

    fitted_layer: FittedLayer | None = None
    if fitted and (data_dir / FITTED_FILE).exists():
        fitted_layer = _parse(FittedLayer, _read(data_dir / FITTED_FILE), FITTED_FILE)

    correction: RankingCorrection | None = None
    if (fitted if corrected is None else corrected) and (data_dir / CORRECTION_FILE).exists():
        correction = _parse(RankingCorrection, _read(data_dir / CORRECTION_FILE), CORRECTION_FILE)

    red_flags = _parse_list(RedFlagRule, read("red_flags.yaml").get("red_flags"), "red_flags.yaml", "red_flags")
    _index(red_flags, "red_flags.yaml", "red_flags")

    triage_raw = read("triage.yaml")
    triage_levels = _index(
        _parse_list(TriageLevel, triage_raw.get("levels"), "triage.yaml", "levels"),
        "triage.yaml",
        "levels",
    )
    by_rank = tuple(level.id for level in sorted(triage_levels.values(), key=lambda level: level.rank))
    if by_rank != TRIAGE_ORDER:
        raise KnowledgeBaseError(f"triage.yaml: levels: ranks order them {by_rank}; expected {TRIAGE_ORDER}")
    triage_policy = _parse(TriagePolicy, triage_raw.get("policy"), "triage.yaml: policy")
    for setting_name, setting_table in (("emergency_needs_context", triage_policy.emergency_needs_context),
                                        ("emergency_not_when", triage_policy.emergency_not_when)):
        for setting_cid, setting_fids in setting_table.items():
            if setting_cid not in conditions or not conditions[setting_cid].emergency:
                raise KnowledgeBaseError(
                    f"triage.yaml: policy.{setting_name}: {setting_cid!r} is not an emergency condition")
            if unknown := [f for f in setting_fids if f not in findings]:
                raise KnowledgeBaseError(
                    f"triage.yaml: policy.{setting_name}.{setting_cid}: unknown findings {unknown}")
    # Round 12: a gate list names emergency conditions with a setting to read (a leader reads only the needs).
    tp = triage_policy
    either = {**tp.emergency_not_when, **tp.emergency_needs_context}
    gate_lists = (("emergency_setting_gates_leader", tp.emergency_setting_gates_leader, tp.emergency_needs_context),
                  ("emergency_setting_gates_dont_miss", tp.emergency_setting_gates_dont_miss, either))
    for gate_name, gated, gate_table in gate_lists:
        if bad := [c for c in gated if c not in gate_table]:
            raise KnowledgeBaseError(f"triage.yaml: policy.{gate_name}: {bad} have no setting to read")

    tests = _index(
        _parse_list(DiagnosticTest, read("tests.yaml").get("tests"), "tests.yaml", "tests"),
        "tests.yaml",
        "tests",
    )
    no_test = [t.id for t in tests.values() if t.no_test]
    if len(no_test) != 1:
        raise KnowledgeBaseError(f"tests.yaml: exactly one test must have no_test: true; found {no_test}")
    treatments_raw = read("treatments.yaml")
    treatment_items = _index(
        _parse_list(TreatmentItem, treatments_raw.get("items"), "treatments.yaml", "items"),
        "treatments.yaml",
        "items",
    )
    plans = _index(
        _parse_list(ConditionPlan, treatments_raw.get("plans"), "treatments.yaml", "plans"),
        "treatments.yaml",
        "plans",
    )
    questions = _parse_list(
        Question, read("questionnaire.yaml").get("questions"), "questionnaire.yaml", "questions"
    )
    _index(questions, "questionnaire.yaml", "questions")

    intake_rules = read("intake_rules.yaml")
    flags_from_findings = intake_rules.get("flags_from_findings") or {}
    if not isinstance(flags_from_findings, dict):
        raise KnowledgeBaseError("intake_rules.yaml: 'flags_from_findings' must map finding -> flag")
    exclusive_pairs = _parse_list(
        ExclusivePair,
        intake_rules.get("mutually_exclusive"),
        "intake_rules.yaml",
        "mutually_exclusive",
    )

    evidence_model = _parse(EvidenceModel, read("evidence_model.yaml"), "evidence_model.yaml")

    team_advice = _parse_list(
        TeamAdviceRule, read("team_advice.yaml").get("team_advice"), "team_advice.yaml", "team_advice"
    )
    _index(team_advice, "team_advice.yaml", "team_advice")

    kb = KnowledgeBase(
        version=f"kb-{_content_hash(files)}" + ("" if fitted else "-unfitted"),
        sources=sources,
        conditions=conditions,
        findings=findings,
        likelihoods=likelihoods,
        red_flags=red_flags,
        triage_levels=triage_levels,
        triage_policy=triage_policy,
        tests=tests,
        treatment_items=treatment_items,
        plans=plans,
        questions=questions,
        evidence_model=evidence_model,
        exclusive_pairs=exclusive_pairs,
        flags_from_findings={str(k): str(v) for k, v in flags_from_findings.items()},
        team_advice=team_advice,
        condition_ids=tuple(conditions),
        finding_ids=tuple(findings),
    )
    if fitted_layer is not None:
        kb = _apply_layer(kb, fitted_layer)
    validate_knowledge_base(kb, check_codes=check_codes)
    if correction is not None:  # after the tables are known sound, so their own errors come first
        problems = correction.problems(conditions, findings, red_flag_ingredients(red_flags))
        if problems:
            raise KnowledgeBaseError(f"{CORRECTION_FILE}: " + "; ".join(problems))
        kb = replace(kb, correction=correction)
    return kb


def _apply_layer(kb: KnowledgeBase, layer: FittedLayer) -> KnowledgeBase:
    """The fitted values replace (or add) their pairs; each keeps its prior's citations plus the corpus.

    Refused: a pair of an unknown condition or finding, an emergency or "other" row when the
    method says those rows are not fitted, and a listed pair whose recorded prior is not the
    table's value (the tables changed since the fit: regenerate).
    """
    problems: list[str] = []
    guarded = red_flag_ingredients(kb.red_flags) if layer.method.red_flag_guard else frozenset()
    for cid, per in layer.updates.items():
        condition = kb.conditions.get(cid)
        if condition is None:
            problems.append(f"updates: unknown condition {cid!r}")
            continue
        if (condition.emergency and not layer.method.fit_emergency) or (
            cid == "other" and not layer.method.fit_other
        ):
            problems.append(f"updates: {cid!r} is not fitted by this method")
        for fid, pair in per.items():
            listed = kb.likelihoods.get(cid, {}).get(fid)
            if fid not in kb.findings:
                problems.append(f"updates.{cid}: unknown finding {fid!r}")
            elif listed is not None and not layer.method.fit_listed:
                problems.append(f"updates.{cid}.{fid}: a listed pair, and this method fits only unlisted ones")
            elif listed is not None and abs(listed.p - pair.prior) > 1e-4:
                problems.append(
                    f"updates.{cid}.{fid}: prior {pair.prior} but likelihoods*.yaml says {listed.p}; "
                    "regenerate with `make fit-likelihoods`"
                )
            if fid in guarded and (pair.p < pair.prior if condition.emergency else pair.p > pair.prior):
                problems.append(f"updates.{cid}.{fid}: a red-flag finding moved against its emergency "
                                "(the method's red_flag_guard); regenerate with `make fit-likelihoods`")
    if problems:
        raise KnowledgeBaseError(f"{FITTED_FILE}: " + "; ".join(problems))
    reason = layer.corpus.estimate_reason or "fitted to published case reports"
    values = {(cid, fid): pair.p for cid, per in layer.updates.items() for fid, pair in per.items()}
    return apply_fitted(kb, values, layer.corpus.citations, reason)


def apply_fitted(
    kb: KnowledgeBase,
    values: dict[tuple[str, str], float],
    citations: list[str] | None = None,
    reason: str = "fitted to published case reports (cross-validation)",
) -> KnowledgeBase:
    """``kb`` with ``values`` as its P(f | c) for those pairs (the rest untouched)."""
    corpus = citations or ["footcds_case_corpus"]
    tables = {cid: dict(per) for cid, per in kb.likelihoods.items()}
    for (cid, fid), p in values.items():
        old = tables.get(cid, {}).get(fid)
        kept = list(old.citations) if old is not None else []
        cites = [*kept, *(c for c in corpus if c not in kept)]
        tables.setdefault(cid, {})[fid] = Likelihood(p=p, citations=cites, estimate=True, estimate_reason=reason)
    return replace(kb, likelihoods=tables)


@cache
def knowledge_base() -> KnowledgeBase:
    """The process-wide knowledge base, loaded once."""
    return load_knowledge_base()
