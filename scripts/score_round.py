"""Score one round's real cases with whatever engine this checkout holds (a before/after comparison).

Run it inside a checkout of an OLDER commit (with the round's folder copied in) and inside this one,
to see what the tuning between them bought on cases neither engine was tuned on. Nothing is recorded:
the locked run of record is `make eval-locked-roundN`. Finding ids the checkout's vocabulary does not
know (added later) are dropped, i.e. unknown to that engine, as they would be to a tablet of its time.
Pass the same ``--ids-from`` file (written by ``--dump-ids`` in the oldest checkout) to every run so
each engine scores the same cases: a case left with no finding the oldest engine knows is skipped.

    PYTHONPATH=.:gen python scripts/score_round.py tests/clinical/cases/round5 --dump-ids /tmp/ids.json
    PYTHONPATH=.:gen python scripts/score_round.py tests/clinical/cases/round5 --ids-from /tmp/ids.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from services.knowledge.loader import knowledge_base
from tests.clinical.real_eval import evaluate_cases
from tests.clinical.realcases import load_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("round_dir", type=Path)
    parser.add_argument("--dump-ids", type=Path, help="write this engine's finding ids and stop")
    parser.add_argument("--ids-from", type=Path, help="score only cases with a finding among these ids")
    args = parser.parse_args()
    kb = knowledge_base()
    known = set(kb.findings)
    if args.dump_ids:
        args.dump_ids.write_text(json.dumps(sorted(known)))
        return
    oldest = set(json.loads(args.ids_from.read_text())) if args.ids_from else known
    cases = [
        c.model_copy(update={"evidence": tuple(f for f in c.evidence if f.id in known)})
        for c in load_corpus(args.round_dir)
        if any(f.id in oldest for f in c.evidence)
    ]
    print(json.dumps({"kb_version": kb.version, **evaluate_cases(cases).figures()}))


if __name__ == "__main__":
    main()
