"""Model tests share one process: undo what a deterministic trial changes in Keras globally."""

import sys

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
