"""One prior (``knowledge.priors``) for the ranking and the roster generator (issue 14).

The ranking's compiled arrays and ``footcds roster synth`` must agree on what a condition's
prior is for a patient: the same prevalence, the same age and sex modifiers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.differential.model import MAX_AGE, SETTINGS, default_model
from services.knowledge.loader import knowledge_base
from services.knowledge.models import Setting
from services.knowledge.priors import age_factors, prior_factors, prior_weight, sex_factor


def test_modifiers_apply_only_inside_their_ranges_and_for_a_listed_sex() -> None:
    kb = knowledge_base()
    condition = next(c for c in kb.conditions.values() if c.age_modifiers and c.sex_modifiers)
    mod = condition.age_modifiers[0]
    assert mod.factor in age_factors(condition, mod.min_age)
    assert mod.factor in age_factors(condition, mod.max_age)
    assert age_factors(condition, None) == ()
    sex, factor = next(iter(condition.sex_modifiers.items()))
    assert sex_factor(condition, sex) == factor
    assert sex_factor(condition, "other") == 1.0
    assert sex_factor(condition, None) == 1.0
    factors = prior_factors(condition, "general_adult", mod.min_age, sex)
    assert factors[0] == condition.prevalence.general_adult
    assert prior_weight(condition, "general_adult", mod.min_age, sex) == pytest.approx(math.prod(factors))


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_rankings_prior_is_the_shared_prior_normalised(setting: Setting) -> None:
    """exp(log prior + log age + log sex) is proportional to ``prior_weight`` at every age and sex."""
    model = default_model()
    kb = model.kb
    for age in (0, 17, 25, 40, 41, 55, 65, 80, MAX_AGE):
        for sex in ("female", "male"):
            ranking = np.exp(model.log_prior[setting] + model.log_age[age] + model.log_sex[sex])
            shared = np.array([prior_weight(kb.conditions[c], setting, age, sex) for c in model.condition_ids])
            np.testing.assert_allclose(ranking / ranking.sum(), shared / shared.sum(), rtol=1e-12)

