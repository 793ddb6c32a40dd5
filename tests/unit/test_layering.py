"""The layers of docs/architecture.md, enforced: which part of monde/ may import which.

Every `import` of a monde module anywhere in monde/ — at module level, inside a function, under
`if TYPE_CHECKING:` — is read with `ast` and checked against ALLOWED below (the table
docs/architecture.md draws). A forbidden import fails with its file, line and edge named.
Module-level imports (those that run when a module is imported) must also form no cycle.

A part is a subpackage (`monde/eval/…` → "eval") or a top-level module (`monde/runs.py` →
"runs"; `monde/__init__.py` → "monde"). Imports within one part are free.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "monde"

# Low-level shared modules: plain data types, atomic file writes, progress bars, signal
# handling, the precision rule, the CPU in words, the name tables of solvers and predictors (no
# torch), the run folder (lock, metrics, checkpoint names), the linear-probe core, the version.
# They import nothing of monde but io.
FOUNDATION = {
    "_version": set(),
    "types": set(),
    "io": set(),
    "progress": set(),
    "signals": set(),
    "precision": {"runs"},
    "hardware": set(),
    "registry": set(),
    "probing": set(),
    "runs": {"io"},
}
BASE = set(FOUNDATION)
CONFIG = BASE | {"config", "config_io"}  # typed configs and their YAML machinery
CLI = {"cli", "cli_bench", "cli_data", "cli_report", "cli_serve"}
LIBRARY = {"data", "envs", "models", "plan", "eval", "report", "train", "pipeline", "bench"}
LIBRARY |= {"pretrain"}  # frames-only encoder pretraining, beside train
LIBRARY |= {"serve"}  # the planning server (monde serve)

# part → the parts it may import (the picture in docs/architecture.md, top to bottom)
ALLOWED: dict[str, set[str]] = {
    **FOUNDATION,
    "config_io": {"io"},
    "config": {"registry", "config_io", "io"},
    "envs": CONFIG,  # environments know nothing of models, data, planning
    "models": CONFIG,  # models know nothing of environments, data, planning
    "data": CONFIG | {"envs"},  # collection steps environments
    "plan": CONFIG | {"models"},  # solvers see only the model protocol
    "train": CONFIG | {"data", "models"},  # training knows nothing of environments, planning, eval
    "pretrain": CONFIG | {"data", "models"},  # frames alone: no actions, environments, planning
    "eval": CONFIG | {"data", "envs", "models", "plan"},
    "report": CONFIG | {"data", "envs", "models", "plan", "eval"},
    # collect → train → evaluate → results as functions (never the command line)
    "pipeline": CONFIG | {"data", "envs", "models", "plan", "eval", "report", "train"},
    "bench": CONFIG | {"data", "envs", "models", "plan", "eval", "report", "train", "pipeline"},
    # the planning server: loads models, plans with MPCPlanner; knows no environment
    "serve": CONFIG | {"models", "plan"},
    "client": set(),  # the server's client: standard library and numpy only
    # the package root re-exports the common path lazily (PEP 562)
    "monde": {"_version", "config", "envs", "models", "plan"},
    # the command line sits on top; its verb modules never import the entry point back
    "cli": CONFIG | LIBRARY | CLI,
    **{verb: CONFIG | LIBRARY for verb in CLI - {"cli"}},
}

# (file, imported module) → why it is still allowed. Each entry is a debt: the test fails when
# one is no longer needed, so that it is removed here.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository, e.g. monde/train/fit.py
    line: int
    source: str  # importing module, e.g. monde.train.fit
    target: str  # imported module, e.g. monde.runs
    module_level: bool  # runs when `source` is imported (not in a function, not TYPE_CHECKING)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """monde.eval.probes → "eval"; monde.runs → "runs"; monde → "monde"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "monde"


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from .x import y
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join([*base, node.module] if node.module else base)
    else:
        module = node.module or ""
    submodules = [f"{module}.{a.name}" for a in node.names if is_module(f"{module}.{a.name}")]
    # `from monde import cli_data` imports the submodule; `from monde import x` the package
    return submodules if len(submodules) == len(node.names) else [module, *submodules]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[Import]:
    source = module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, package):
                    if target == "monde" or target.startswith("monde."):
                        rel = str(path.relative_to(ROOT))
                        found.append(Import(rel, child.lineno, source, target, module_level))
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), module_level)
            else:
                visit(child, module_level)

    visit(ast.parse(path.read_text(), filename=str(path)), True)
    return found


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def test_every_part_of_monde_has_a_row_in_the_table():
    parts = {part_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    missing = sorted(parts - set(ALLOWED))
    assert not missing, f"parts of monde/ with no row in ALLOWED (add one): {missing}"
    for part, allowed in ALLOWED.items():
        unknown = allowed - set(ALLOWED)
        assert not unknown, f"{part}: ALLOWED names unknown parts {unknown}"


def test_imports_follow_the_layers():
    forbidden, used_exceptions = [], set()
    for imp in all_imports():
        source, target = part_of(imp.source), part_of(imp.target)
        if source == target or target in ALLOWED.get(source, set()):
            continue
        if (imp.file, imp.target) in EXCEPTIONS:
            used_exceptions.add((imp.file, imp.target))
            continue
        forbidden.append(f"{imp.file}:{imp.line}: {source} → {target} (imports {imp.target})")
    assert not forbidden, "imports that break the layering of docs/architecture.md:\n" + "\n".join(
        forbidden
    )
    stale = sorted(set(EXCEPTIONS) - used_exceptions)
    assert not stale, f"EXCEPTIONS no longer needed, remove them: {stale}"


def test_no_library_module_imports_the_command_line():
    offenders = [
        f"{imp.file}:{imp.line}: imports {imp.target}"
        for imp in all_imports()
        if part_of(imp.target) in CLI
        and part_of(imp.source) not in CLI
        and (imp.file, imp.target) not in EXCEPTIONS
    ]
    assert not offenders, "library modules importing the command line:\n" + "\n".join(offenders)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in a directed graph as [a, b, …, a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(edges):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(edges[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_monde_modules():
    edges: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], str] = {}
    for imp in all_imports():
        if not imp.module_level or imp.target == imp.source:
            continue
        # importing monde.plan.mpc runs monde/plan/__init__.py first: an edge to each parent
        # package, except one the importing module is inside (already being imported)
        parts = imp.target.split(".")
        for k in range(2, len(parts) + 1):
            target = ".".join(parts[:k])
            inside = imp.source.startswith(target + ".") and k < len(parts)
            if target != imp.source and not inside and is_module(target):
                edges.setdefault(imp.source, set()).add(target)
                lines.setdefault((imp.source, target), f"{imp.file}:{imp.line}")
    cycle = find_cycle(edges)
    assert cycle is None, "module-level import cycle: " + " → ".join(
        f"{a} ({lines[a, b]})" for a, b in zip(cycle, cycle[1:], strict=False)
    )


# Environments stay inside monde/envs: code elsewhere reads what an env offers from its registry
# entry (monde.envs.registry.EnvEntry) instead of naming it. (file, literal) → why it remains;
# the test fails when one is no longer there, so that it is removed here.
ENV_NAME_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("monde/config.py", "two_room"): "EnvConfig.name's default, the demo's env (a config "
    "section may not import envs to look a default up)",
}


def env_name_literals() -> dict[tuple[str, str], list[int]]:
    """(file, name) → lines where monde/ outside envs/ holds that name as a string literal: the
    registered env names, the spellings their entries accept, and the state columns entries
    declare for measures (scene, agent position, wall)."""
    from monde.envs.registry import ENV_REGISTRY

    names = set(ENV_REGISTRY)
    for entry in ENV_REGISTRY.values():
        names |= {*entry.aliases, *entry.scene, *entry.position, *(entry.wall or ())}
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "envs"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in names:
                key = (str(path.relative_to(ROOT)), node.value)
                found.setdefault(key, []).append(node.lineno)
    return found


def test_no_module_outside_envs_names_an_environment():
    found = env_name_literals()
    bad = [f"{f}:{lines[0]} names env {name!r}" for (f, name), lines in found.items()
           if (f, name) not in ENV_NAME_EXCEPTIONS]  # fmt: skip
    assert not bad, "read the env's registry entry instead: " + "; ".join(bad)
    stale = sorted(set(ENV_NAME_EXCEPTIONS) - set(found))
    assert not stale, f"remove from ENV_NAME_EXCEPTIONS (no longer there): {stale}"
