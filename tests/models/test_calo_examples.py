"""The calorimeter example experiments run end to end through the orchestrator (tiny sizes)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["calo3d_tiny", "calo_wgan_tiny"])
def test_example_runs_end_to_end(name, tmp_path):
    from orchestrator.experiment import load_experiment
    from orchestrator.search import run

    exp = load_experiment(ROOT / "examples" / f"{name}.yaml")
    result = run(exp, store=str(tmp_path / f"{name}.zarr"), workers=1)
    assert result.n_architectures == exp.budget and result.n_failed_trials == 0
    assert result.best_params is not None and result.best_mean >= 0.0
