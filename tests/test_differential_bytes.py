"""The differential's fast conversions give the plain conversion's bytes and objects, exactly.

``encoding.differential_bytes`` (kept heads for unexplained conditions, memoised weight fields
and citation lists), ``clinical.scored_condition`` (a ``ScoredCondition`` built slot by slot)
and ``convert.differential_columns`` stand in for the straightforward constructions on every
Assess and every explained batch; a clinician reads what they produce, so each is held to its
plain counterpart byte for byte or field for field, on the vignettes' explained differentials,
a roster's unexplained ones, and the edge values (a probability of +0.0 and -0.0, a zero weight
of either sign, the unlikely mark, a condition only in the don't-miss list).
"""

from __future__ import annotations

import random
from dataclasses import fields, replace
from typing import Any

from footcds.v1 import common_pb2

from services.differential import ranking
from services.differential.handlers import case_from_pb
from services.knowledge.clinical import CitationRef, Differential, ScoredCondition, State, Weight, scored_condition
from services.knowledge.loader import knowledge_base
from services.wire import convert, encoding
from tests.test_fast_paths import ranked_cases


def _plain_bytes(value: Differential) -> bytes:
    """What a client receives when the plain message is sent (the handlers parse the fast
    bytes into the response, which gRPC serializes: fields in number order)."""
    return convert.differential_to_pb_plain(value).SerializeToString(deterministic=True)


def _sent_bytes(value: Differential) -> bytes:
    """What a client receives from the fast path: its bytes parsed, then serialized."""
    return common_pb2.Differential.FromString(encoding.differential_bytes(value)).SerializeToString(deterministic=True)


def test_every_ranked_differential_encodes_to_the_plain_messages_bytes() -> None:
    """Explained (vignettes, ranked afresh so the weights are the engine's own objects) and
    unexplained (roster) differentials, twice each (the second time from the memos)."""
    kb = knowledge_base()
    explained = 0
    for patient, evidence, differential in ranked_cases():
        for value in (convert.differential_from_pb(differential), ranking.rank(case_from_pb(kb, patient, evidence))):
            explained += sum(1 for c in value.conditions if c.evidence_for or c.evidence_against)
            for _ in range(2):
                assert _sent_bytes(value) == _plain_bytes(value)
    assert explained > 100  # the explained path really ran


def test_edge_values_encode_to_the_plain_messages_bytes() -> None:
    """+0.0 (not written) and -0.0 (written) probabilities, zero weights of either sign after
    a memoised non-zero one, the unlikely mark on and off, a condition only in the don't-miss
    list under its own tag, and a changed label under the same id (a memo keyed on the id
    alone would fail)."""
    value = convert.differential_from_pb(ranked_cases()[0][2])
    first = value.conditions[0]
    assert first.evidence_for and first.citations
    weights = [Weight("loc_sole", "Sole numbness", state, llr) for state in (State.PRESENT, State.ABSENT)
               for llr in (0.7, 0.0, -0.0, -1.25)]
    for probability in (0.0, -0.0, 0.004, 0.6):
        for unlikely in (False, True):
            for explained in (True, False):
                condition = replace(
                    first, probability=probability, unlikely=unlikely,
                    evidence_against=tuple(weights) if explained else (),
                    evidence_for=first.evidence_for if explained else (),
                    decisive_findings=first.decisive_findings if explained else (),
                    citations=first.citations if explained else (),
                )
                relabelled = replace(condition, label=condition.label + " (other)")
                varied = replace(
                    value, conditions=(condition, relabelled, *value.conditions[1:]), dont_miss=(relabelled, condition)
                )
                assert _sent_bytes(varied) == _plain_bytes(varied)


def test_citation_lists_equal_in_value_but_not_identity_encode_alike() -> None:
    """The citation memo is keyed by identity: an equal list built afresh, and a different list,
    still give the plain bytes."""
    value = convert.differential_from_pb(ranked_cases()[0][2])
    first = value.conditions[0]
    fresh = tuple(CitationRef(c.key, c.title, c.estimate) for c in first.citations)
    other = (*fresh, CitationRef("extra_source", "Another title"))
    for citations in (first.citations, fresh, other, fresh):
        varied = replace(value, conditions=(replace(first, citations=citations), *value.conditions[1:]))
        assert _sent_bytes(varied) == _plain_bytes(varied)


def test_scored_condition_is_the_dataclass_built_by_keywords() -> None:
    """Equal, same hash, same repr and every field the same for random values; the engine's
    conditions are the ones its keyword construction gives."""
    rng = random.Random(12)
    for _ in range(200):
        codes = tuple(f"G{rng.randrange(9)}" for _ in range(rng.randrange(3)))
        weights = (Weight("f", "F", State.PRESENT, rng.random()),) * rng.randrange(3)
        values: tuple[Any, ...] = (
            f"c{rng.randrange(50)}", f"Label {rng.random()}", rng.random(), codes, rng.choice([None, "12345"]),
            rng.random() < 0.5, rng.random() < 0.5, weights, (), tuple("abc"[: rng.randrange(4)]),
            rng.random() < 0.5, rng.choice(["", "neurology"]), (CitationRef("k", "t"),) * rng.randrange(2),
        )
        fast = scored_condition(*values)
        plain = ScoredCondition(**{f.name: v for f, v in zip(fields(ScoredCondition), values, strict=True)})
        assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    kb = knowledge_base()
    patient, evidence, _ = ranked_cases()[0]
    for c in ranking.rank(case_from_pb(kb, patient, evidence)).conditions:
        assert c == ScoredCondition(**{f.name: getattr(c, f.name) for f in fields(ScoredCondition)})


def test_differential_columns_are_the_conditions_ids_and_probabilities_in_order() -> None:
    for _, _, differential in ranked_cases():
        ids, probabilities = convert.differential_columns(differential)
        assert ids == tuple(c.condition_id for c in differential.conditions)
        assert probabilities == tuple(c.probability for c in differential.conditions)
    assert convert.differential_columns(common_pb2.Differential()) == ((), ())
