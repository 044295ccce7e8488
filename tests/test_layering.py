"""The two packages meet only at the trial contract: import checks in fresh interpreters."""

import subprocess
import sys

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
