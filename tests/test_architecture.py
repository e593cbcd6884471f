"""The layout's rules (DESIGN.md §5), checked on the source: no package-level import cycles
(imports inside functions count), models/ free of geometry and config, weights.py free of models."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "petra"
# petra modules that import nothing heavy: a function-local import of one is never deferring a cost
LIGHT = {"petra.errors", "petra.io", "petra.config", "petra.params", "petra.paths", "petra.safeload", "petra.device",
         "petra.media", "petra.video", "petra.tracking", "petra.weights", "petra.plotting"}


def _module(path: Path, src: Path = SRC) -> tuple[list[str], list[str]]:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return parts, parts
    return parts, parts[:-1]


def _package(mod: str, src: Path = SRC) -> str:
    """Graph node of a module: petra's top-level subpackage (generators' children separately)."""
    p = mod.split(".")
    if len(p) >= 3 and p[1] == "generators" and (src / "generators" / p[2]).is_dir():
        return f"generators.{p[2]}"
    return p[1] if len(p) > 1 else "petra"


def import_edges(src: Path = SRC) -> dict[tuple[str, str], list[str]]:
    """(package, imported package) -> ["file:line", ...] over every import statement, at any depth."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in sorted(src.rglob("*.py")):
        parts, pkg = _module(f, src)
        me = _package(".".join(parts), src) if len(parts) > 1 else "petra"
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                targets = [f"{base}.{a.name}" for a in node.names] if base in ("petra", "petra.generators") or not node.module \
                    else [base]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t.startswith("petra.") and (other := _package(t, src)) != me:
                    edges[(me, other)].append(f"{f.relative_to(src)}:{node.lineno}")
    return edges


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(set(graph) | {b for bs in graph.values() for b in bs}):
        if v not in index:
            visit(v)
    return out


def test_no_package_imports_a_package_that_imports_it_back():
    edges = import_edges()
    found = cycles(edges)
    detail = [f"{a} -> {b}: {edges[(a, b)][:3]}" for comp in found for a in comp for b in comp if (a, b) in edges]
    assert not found, f"import cycles {found}:\n" + "\n".join(detail)


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    pkg = tmp_path / "petra"
    for name, body in {"a/__init__.py": "", "a/x.py": "def f():\n    from petra.b import y\n",
                       "b/__init__.py": "", "b/y.py": "from ..a import x\n"}.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(body)
    assert cycles(import_edges(pkg)) == [["a", "b"]]


@pytest.mark.parametrize("package, forbidden", [("models", {"geometry", "config", "weights", "generators"}),
                                                ("weights", {"models", "zoo"}),
                                                ("geometry", {"generators", "config"}),
                                                ("train", {"generators.mesh", "generators.stylegan2", "generators"}),
                                                ("evaluate", {"generators", "generators.mesh", "generators.stylegan2", "report"})])
def test_layers_import_only_downwards(package, forbidden):
    bad = {b: v[:3] for (a, b), v in import_edges().items() if a == package and b in forbidden}
    assert not bad, f"{package} imports {bad}"


def test_function_local_imports_say_why_when_they_are_not_for_a_heavy_dependency():
    """Imports inside functions defer heavy optional dependencies (torch, mediapipe, …); a local import
    of a light petra module is a hidden cycle, unless a comment on the line says why."""
    offenders = []
    for f in sorted(SRC.rglob("*.py")):
        lines = f.read_text(encoding="utf-8").splitlines()
        _, pkg = _module(f)
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.ImportFrom) and node.col_offset > 0:
                mod = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                if mod in LIGHT and "#" not in lines[node.lineno - 1]:
                    offenders.append(f"{f.relative_to(SRC)}:{node.lineno} {node.module}")
    assert not offenders, offenders
