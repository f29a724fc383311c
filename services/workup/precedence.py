"""Which open emergency's immediate test comes first (docs/workup.md, "Which emergency's test
comes first").

The immediate tier takes the open emergencies most probable first, but two lesions share the
probability as the ranking weighs them, not where the signs put the lesion.  A condition's
``immediate_test_first`` pictures (conditions.yaml) carry the signs that localise it; this module
applies them.  Kept apart from ``selection`` so the ordering can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Collection

from services.knowledge.loader import KnowledgeBase


def localised_order(
    kb: KnowledgeBase,
    emergencies: tuple[str, ...],
    present: Collection[str],
    flagged: Collection[str] = (),
) -> tuple[str, ...]:
    """The open emergencies with a condition's ``immediate_test_first`` applied.

    Most probable first is the default, but two lesions share the probability as the ranking
    weighs them, not where the signs put the lesion: with a cauda equina sign (saddle, sphincter,
    sexual, radicular pain, foot drop) and no sign above the conus (sensory level, upper motor
    neurone signs, arms, neck injury) the national pathway's first test is the lumbosacral MRI;
    with a pulse, colour or cold sign, or a knee injury, and no compartment sign, the arterial
    test (docs/workup.md).  The condition moves just ahead of the first condition it goes
    ``before``.  A red flag's suspect (``flagged``) that the ranking holds below the floor joins the
    list this way too when its signs are present: a foot drop after a knee injury is the
    popliteal artery's until its test says otherwise.  Nothing is dropped.
    """
    out = list(emergencies)
    seen = set(present)
    candidates = [*emergencies, *(c for c in dict.fromkeys(flagged) if c not in emergencies and c in kb.conditions)]
    for cid in candidates:
        condition = kb.conditions[cid]
        if not condition.emergency:
            continue
        # the first entry whose signs are present and which names an open emergency: a pulse sign
        # puts the artery ahead of the compartment in one picture and ahead of the cord in another
        ahead = next(
            (positions for f in condition.immediate_test_first
             if not seen.isdisjoint(f.when_any) and seen.isdisjoint(f.unless_any)
             and (positions := [out.index(c) for c in f.before if c in out])),
            None,
        )
        if ahead is None:  # no picture of it here, or none naming an open emergency
            continue
        if cid in out:
            if min(ahead) > out.index(cid):
                continue
            out.remove(cid)
        out.insert(min(ahead), cid)
    return tuple(out)
