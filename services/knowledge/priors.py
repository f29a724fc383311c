"""A condition's prior for a patient: the one definition the ranking and the roster generator share.

Why here: the ranking (``differential.model`` compiles it into log arrays) and ``footcds roster
synth`` (draws conditions with it) must mean the same thing by "prior", and both already depend
on the knowledge base, so the function lives with the data it reads.

The prior of condition ``c`` for a patient is a product of factors, in this order: the
condition's prevalence in the setting (``conditions.yaml``, cited), every age modifier whose
range holds the age, then the sex modifier (1.0 when the sex is unknown, "other" or not
listed).  The ranking normalises the prevalences across conditions and adds the logs of the
factors; the generator multiplies them.  Both take the factors from here, in the same order,
so the two cannot drift apart.
"""

from __future__ import annotations

import math

from services.knowledge.models import Condition, Setting


def prevalence(condition: Condition, setting: Setting) -> float:
    """The condition's prevalence among patients with foot/leg numbness in the setting (cited)."""
    value: float = getattr(condition.prevalence, setting)
    return value


def age_factors(condition: Condition, age: int | None) -> tuple[float, ...]:
    """The age modifiers that apply at ``age`` (inclusive ranges), in data order; none if unknown."""
    if age is None:
        return ()
    return tuple(mod.factor for mod in condition.age_modifiers if mod.min_age <= age <= mod.max_age)


def sex_factor(condition: Condition, sex: str | None) -> float:
    """The sex modifier; 1.0 for an unknown sex, "other" or a sex the condition does not list."""
    modifiers: dict[str, float] = {str(k): v for k, v in condition.sex_modifiers.items()}
    return modifiers.get(sex, 1.0) if sex is not None else 1.0


def prior_factors(condition: Condition, setting: Setting, age: int | None, sex: str | None) -> tuple[float, ...]:
    """(prevalence in the setting, *age factors, sex factor): the prior is their product."""
    return (prevalence(condition, setting), *age_factors(condition, age), sex_factor(condition, sex))


def prior_weight(condition: Condition, setting: Setting, age: int | None, sex: str | None) -> float:
    """The unnormalised prior: the product of ``prior_factors``, left to right."""
    return math.prod(prior_factors(condition, setting, age, sex))
