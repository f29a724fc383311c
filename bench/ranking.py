"""In-process ranking: per case and per 10k batch, beside a bare NumPy naive-Bayes floor.

Cases are drawn from the model itself (seeded): a condition by prevalence, then about 15
findings asked, each present with the condition's likelihood - realistic evidence counts
without depending on any test fixture.  The floor is the same naive Bayes arithmetic on
prebuilt dense matrices (no Python per case): what NumPy alone costs.

Goals (issue 7): <= 20 us per case (the ranking math, ``posterior``), <= 50 ms per 10k
(``posterior_batch``).  ``rank`` (ranking + explanations + triage) is reported beside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bench.harness import Collector
from bench.report import figure
from bench.stats import summarize
from services.differential import ranking
from services.knowledge.clinical import Case, Patient, State, with_columns

BATCH = 10_000
GOAL_CASE_US, GOAL_BATCH_MS = 20.0, 50.0
GOAL_BATCH_RATIO = 3.0  # issue 15: ranking a 10k batch within 3x the NumPy floor of the same run


def cases(n: int, seed: int = 7, *, columns: bool = True) -> list[Case]:
    """``columns``: each case carries its evidence as column codes, as the intake's ``validate``
    returns it (what a ranking batch receives in production); False: bare evidence dicts."""
    model = ranking.default_model()
    rng = np.random.default_rng(seed)
    prior = np.exp(model.log_prior["sports_medicine"])
    out: list[Case] = []
    for i in range(n):
        condition = rng.choice(len(model.condition_ids), p=prior / prior.sum())
        asked = np.flatnonzero(rng.random(len(model.finding_ids)) < 0.15)
        present = rng.random(len(asked)) < model.p[condition, asked]
        evidence = {
            model.finding_ids[f]: State.PRESENT if hit else State.ABSENT
            for f, hit in zip(asked, present, strict=True)
        }
        patient = Patient(age=int(rng.integers(14, 80)), sex=("female", "male")[i % 2])
        out.append(with_columns(Case(patient, evidence), model.finding_ids) if columns else Case(patient, evidence))
    return out


def _per_call_us(fn: Callable[[Case], object], sample: list[Case]) -> float:
    start = time.perf_counter_ns()
    for case in sample:
        fn(case)
    return (time.perf_counter_ns() - start) / len(sample) / 1e3


def _floor(sample: list[Case]) -> tuple[Callable[[], object], Callable[[int], object]]:
    """(whole batch, one row) of the bare arithmetic on matrices built beforehand."""
    model = ranking.default_model()
    n, f = len(sample), len(model.finding_ids)
    present, absent = np.zeros((n, f)), np.zeros((n, f))
    for row, case in enumerate(sample):
        for fid, state in case.evidence.items():
            (present if state is State.PRESENT else absent)[row, model.finding_index[fid]] = 1.0
    base = np.tile(model.log_prior["sports_medicine"], (n, 1))
    p_idx = [np.flatnonzero(r) for r in present]
    a_idx = [np.flatnonzero(r) for r in absent]

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
        return out

    def batch() -> object:
        return softmax(base + present @ model.log_p_t + absent @ model.log_q_t)

    def one(row: int) -> object:
        return softmax(base[row] + model.log_p_t[p_idx[row]].sum(axis=0) + model.log_q_t[a_idx[row]].sum(axis=0))

    return batch, one


def run(out: Collector, repeats: int, per_case: int = 2000, explained: int = 300) -> None:
    sample = cases(BATCH)
    dicts = [Case(c.patient, c.evidence) for c in sample]  # the same cases without column codes
    few = sample[:per_case]
    batch_floor, one_floor = _floor(sample)
    model = ranking.default_model()
    ranking.posterior_batch(sample[:100], model)
    ranking.rank(sample[0], model)
    results: dict[str, list[float]] = {
        k: [] for k in ("floor_case", "posterior", "rank", "rank_noexplain", "floor_batch", "batch", "batch_dicts")
    }
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for row in range(per_case):
            one_floor(row)
        results["floor_case"].append((time.perf_counter_ns() - start) / per_case / 1e3)
        results["posterior"].append(_per_call_us(lambda c: ranking.posterior(c, model), few))
        results["rank"].append(_per_call_us(lambda c: ranking.rank(c, model), few[:explained]))
        results["rank_noexplain"].append(
            _per_call_us(lambda c: ranking.rank(c, model, explain=False), few[:explained])
        )
        start = time.perf_counter_ns()
        batch_floor()
        results["floor_batch"].append((time.perf_counter_ns() - start) / 1e6)
        start = time.perf_counter_ns()
        ranking.posterior_batch(sample, model)
        results["batch"].append((time.perf_counter_ns() - start) / 1e6)
        start = time.perf_counter_ns()
        ranking.posterior_batch(dicts, model)
        results["batch_dicts"].append((time.perf_counter_ns() - start) / 1e6)
    floor_case = out.add(figure("ceiling.numpy_nb.case", summarize(results["floor_case"]), "us",
                                note="naive Bayes for one case, index arrays prebuilt"))
    floor_batch = out.add(figure("ceiling.numpy_nb.10k", summarize(results["floor_batch"]), "ms",
                                 note="naive Bayes for 10k cases, dense matrices prebuilt"))
    out.add(figure("ranking.posterior.case", summarize(results["posterior"]), "us", ceiling=floor_case,
                   goal=("<=", GOAL_CASE_US)))
    out.add(figure("ranking.rank.case", summarize(results["rank"]), "us", ceiling=floor_case,
                   note="posterior + explanations + red flags + triage (what RankDifferential runs)"))
    out.add(figure("ranking.rank_noexplain.case", summarize(results["rank_noexplain"]), "us",
                   ceiling=floor_case, note="rank(explain=False), as rank_batch does"))
    batch = out.add(figure("ranking.posterior_batch.10k", summarize(results["batch"]), "ms", ceiling=floor_batch,
                           goal=("<=", GOAL_BATCH_RATIO), goal_on_ratio=True))
    out.add(figure("ranking.posterior_batch_dicts.10k", summarize(results["batch_dicts"]), "ms",
                   ceiling=floor_batch, note="the same cases without column codes: evidence read from dicts"))
    batch.extra["goal_ms"] = f"<= {GOAL_BATCH_MS:g} ms: {'ok' if batch.value <= GOAL_BATCH_MS else 'MISSED'}"
    per_case_floor = out.add(figure(
        "ceiling.numpy_nb.batched_case", summarize([v * 1e3 / BATCH for v in results["floor_batch"]]), "us",
        note="the 10k floor per case",
    ))
    out.add(figure("ranking.posterior_batch.case", summarize([v * 1e3 / BATCH for v in results["batch"]]), "us",
                   ceiling=per_case_floor))


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.ranking [--repeats N]``: only these figures, as JSON lines, then a table."""
    import argparse

    from bench.report import table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    out = Collector()
    run(out, args.repeats)
    print(table(out.figures))


if __name__ == "__main__":
    main()
