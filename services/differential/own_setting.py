"""An emergency condition's own setting: when its probability alone may raise a case (docs/ranking.md, Triage).

Why: the probability an emergency condition gets is a naive-Bayes figure over the findings stated. A
foot drop with leg pain gives acute compartment syndrome a share; a slowly worsening symmetric
sensory neuropathy gives Guillain-Barre syndrome one. That share says the emergency *could* explain
the findings, not that the picture is the emergency's: when none of the settings in which it arises
is reported (``triage.yaml`` ``emergency_needs_context``), or a course or sign it cannot have is
(``emergency_not_when``), the same probability makes the case "cannot be excluded, see the same
day" (urgent), not an emergency. Red flags are never touched: they fire on their own findings.

* A runner-up is gated by both tables (round 11, r11over).
* A leader (round 12, r12over) only for the conditions listed in ``emergency_setting_gates_leader``
  and only when *none* of its settings is reported: a stated course is weaker evidence (the
  vocabulary's gradual onset means days to months), and for some conditions (acute compartment
  syndrome, spinal cord compression) the published cases show emergencies reported with none of them.
* The 1% do-not-miss line (urgent) only for the conditions listed in
  ``emergency_setting_gates_dont_miss``, by both tables.

``present`` None (a caller without the findings): no gate, every threshold as before.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from services.knowledge.loader import KnowledgeBase

__all__ = ["dont_miss_setting_missing", "emergency_setting_missing"]

# How many of the settings the reason names (the table's order: the commonest first).
_NAMED_SETTINGS = 4


def emergency_setting_missing(
    kb: KnowledgeBase, cid: str, present: AbstractSet[str] | None, *, leading: bool = False
) -> str:
    """Why an emergency condition's probability alone does not make the case an emergency, or "".

    ``leading``: the condition leads the list; then only a condition listed in
    ``emergency_setting_gates_leader`` is gated, and only by a missing setting."""
    if present is None:
        return ""
    policy = kb.triage_policy
    if leading and cid not in policy.emergency_setting_gates_leader:
        return ""
    needs = policy.emergency_needs_context.get(cid)
    if needs is not None and not any(f in present for f in needs):
        named = ", ".join(kb.findings[f].label.lower() for f in needs[:_NAMED_SETTINGS])
        return f"none of the settings it arises in is reported (such as {named})"
    if leading:
        return ""
    against = [f for f in policy.emergency_not_when.get(cid, ()) if f in present]
    if against:
        # a course (gradual onset) or, since round 18, a sign the emergency's criteria exclude (brisk reflexes in GBS)
        listed = ", ".join(kb.findings[f].label.lower() for f in sorted(against))
        return f"what is reported ({listed}) is not this emergency's picture"
    return ""


def dont_miss_setting_missing(kb: KnowledgeBase, cid: str, present: AbstractSet[str] | None) -> str:
    """Why an emergency condition between the do-not-miss and the emergency threshold does not make
    the case urgent (``emergency_setting_gates_dont_miss``), or ""."""
    if cid not in kb.triage_policy.emergency_setting_gates_dont_miss:
        return ""
    return emergency_setting_missing(kb, cid, present)
