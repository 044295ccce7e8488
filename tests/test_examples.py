"""Every shipped experiment file validates: fields, space, optimiser, trial and model importable."""

import importlib
from pathlib import Path

import pytest

from orchestrator.experiment import load_experiment
from orchestrator.search import build_optimizer

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_experiment_is_valid(path):
    exp = load_experiment(path)
    build_optimizer(exp).ask(2)
    module, _, name = exp.trial.partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    if exp.trial == "models.trial:run_trial":
        from models.trial import FAMILIES

        assert exp.model in FAMILIES


def test_paper_broad_searches_carry_the_published_lattice():
    for name in ("hadronization_broad", "dimuon_broad"):
        exp = load_experiment(Path(EXAMPLES[0]).parent / f"{name}.yaml")
        space = exp.space.to_dict()
        assert space["lr_gen"] == {"type": "lattice", "lower": 1, "upper": 200, "scale": 5e-5}
        assert space["batch_size"]["scale"] == 32 and space["noise_dim"]["upper"] == 100
        assert exp.trials == 5 and exp.budget == 100 and exp.optimizer["name"] == "rbf"
