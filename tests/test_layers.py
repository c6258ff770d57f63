"""The layer rule, read from the code: every module's imports (AST, imports inside
functions and under ``TYPE_CHECKING`` included) against

    engine, collectors  →  monitoring (core)  →  alerts  →  dashboards  →  renderers
                                                                        →  monitoring.app (shell)

A module imports its own package and those to its left, at module top level; only the
shell imports lazily, and nothing imports the shell. No package cycle, no file cycle,
no importlib or ``except ImportError`` for the project's own modules, and no library
reading a config it cannot import (``config: Any``, ``getattr(config, ...)``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "collectors", "monitoring", "alerts", "dashboards", "renderers")
SHELL = "monitoring.app"
# Rank of each layer; a layer may import layers of lower rank. engine and collectors
# share the first rank but know nothing of each other.
RANK = {"engine": 0, "collectors": 0, "monitoring": 1, "alerts": 2, "dashboards": 3,
        "renderers": 4, SHELL: 5}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (resolved to a module where it names one)
    line: int
    top_level: bool


def layer(module: str) -> str:
    if module == SHELL or module.startswith(SHELL + ".") or module == "monitoring.__main__":
        return SHELL
    return module.split(".")[0]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")) if (root / pkg).is_dir() else ():
            found[module_name(root, path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level_nodes(tree: ast.Module) -> set[int]:
    """Import statements at module level, those under ``if TYPE_CHECKING:`` included."""
    top = set()
    for node in tree.body:
        top.add(id(node))
        if isinstance(node, ast.If) and _is_type_checking(node):
            top.update(id(n) for n in node.body)
    return top


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    top = _top_level_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            # "from pkg import sub" imports the module pkg.sub when there is one.
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known]
            targets = subs or [mod]
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                out.append(Import(name, target, node.lineno, id(node) in top))
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _owner(target: str, known: dict[str, Path]) -> str | None:
    """The project module an import resolves to (a package's ``__init__`` for a name)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def violations(root: Path = ROOT) -> list[str]:
    known = modules(root)
    problems = []
    file_graph: dict[str, set[str]] = {m: set() for m in known}
    layer_graph: dict[str, set[str]] = {}
    for name, path in known.items():
        src_layer = layer(name)
        rel = path.relative_to(root)
        for imp in imports_of(name, path, known):
            dst_layer = layer(imp.target)
            where = f"{rel}:{imp.line}: imports {imp.target}"
            if dst_layer == SHELL and src_layer != SHELL:
                problems.append(f"{where}: nothing imports the app shell")
            elif src_layer != dst_layer and (RANK[dst_layer] >= RANK[src_layer]):
                problems.append(f"{where}: {src_layer} may only import layers to its left")
            if not imp.top_level and src_layer != SHELL:
                problems.append(f"{where}: inside a function (only the shell imports lazily)")
            owner = _owner(imp.target, known)
            if owner is not None and owner != name:
                file_graph[name].add(owner)
            if src_layer != dst_layer:
                layer_graph.setdefault(src_layer, set()).add(dst_layer)
        problems.extend(f"{rel}:{p}" for p in _forbidden_patterns(path, src_layer))
    for comp in _cycles(layer_graph):
        problems.append(f"package cycle: {' <-> '.join(comp)}")
    for comp in _cycles(file_graph):
        # A package's __init__ re-exporting its own modules is not a cycle of files.
        if not all(m.startswith(comp[0] + ".") or m == comp[0] for m in comp):
            problems.append(f"file cycle: {' <-> '.join(comp)}")
    return problems


def _forbidden_patterns(path: Path, src_layer: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            first = node.args[0] if node.args else None
            if (name in ("import_module", "__import__") and isinstance(first, ast.Constant)
                    and str(first.value).split(".")[0] in PACKAGES):
                found.append(f"{node.lineno}: importlib of the project's own module")
            if (name == "getattr" and node.args and isinstance(node.args[0], ast.Name)
                    and node.args[0].id == "config"):
                found.append(f"{node.lineno}: getattr(config, ...): take the section as an "
                             "argument")
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                caught = ast.unparse(handler.type) if handler.type is not None else ""
                if "ImportError" in caught and any(
                        imp.split(".")[0] in PACKAGES for imp in _imported(node.body)):
                    found.append(f"{node.lineno}: except ImportError around the project's own "
                                 "import")
        if isinstance(node, ast.arg) and node.arg == "config" and node.annotation is not None \
                and ast.unparse(node.annotation) == "Any":
            found.append(f"{node.lineno}: config: Any: take a typed section")
    return found


def _imported(body: list[ast.stmt]) -> list[str]:
    out = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Import):
                out += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                out.append(node.module)
    return out


# --- the tests -----------------------------------------------------------------------

def test_the_code_keeps_the_layer_rule() -> None:
    problems = violations()
    assert not problems, "layer rule broken:\n  " + "\n  ".join(problems)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").touch()
    return tmp_path


def test_an_import_to_the_right_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"monitoring/catalog.py": "import alerts.rules\n",
                            "alerts/rules.py": "X = 1\n"})
    assert any("monitoring/catalog.py:1: imports alerts.rules" in p for p in violations(root))


def test_a_lazy_import_outside_the_shell_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"alerts/a.py": "def f():\n    from monitoring import catalog\n",
                            "monitoring/catalog.py": "X = 1\n"})
    assert any("inside a function" in p for p in violations(root))


def test_the_shell_may_import_lazily_but_nothing_imports_it(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "monitoring/app/__init__.py": "",
        "monitoring/app/cli.py": "def f():\n    import renderers.html\n",
        "renderers/html.py": "import monitoring.app.cli\n"})
    problems = violations(root)
    assert not any("monitoring/app/cli.py" in p for p in problems)
    assert any("renderers/html.py:1" in p and "app shell" in p for p in problems)


def test_file_and_package_cycles_are_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "engine/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                       "    from engine.b import B\n",
        "engine/b.py": "from engine.a import A\n"})
    assert "file cycle: engine.a <-> engine.b" in violations(root)
    root2 = _tree(tmp_path / "two", {"engine/x.py": "import collectors.y\n",
                                      "collectors/y.py": "import engine.x\n"})
    assert any(p.startswith("package cycle: collectors <-> engine") for p in violations(root2))


def test_config_any_getattr_importlib_and_import_error_are_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"alerts/c.py": (
        "import importlib\nfrom typing import Any\n"
        "def f(config: Any):\n    return getattr(config, 'slos', None)\n"
        "importlib.import_module('dashboards.data')\n"
        "try:\n    import renderers.text\nexcept ImportError:\n    pass\n")})
    text = "\n".join(violations(root))
    for needle in ("config: Any", "getattr(config", "importlib of the project",
                   "except ImportError"):
        assert needle in text, needle
