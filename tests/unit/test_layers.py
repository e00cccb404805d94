"""The package's layers, checked by walking every module's imports (ARCHITECTURE.md, Layers).

A module may import from its own floor or from floors below, never from one above; the
top-level packages may not import each other in a cycle; ``Settings`` is read only by the
composition root and the entry points; boto3 only by the AWS seam; SQLAlchemy only by the
store (and by the composition root, which opens the database through it).
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "newsletter"

# Bottom to top. Each name is a top-level package or module of ``newsletter``.
FLOORS: list[tuple[str, set[str]]] = [
    ("model", {"__init__", "model", "vocabulary", "errors", "clock", "tokens", "cjk"}),
    ("parts", {"issues", "rendering", "mail", "transports", "store", "aws"}),
    ("services", {"editing", "sending", "feedback", "subscribers", "desk", "reports", "api",
                  "webhooks"}),
    ("composition", {"settings", "wiring", "wiring_api"}),
    ("entry points", {"cli", "web", "__main__"}),
]
FLOOR_OF = {name: number for number, (_, names) in enumerate(FLOORS) for name in names}

# Who may import what, beyond the floors.
SETTINGS_READERS = ("newsletter.settings", "newsletter.wiring", "newsletter.cli.",
                    "newsletter.web.app")
BOTO3_READERS = ("newsletter.aws",)
SQLALCHEMY_READERS = ("newsletter.store.",)
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (a module of ours, or a third-party name)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    base = PACKAGE.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports_of(path: Path) -> list[Import]:
    """Every import in ``path``, at any depth (imports inside functions count too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                # `from newsletter import wiring` imports a module, not a name.
                candidate = f"{base}.{alias.name}"
                target = candidate if is_module(candidate) else base
                found.append(Import(name, target, node.lineno))
    return found


@functools.cache
def all_imports() -> tuple[Import, ...]:
    """Every import of the package (read once per test session: the tests only read it)."""
    return tuple(i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path))


def top(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def ours(item: Import) -> bool:
    return item.target == "newsletter" or item.target.startswith("newsletter.")


def where(item: Import) -> str:
    return f"{item.module}:{item.line} imports {item.target}"


def test_every_top_level_package_has_a_floor() -> None:
    """A new top-level package must be placed on a floor before it can be imported."""
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert names - set(FLOOR_OF) == set(), "place these in FLOORS (and ARCHITECTURE.md)"


@pytest.mark.slow
def test_no_module_imports_a_floor_above_its_own() -> None:
    """Data flows one way: nothing imports upward (wiring only from the entry points)."""
    upward = [
        f"{where(i)} ({FLOORS[FLOOR_OF[top(i.module)]][0]} -> "
        f"{FLOORS[FLOOR_OF[top(i.target)]][0]})"
        for i in all_imports()
        if ours(i) and FLOOR_OF[top(i.target)] > FLOOR_OF[top(i.module)]
    ]
    assert upward == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the directed graph, as the list of its nodes, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_find_cycle_finds_one_and_only_one() -> None:
    """The cycle finder itself: a loop is found, a diamond is not a loop."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}) is None


@pytest.mark.slow
def test_top_level_packages_form_no_cycle() -> None:
    """Packages on one floor may use each other, but never in a loop."""
    edges: dict[str, set[str]] = defaultdict(set)
    for i in all_imports():
        if ours(i) and top(i.module) != top(i.target):
            edges[top(i.module)].add(top(i.target))
    assert find_cycle(edges) is None


@pytest.mark.parametrize(("target", "allowed"), [
    ("newsletter.settings", SETTINGS_READERS),
    ("boto3", BOTO3_READERS),
    ("sqlalchemy", SQLALCHEMY_READERS),
])
def test_only_its_owners_import(target: str, allowed: tuple[str, ...]) -> None:
    """Settings reach only the composition root and the entry points; boto3 only the AWS
    seam; SQL only the store."""
    strays = [
        where(i) for i in all_imports()
        if (i.target == target or i.target.startswith(f"{target}."))
        and not (i.module in allowed or i.module.startswith(allowed))
    ]
    assert strays == []


def test_modules_are_small_enough_to_read_in_one_sitting() -> None:
    """No module over MAX_LINES lines: split it by concept."""
    long = {module_name(p): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}
