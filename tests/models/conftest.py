"""Model tests share one process: undo what a deterministic trial changes in Keras globally;
the JAX checks run once, in one subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _restore_keras_seed_source():
    """``models.trial.make_deterministic`` gives Keras a private seed source for unseeded
    initializers; put Keras's own back after each test so later seeded tests stay seeded."""
    module = sys.modules.get("keras.src.random.seed_generator")
    before = getattr(module, "python_random", None)
    yield
    module = sys.modules.get("keras.src.random.seed_generator")
    if module is not None and hasattr(module, "python_random"):
        if before is None:
            import random

            before = random  # Keras's default: the global random module
        module.python_random = before


# XLA's CPU compile time dominates these tiny JAX steps (the 3DGAN's initializers alone compile
# ~30 programs): unoptimised code generation runs the same computation, compiled several times
# sooner (146 s -> 57 s for all JAX tests on the shared 2-core machine).
FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


@pytest.fixture(scope="session")
def jax_results():
    """The results of tests/models/_jax_checks.py, run once under KERAS_BACKEND=jax."""
    pytest.importorskip("jax")
    root = Path(__file__).parents[2]
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(root),
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {FAST_XLA}".strip()}
    script = Path(__file__).with_name("_jax_checks.py")  # this checkout's models, not an install's
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=root)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULTS ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS "):])
