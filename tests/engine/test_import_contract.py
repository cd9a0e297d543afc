"""The import contract, read from the source (an AST test, no imports run):

* rules (``rules/**``) import from ``checker`` only the public rule API listed in
  ``RULE_API``: the model (Issue, Region, Severity), the Rule declaration, the per-image
  context (with the engine's image loader, for rules that read another image), generation
  metadata parsing, the native-stderr silencer and the model-loading span. ``checker.testing`` is for tests.
* ``checker/`` has no import cycle, counting imports inside functions too;
* no module of ``checker/`` imports another's private (``_underscored``) names, nor imports
  another module of ``checker`` inside a function (function-level imports are for heavy
  optional libraries only: cv2, PIL, dask, fsspec), except the four that exist to put off
  importing the engine (``DELAYED_ON_PURPOSE``): ``noticer`` replays an unchanged run before
  it imports the worker machinery, starts its first worker before it imports the command
  line, and the package imports its Python API when it is used.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULE_API = ("checker.model", "checker.rule", "checker.context", "checker.metadata", "checker.quiet",
            "checker.loading")


# (module, engine module it imports inside a function): the start-up path of issue #19
DELAYED_ON_PURPOSE = {
    ("checker", "checker.api"),  # `checker.check`, imported on first use
    ("checker.launch", "checker.cli"),  # after the first worker has been started
    ("checker.launch", "checker.headstart"),  # after a replay (checker.replay) was not possible
    ("checker.headstart", "checker.executors.worker"),  # in the worker process only
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports_of(path: Path) -> list[tuple[str, tuple[str, ...], bool, int]]:
    """(module imported, names taken from it, inside a function?, line) of every import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = module_name(path)
    package = own if is_package(path) else own.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((alias.name, (), in_function, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                found.append((target, tuple(a.name for a in child.names), in_function, child.lineno))
            visit(child, nested)

    visit(tree, False)
    return found


def engine_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / "checker").rglob("*.py")) if "__pycache__" not in p.parts}


def engine_graph() -> dict[str, set[str]]:
    """Module -> the engine modules it imports; ``from pkg import sub`` counts as ``pkg.sub``."""
    modules = engine_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names, _in_function, _line in imports_of(path):
            if target not in modules:
                continue
            submodules = {f"{target}.{n}" for n in names if f"{target}.{n}" in modules}
            graph[name].update(submodules or {target})
            if submodules and len(submodules) < len(names):  # names of the package itself too
                graph[name].add(target)
    for name in graph:
        graph[name].discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_rules_import_only_the_public_rule_api():
    wrong = []
    for path in sorted((ROOT / "rules").rglob("*.py")):
        for target, _names, _in_function, line in imports_of(path):
            if (target == "checker" or target.startswith("checker.")) and target not in RULE_API:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "rules may import only " + ", ".join(RULE_API)


def test_the_engine_has_no_import_cycle():
    graph = engine_graph()
    assert "checker.session" in graph and "checker.runner" in graph["checker.session"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_private_names_or_function_level_imports_across_engine_modules():
    modules = engine_modules()
    wrong = []
    for name, path in modules.items():
        for target, names, in_function, line in imports_of(path):
            if target not in modules and not target.startswith("checker"):
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if in_function and (name, target) not in DELAYED_ON_PURPOSE:
                wrong.append(f"{where}: imports {target} inside a function")
            wrong.extend(f"{where}: takes private {n} from {target}" for n in names if n.startswith("_")
                         and n != "__version__")
    assert wrong == []


@pytest.mark.parametrize("graph,cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert find_cycle(graph) == cycle


def test_function_level_and_private_imports_are_seen(tmp_path):
    """The checks above would pass vacuously if the parser missed these forms."""
    source = tmp_path / "checker" / "x.py"
    source.parent.mkdir()
    source.write_text("from .y import _hidden\n\ndef f():\n    from . import z\n    import checker.w\n")
    found = [(t, n, inside) for t, n, inside, _ in imports_of_at(source, tmp_path)]
    assert found == [("checker.y", ("_hidden",), False), ("checker", ("z",), True), ("checker.w", (), True)]


def imports_of_at(path: Path, root: Path):
    global ROOT
    saved, ROOT = ROOT, root
    try:
        return imports_of(path)
    finally:
        ROOT = saved

