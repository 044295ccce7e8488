"""The two packages meet only at the trial contract: import checks in fresh interpreters, and
no import cycle anywhere."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = """
import importlib, pkgutil, sys
import {package}
for info in pkgutil.walk_packages({package}.__path__, "{package}."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden})
print(",".join(bad))
"""


@pytest.mark.parametrize("package, forbidden", [
    ("orchestrator", ("keras", "tensorflow", "jax", "models")),
])
def test_orchestrator_never_imports_keras_or_models(package, forbidden):
    code = CHECK.format(package=package, forbidden=forbidden)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{package} imported {out.stdout.strip()}"


def test_models_never_import_the_orchestrator():
    code = CHECK.format(package="models", forbidden=("orchestrator",))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
    assert out.stdout.strip() == "", f"models imported {out.stdout.strip()}"


ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("orchestrator", "models")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at module or function level (from the AST)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules():
    graph = import_graph()
    assert "orchestrator.search.loop" in graph and graph["orchestrator.search.stages"]
    found = cycles(graph)
    assert not found, "import cycles (module and function-level imports): " + "; ".join(
        " <-> ".join(c) for c in found)



PARSER = """
import sys
from orchestrator.cli import build_parser
parser = build_parser()
for argv in (["run", "x.yaml", "--cluster", "slurm"], ["data", "make", "dimuon", "-o", "x"]):
    parser.parse_known_args(argv)
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden})))
"""


def test_the_cli_parser_imports_no_dask_keras_or_models():
    """Building and using the parser stays light: models and Dask load when a command runs."""
    code = PARSER.format(forbidden=("dask", "distributed", "keras", "tensorflow", "jax", "models"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"build_parser imported {out.stdout.strip()}"


@pytest.mark.parametrize("module", ["orchestrator.space", "orchestrator.optimizers", "orchestrator"])
def test_the_core_imports_no_dask(module):
    """The spaces, the optimisers and the package itself load without Dask (``run`` is lazy)."""
    code = (f"import sys, {module}\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import {module} loaded {out.stdout.strip()}"
