"""Choose the next question by expected information gain (the math: docs/ranking.md).

For each unknown finding f, with the current posterior P(c):
  P(f) = sum_c P(c) p(f|c);  gain(f) = H(P) - [P(f) H(P | f) + (1 - P(f)) H(P | not f)].
With ``prioritize_dont_miss`` the entropy of the binary split "some don't-miss condition vs
none" is added to the gain, so questions that rule an emergency in or out rise.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from services.differential.ranking import Array, RankingModel, default_model, posterior
from services.knowledge.clinical import Case, State
from services.knowledge.policy import clinical_policy

STOP_LEADER_PROBABILITY = 0.85
STOP_MIN_GAIN = 0.01
DONT_MISS_WEIGHT = clinical_policy().interview.dont_miss_weight.value  # knowledge/data/policy.yaml
# no confident stop while another don't-miss condition is this probable (policy.yaml says why it is not triage's)
STOP_OPEN_DONT_MISS = clinical_policy().interview.stop_open_dont_miss.value
# "I don't know" answers (``exclude``): the next question is worth its expected gain only if
# the patient can answer it. The chance of an informative answer is estimated from this
# interview's own answers by Laplace's rule of succession, (answered + 1) / (asked + 2), and
# the interview stops when the expected gain times that chance falls below
# STOP_MIN_INFORMATIVE_GAIN (0.03 nats, an estimate checked on the dev split of the real cases:
# right leader 0.68 after 14.5 questions vs 0.70 after 24.7 running to the 30 cap).
STOP_MIN_INFORMATIVE_GAIN = 0.03


@dataclass(frozen=True, slots=True)
class NextQuestion:
    finding_id: str | None
    expected_gain: float
    should_stop: bool
    stop_reason: str
    leader_id: str
    leader_probability: float


def _entropy(p: Array, axis: int = 0) -> Array:
    safe = np.clip(p, 1e-12, 1.0)
    out: Array = -(p * np.log(safe)).sum(axis=axis)
    return out


def expected_gains(post: Array, p: Array, weights: Array | None = None) -> Array:
    """Expected entropy reduction per finding; ``p`` is [C, F] P(f present | c)."""
    p_f = np.clip(post @ p, 1e-12, 1 - 1e-12)  # [F]
    joint_yes = post[:, None] * p  # [C, F]
    joint_no = post[:, None] * (1 - p)
    h_yes = _entropy(joint_yes / p_f[None, :])
    h_no = _entropy(joint_no / (1 - p_f)[None, :])
    gains: Array = _entropy(post) - (p_f * h_yes + (1 - p_f) * h_no)
    if weights is not None:
        # Binary entropy of "a don't-miss condition" before and after the answer.
        def binary(q: Array) -> Array:
            q = np.clip(q, 1e-12, 1 - 1e-12)
            out: Array = -(q * np.log(q) + (1 - q) * np.log(1 - q))
            return out

        dm_now = float(post @ weights)
        dm_yes = (joint_yes * weights[:, None]).sum(0) / p_f
        dm_no = (joint_no * weights[:, None]).sum(0) / (1 - p_f)
        gains = gains + DONT_MISS_WEIGHT * (
            binary(np.array(dm_now)) - (p_f * binary(dm_yes) + (1 - p_f) * binary(dm_no))
        )
    return gains


def answer_probability(case: Case, exclude: Collection[str]) -> float:
    """Chance the next question gets a yes/no answer, from this interview's answers so far.

    Laplace's rule of succession over the known findings (answered) and the declined ones
    (``exclude``: "I don't know"); 1.0 when nothing was declined, so an interview whose
    patient answers everything stops exactly as before.
    """
    declined = len(set(exclude))
    if declined == 0:
        return 1.0
    answered = sum(1 for f, s in case.evidence.items() if s is not State.UNKNOWN and f not in exclude)
    return (answered + 1) / (answered + declined + 2)


def next_question(
    case: Case,
    model: RankingModel | None = None,
    *,
    prioritize_dont_miss: bool = False,
    exclude: Collection[str] = (),
) -> NextQuestion:
    model = model or default_model()
    kb = model.kb
    post = posterior(case, model)
    leader = int(np.argmax(post))
    leader_id, leader_p = model.condition_ids[leader], float(post[leader])
    weights = None
    if prioritize_dont_miss:
        weights = np.array(
            [float(kb.conditions[c].emergency or kb.conditions[c].dont_miss) for c in model.condition_ids]
        )
    gains = expected_gains(post, model.p, weights)
    asked = [
        model.finding_index[f]
        for f, s in case.evidence.items()
        if s is not State.UNKNOWN or f in exclude
    ]
    asked += [model.finding_index[f] for f in exclude if f in model.finding_index]
    gains[asked] = -np.inf
    best = int(np.argmax(gains))
    best_gain = float(gains[best]) if np.isfinite(gains[best]) else 0.0
    policy = kb.triage_policy
    open_dont_miss = [
        c
        for i, c in enumerate(model.condition_ids)
        if c != leader_id
        and (kb.conditions[c].emergency or kb.conditions[c].dont_miss)
        and post[i] >= max(policy.dont_miss_threshold, STOP_OPEN_DONT_MISS)
    ]
    if leader_p >= STOP_LEADER_PROBABILITY and not open_dont_miss:
        reason = f"{kb.conditions[leader_id].label} leads at {leader_p:.0%} with no don't-miss condition open"
        return NextQuestion(model.finding_ids[best], best_gain, True, reason, leader_id, leader_p)
    if best_gain < STOP_MIN_GAIN:
        reason = "no remaining question is expected to change the ranking"
        return NextQuestion(None, best_gain, True, reason, leader_id, leader_p)
    p_answer = answer_probability(case, exclude)
    if p_answer < 1.0 and best_gain * p_answer < STOP_MIN_INFORMATIVE_GAIN:
        reason = (
            f"the remaining questions are unlikely to be answered usefully "
            f"(about {p_answer:.0%} of questions answered so far)"
        )
        return NextQuestion(None, best_gain, True, reason, leader_id, leader_p)
    return NextQuestion(model.finding_ids[best], best_gain, False, "", leader_id, leader_p)
