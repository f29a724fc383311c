"""Clinical policy as data: the cut-offs and weights in ``data/policy.yaml``.

They used to be constants in the treatment, interview, work-up and FHIR code; as data they
carry a source or an estimate's reason like every other number of the knowledge base, and
they are part of its version (the loader hashes every data file).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

DATA_DIR = Path(__file__).resolve().parent / "data"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyNumber(Strict):
    """One number: cited (``source``, an id in sources*.yaml) or an estimate with its reason."""

    value: float
    source: str | None = None
    estimate: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _cited_or_estimated(self) -> PolicyNumber:
        if (self.source is None) == (self.estimate is None):
            raise ValueError("give exactly one of 'source' (a source id) or 'estimate' (the reason)")
        if self.estimate is not None and len(self.estimate.split()) < 5:
            raise ValueError("an estimate says why, in a sentence")
        return self


class TreatmentPolicy(Strict):
    meaningful_probability: PolicyNumber  # below this a non-leading condition gets no plan
    age_flag_years: PolicyNumber  # the age_65_or_over flag
    competition_window_days: PolicyNumber  # the upcoming_competition flag


class DontMissPolicy(Strict):
    dont_miss_weight: PolicyNumber


class InterviewPolicy(DontMissPolicy):
    # the interview may stop with a confident leader only when no other don't-miss condition is this probable
    stop_open_dont_miss: PolicyNumber


class TriageRules(Strict):
    """Triage cut-offs outside triage.yaml's probability thresholds (which carry one citation block)."""

    self_care_min_probability: PolicyNumber  # below this the self-care causes together do not make it self-care


class WorkupRules(DontMissPolicy):
    no_test_dont_miss_ceiling: PolicyNumber  # self-care triage: no test unless a don't-miss cause reaches this


class FhirPolicy(Strict):
    provisional_probability: PolicyNumber  # a leader this probable is "provisional"


class ClinicalPolicy(Strict):
    treatment: TreatmentPolicy
    interview: InterviewPolicy
    workup: WorkupRules
    triage: TriageRules
    fhir: FhirPolicy

    def numbers(self) -> dict[str, PolicyNumber]:
        """Every number by its dotted name (for validation against the sources)."""
        return {
            f"{section}.{name}": number
            for section, group in self
            for name, number in group
        }


def load_policy(path: Path = DATA_DIR / "policy.yaml") -> ClinicalPolicy:
    """Raises ``pydantic.ValidationError`` naming the broken entry."""
    return ClinicalPolicy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def clinical_policy() -> ClinicalPolicy:
    """The process-wide policy, read once (like the knowledge base)."""
    return load_policy()
