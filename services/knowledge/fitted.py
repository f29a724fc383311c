"""Schema of the case-fitted likelihood layer (``fitted_likelihoods.yaml``; docs/ranking.md, section 8).

Its own module because the layer is an update over ``likelihoods*.yaml`` with its own rules
(generated from the spent cases, never edited): the values must follow from their priors and
counts, which this schema checks so that a hand edit fails at load.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, model_validator

from services.knowledge.models import Cited, RedFlagRule, Strict


def posterior_mean(
    prior: float, present: float, absent: float, k: float, absent_weight: float, floor: float, ceiling: float
) -> float:
    """The Beta posterior mean of P(f | c), clipped: ``prior`` worth ``k`` cases, updated by how
    often published patients were reported with the finding present / absent. The one formula
    the generator (devtools/casefit.py) writes with and this schema checks with."""
    value = (k * prior + present) / (k + present + absent_weight * absent)
    return min(max(value, floor), ceiling)


class FittedPair(Strict):
    """One (condition, finding) after the empirical-Bayes update (docs/ranking.md, section 8).

    ``p = (k * prior + present) / (k + present + absent_weight * absent)``, clipped, unless a
    parent finding's fitted value caps it (``capped_by_parent``: a child is never likelier than
    the finding it implies). Checked here so a hand edit of a value fails at load.
    """

    prior: float = Field(gt=0, lt=1)
    k: float = Field(gt=0)
    present: int = Field(ge=0)
    absent: int = Field(ge=0)
    p: float = Field(gt=0, lt=1)
    capped_by_parent: bool = False


class FitMethod(Strict):
    description: str
    fit_listed: bool
    k_listed: float = Field(gt=0)
    k_unlisted: float = Field(gt=0)
    absent_weight: float = Field(ge=0, le=1)
    fit_other: bool
    fit_emergency: bool
    min_stated: int = Field(ge=1)
    # For a finding that makes an emergency red-flag rule fire, the fit never lowers an emergency
    # row below its prior nor raises a non-emergency row above it (docs/ranking.md, section 8).
    red_flag_guard: bool = False
    p_floor: float = Field(gt=0, lt=0.5)
    p_ceiling: float = Field(gt=0.5, lt=1)
    cross_validation: str


class FitCorpus(Cited):
    """The spent case sets the counts come from: folder -> corpus digest (realcases.corpus_digest)."""

    sets: dict[str, str] = Field(min_length=1)
    cases: int = Field(ge=1)
    cases_per_condition: dict[str, int]


class FittedLayer(Strict):
    """``fitted_likelihoods.yaml``: an update layer over likelihoods*.yaml, generated, never edited."""

    method: FitMethod
    corpus: FitCorpus
    updates: dict[str, dict[str, FittedPair]]

    @model_validator(mode="after")
    def _values_follow_from_counts(self) -> FittedLayer:
        m = self.method
        for cid, per in self.updates.items():
            for fid, pair in per.items():
                expected = round(posterior_mean(pair.prior, pair.present, pair.absent, pair.k,
                                                m.absent_weight, m.p_floor, m.p_ceiling), 4)
                # A capped child may only be lower than its own update (its parent's value).
                ok = pair.p <= expected + 1e-4 if pair.capped_by_parent else abs(pair.p - expected) <= 1e-4
                if not ok:
                    raise ValueError(
                        f"updates.{cid}.{fid}: p {pair.p} does not follow from its prior and counts "
                        f"({expected}); regenerate with `make fit-likelihoods`"
                    )
                if pair.present + pair.absent < m.min_stated:
                    raise ValueError(f"updates.{cid}.{fid}: stated {pair.present + pair.absent} times, "
                                     f"below min_stated {m.min_stated}")
        return self


def red_flag_ingredients(rules: Iterable[RedFlagRule]) -> frozenset[str]:
    """Findings that make an emergency red-flag rule fire (``all_of``, ``any_of``, ``and_any_of``).

    Why: the red-flag guard keeps the fit from weakening the evidence these findings give for the
    emergencies they flag (red flags are never traded).
    """
    out: set[str] = set()
    for rule in rules:
        if rule.level == "emergency":
            out.update(rule.all_of, rule.any_of, *rule.and_any_of)
    return frozenset(out)
