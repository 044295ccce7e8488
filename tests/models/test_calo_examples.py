"""The calorimeter example experiments run end to end through the orchestrator (tiny sizes)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client():
    """One embedded local cluster (as `ganhpo run` starts: two worker processes) for both examples."""
    from distributed import Client

    from orchestrator.cluster import disconnect, make_cluster

    own = Client(make_cluster("local", workers=2))
    yield own
    disconnect(own)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["calo3d_tiny", "calo_wgan_tiny"])
def test_example_runs_end_to_end(name, client, tmp_path):
    from orchestrator.experiment import load_experiment
    from orchestrator.search import run

    exp = load_experiment(ROOT / "examples" / f"{name}.yaml")
    result = run(exp, client, store=str(tmp_path / f"{name}.zarr"))
    assert result.n_architectures == exp.budget and result.n_failed_trials == 0
    assert result.best_params is not None and result.best_mean >= 0.0
