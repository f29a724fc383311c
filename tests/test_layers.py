"""The package layers stay visible: which package may import which (issue 14).

Imports are read from the source (``ast``), lazy ones inside functions included, so a cycle
cannot hide behind an import placed in a function body.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "services"


def _imports(path: Path) -> Iterator[str]:
    """Every module (and ``module.name``) the file imports, however deep in the file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def module_imports() -> dict[str, set[str]]:
    """services.<module> -> the services.* modules (or names in them) it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        graph[name] = {target for target in _imports(path) if target.startswith(("services.", "devtools"))}
    return graph


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in module_imports().items():
        source = package_of(module)
        graph.setdefault(source, set()).update(
            package_of(t) for t in targets if package_of(t) not in ("", source)
        )
    graph.pop("", None)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Every pair of packages that reach each other."""
    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), set()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reached = {package: reach(package) for package in graph}
    return {frozenset((a, b)) for a in graph for b in reached[a] if a != b and a in reached.get(b, set())}


def test_no_import_cycle_between_packages() -> None:
    found = cycles(package_graph())
    assert not found, f"packages importing each other: {sorted(map(sorted, found))}"


def test_services_do_not_import_the_developer_tools() -> None:
    wrong = sorted(m for m, targets in module_imports().items() if any(t.startswith("devtools") for t in targets))
    assert not wrong, wrong


# Modules allowed over the 400-line budget (issue 14), with their size: they may shrink, not grow.
OVERSIZE: dict[str, int] = {}


def test_modules_stay_small() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in ROOT.rglob("*.py")}
    too_big = {name: n for name, n in sizes.items() if n > OVERSIZE.get(name, 400)}
    assert not too_big, f"over the line budget: {too_big}"


def test_a_servicer_is_imported_only_by_its_own_package() -> None:
    """A servicer is its service's gRPC edge; everyone else calls the handlers."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in module_imports().items()
        for target in targets
        if ".servicer" in target or target.endswith("_servicer") or "_servicer." in target
        if package_of(target) != package_of(module)
    )
    assert not wrong, wrong


def test_the_worker_does_not_import_the_encounter_service() -> None:
    """The encounter queues the worker's tasks; the worker needs only the pipeline."""
    assert "encounter" not in package_graph()["worker"]
    assert "worker" in package_graph()["encounter"]


def test_the_stage_sequence_is_written_once() -> None:
    """Only ``pipeline.assess`` (one case) and the screening chunks build stage requests."""
    callers = {
        module for module, targets in module_imports().items()
        if any(t == "services.pipeline.stages" or t.startswith("services.pipeline.stages.") for t in targets)
    }
    assert callers <= {"services.pipeline.assess", "services.pipeline.screening"}, callers


def test_platform_and_knowledge_are_the_bottom_layers() -> None:
    """Platform code (server, auth, audit...) and the knowledge base import no other package of
    services: the audit interceptor is given the KB version by the service's entry point."""
    graph = package_graph()
    assert graph["platform"] == set(), graph["platform"]
    assert graph["knowledge"] == set(), graph["knowledge"]
