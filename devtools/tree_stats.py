"""Size and layering figures of a ``services/`` tree, read with ``ast`` (docs/architecture-issue14.md).

    python -m devtools.tree_stats [ROOT]        # ROOT holds services/ (default: this checkout)
    python -m devtools.tree_stats --json ROOT

Why a script: the architecture note compares trees before and after a change (an old commit can
be extracted with ``git archive <commit> services | tar -x -C DIR``); counting by hand drifts.
Imports are read from the source, lazy ones inside functions included.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUDGET = 400  # lines per module (tests/test_layers.py)


def _targets(tree: ast.AST) -> Iterator[str]:
    """The ``services.*`` module of every import statement (one per statement)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("services."):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("services."):
            yield str(node.module)


def package_of(module: str, *, imported: bool = False) -> str:
    """``services.<package>.…`` -> package; an imported ``services.<package>`` counts as its package."""
    parts = module.split(".")
    return parts[1] if len(parts) > (1 if imported else 2) else ""


def stats(root: Path) -> dict[str, Any]:
    services = root / "services"
    lines: dict[str, int] = {}
    edges: Counter[tuple[str, str]] = Counter()
    servicer_imports = 0
    for path in sorted(services.rglob("*.py")):
        name = str(path.relative_to(root))
        text = path.read_text(encoding="utf-8")
        lines[name] = len(text.splitlines())
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        source = package_of(module)
        for target in _targets(ast.parse(text, filename=name)):
            dest = package_of(target, imported=True)
            if dest and source and dest != source:
                edges[(source, dest)] += 1
                if target.endswith("servicer") or ".servicer" in target:
                    servicer_imports += 1
    pairs = set(edges)
    mutual = sorted({tuple(sorted(p)) for p in pairs if (p[1], p[0]) in pairs})
    largest = sorted(lines.items(), key=lambda kv: -kv[1])
    return {
        "modules": len(lines),
        "lines": sum(lines.values()),
        "packages": len({package_of(".".join(Path(n).with_suffix("").parts)) for n in lines} - {""}),
        "package_pairs_importing": len(pairs),
        "cross_package_import_statements": sum(edges.values()),
        "packages_importing_each_other": [f"{a}<->{b}" for a, b in mutual],
        "foreign_servicer_imports": servicer_imports,
        "modules_over_budget": {n: c for n, c in largest if c > BUDGET},
        "largest": dict(largest[:5]),
        "platform_imports": sorted({d for (s, d) in pairs if s == "platform"}),
        "knowledge_imports": sorted({d for (s, d) in pairs if s == "knowledge"}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.tree_stats", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args(argv)
    figures = stats(args.root)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
