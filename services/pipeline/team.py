"""Team screening's progress tally and team view: counts by triage, leading causes, follow-up.

Moved out of ``pipeline.screening`` (which screens the athletes) so each module stays small;
``WatchScreening`` reports a ``Tally`` and ``GetScreeningResults`` ends with ``summarize``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from footcds.v1 import common_pb2, encounter_pb2

from services.knowledge.clinical import TRIAGE_ORDER
from services.knowledge.loader import KnowledgeBase
from services.wire.convert import PB_TO_TRIAGE, TRIAGE_TO_PB

TRIAGE_LEVELS = tuple(TRIAGE_TO_PB[level] for level in TRIAGE_ORDER)  # most urgent first
TRIAGE_NAMES = PB_TO_TRIAGE  # level enum -> the triage.yaml id
FOLLOW_UP_LEVELS = frozenset({common_pb2.TRIAGE_LEVEL_EMERGENCY, common_pb2.TRIAGE_LEVEL_URGENT})


# --- progress and the team view -------------------------------------------------------------


@dataclass
class Tally:
    """Counts over results: what WatchScreening reports, kept per chunk and summed."""

    done: int = 0
    rejected: int = 0
    by_triage: Counter[int] = field(default_factory=Counter)

    def add(self, result: encounter_pb2.AthleteResult) -> None:
        self.done += 1
        if result.status == encounter_pb2.ATHLETE_STATUS_REJECTED:
            self.rejected += 1
        else:
            self.by_triage[result.triage] += 1

    def merge(self, other: Tally) -> None:
        self.done += other.done
        self.rejected += other.rejected
        self.by_triage.update(other.by_triage)

    def encode(self) -> str:
        """A compact, order-fixed form for a Redis hash field: done,rejected,e,u,r,s."""
        return ",".join(str(n) for n in (self.done, self.rejected, *(self.by_triage[t] for t in TRIAGE_LEVELS)))

    @classmethod
    def decode(cls, text: str) -> Tally:
        done, rejected_, *levels = (int(n) for n in text.split(","))
        return cls(done, rejected_, Counter(dict(zip(TRIAGE_LEVELS, levels, strict=True))))

    @classmethod
    def of(cls, results: Iterable[encounter_pb2.AthleteResult]) -> Tally:
        tally = cls()
        for result in results:
            tally.add(result)
        return tally

    def triage_counts(self) -> list[encounter_pb2.TriageCount]:
        """Every level, most urgent first, zeros included (charts and tables stay aligned)."""
        return [encounter_pb2.TriageCount(level=t, count=self.by_triage[t]) for t in TRIAGE_LEVELS]


def _leading(result: encounter_pb2.AthleteResult) -> common_pb2.ConditionScore | None:
    if result.status != encounter_pb2.ATHLETE_STATUS_SCREENED or not result.top_conditions:
        return None
    return result.top_conditions[0]


def _leads(screened: Sequence[encounter_pb2.AthleteResult]) -> list[tuple[str, float]]:
    """Each screened athlete's leading (condition id, probability), read from the messages once."""
    return [(lead.condition_id, lead.probability) for r in screened if (lead := _leading(r)) is not None]


def team_advice(kb: KnowledgeBase, screened: Sequence[encounter_pb2.AthleteResult]) -> list[str]:
    """The team_advice.yaml rules whose cluster thresholds the roster meets, largest first.

    The leads are read once, not once per rule: a protobuf field read costs more than the
    comparison (13% of the encounter's CPU for a 4,000-athlete roster, docs/performance.md).
    """
    return _advice(kb, len(screened), _leads(screened))


def _advice(kb: KnowledgeBase, screened_count: int, leads: Sequence[tuple[str, float]]) -> list[str]:
    """``team_advice`` from the leads already read (``summarize`` reads them once for its own
    counts too); ``screened_count`` is every screened athlete, with a lead or not (the share's
    denominator)."""
    if not screened_count:
        return []
    fired: list[tuple[int, str]] = []
    for rule in kb.team_advice:
        ids = set(rule.condition_ids)
        floor = rule.min_probability
        count = sum(1 for cid, probability in leads if cid in ids and probability >= floor)
        share = count / screened_count
        if count >= rule.min_athletes and share >= rule.min_share:
            labels = ", ".join(kb.conditions[c].label for c in rule.condition_ids if c in kb.conditions)
            fired.append(
                (count, f"{rule.title}: {count} of {screened_count} screened athletes ({share:.0%}) "
                        f"lead with {labels}. {rule.advice}")
            )
    return [text for _, text in sorted(fired, key=lambda f: -f[0])]


def follow_up(screened: Iterable[encounter_pb2.AthleteResult]) -> list[encounter_pb2.FollowUp]:
    """Athletes triaged urgent or emergency: emergencies first, then by row."""
    items = [r for r in screened if r.triage in FOLLOW_UP_LEVELS]
    items.sort(key=lambda r: (r.triage, r.row_number))
    return [
        encounter_pb2.FollowUp(
            athlete_ref=r.athlete_ref,
            row_number=r.row_number,
            triage=r.triage,
            leading_condition_id=r.top_conditions[0].condition_id if r.top_conditions else "",
            reason=r.triage_reasons[0] if r.triage_reasons else "",
        )
        for r in items
    ]


def summarize(
    kb: KnowledgeBase,
    results: Iterable[encounter_pb2.AthleteResult],
    *,
    total: int,
    state: int,
    team_label: str = "",
) -> encounter_pb2.TeamSummary:
    """The team view: counts by triage, leading causes, who needs follow-up, team advice."""
    results = list(results)
    screened = [r for r in results if r.status == encounter_pb2.ATHLETE_STATUS_SCREENED]
    tally = Tally.of(results)
    leads = _leads(screened)
    leading = Counter(cid for cid, _ in leads)
    return encounter_pb2.TeamSummary(
        state=state,  # type: ignore[arg-type]
        total=total,
        screened=len(screened),
        rejected=tally.rejected,
        by_triage=tally.triage_counts(),
        top_conditions=[
            encounter_pb2.ConditionCount(
                condition_id=cid,
                label=kb.conditions[cid].label if cid in kb.conditions else cid,
                count=count,
            )
            for cid, count in sorted(leading.items(), key=lambda item: (-item[1], item[0]))
        ],
        follow_up=follow_up(screened),
        team_advice=_advice(kb, len(screened), leads),
        team_label=team_label,
    )
