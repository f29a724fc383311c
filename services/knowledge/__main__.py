"""`python -m services.knowledge`: validate the knowledge base and print its version and size."""

from __future__ import annotations

import sys

from services.knowledge.loader import KnowledgeBaseError, load_knowledge_base


def main() -> int:
    try:
        kb = load_knowledge_base()
    except KnowledgeBaseError as exc:
        print(f"knowledge base invalid: {exc}", file=sys.stderr)
        return 1
    pairs = sum(len(v) for v in kb.likelihoods.values())
    print(
        f"{kb.version}: {len(kb.conditions)} conditions, {len(kb.findings)} findings, "
        f"{pairs} likelihoods, {len(kb.red_flags)} red flags, {len(kb.tests)} tests, "
        f"{len(kb.treatment_items)} treatment items, {len(kb.plans)} plans, "
        f"{len(kb.questions)} questions, {len(kb.sources)} sources"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
