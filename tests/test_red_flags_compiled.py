"""``detect_red_flags`` (rules compiled to sets once per knowledge base) against the rules
read one by one (``detect_red_flags_plain``): the same hits, matched findings and order."""

from __future__ import annotations

import random

from services.knowledge.loader import knowledge_base
from services.knowledge.red_flags import detect_red_flags, detect_red_flags_plain
from tests.test_batch_rows import cases


def test_compiled_rules_find_what_the_plain_rules_find() -> None:
    kb = knowledge_base()
    rng = random.Random(5)
    rule_findings = sorted(
        {f for r in kb.red_flags for f in (*r.all_of, *r.any_of, *r.unless_any, *(x for g in r.and_any_of for x in g))}
    )
    presents: list[set[str]] = [c.present() for c in cases()]
    # Random sets drawn from the rules' own findings reach the unless / and-any-of branches.
    presents += [set(rng.sample(rule_findings, rng.randint(1, 12))) for _ in range(3000)]
    fired = 0
    for present in presents:
        expected = detect_red_flags_plain(kb, present)
        assert detect_red_flags(kb, present) == expected
        assert detect_red_flags(kb, sorted(present)) == expected  # any collection, not only sets
        fired += bool(expected)
    assert fired > 500
    # Most rules fire somewhere in these sets.
    hit_rules = {h.rule_id for p in presents for h in detect_red_flags(kb, p)}
    assert len(hit_rules) > 0.8 * len(kb.red_flags)
