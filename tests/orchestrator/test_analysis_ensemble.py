"""`ganhpo ensemble`: K retrainings of a tiny hadronization GAN on a LocalCluster; band arithmetic."""

import json

import numpy as np
import pytest
from distributed import Client, LocalCluster

from orchestrator.analysis.ensemble import ensemble_histograms, member_seeds, run_ensemble
from orchestrator.experiment import Experiment
from orchestrator.store import DONE, ResultsStore

DATA = {"events": 600, "validation": 300, "seed": 0, "steps_per_epoch": 3}


def test_band_matches_an_independent_numpy_computation():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(2000, 2))
    generated = [rng.normal(0.1 * k, 1.0 + 0.1 * k, size=(1500, 2)) for k in range(3)]
    hists = ensemble_histograms(generated, truth, bins=10)
    for c, h in enumerate(hists):
        lo, hi = np.percentile(truth[:, c], [0.5, 99.5])
        edges = lo + (hi - lo) * np.arange(11) / 10
        np.testing.assert_allclose(h["edges"], edges)
        width = np.diff(edges)
        counts = np.array([[np.sum((g[:, c] >= edges[i]) & ((g[:, c] < edges[i + 1]) if i < 9
                                                             else (g[:, c] <= edges[i + 1])))
                            for i in range(10)] for g in generated], float)
        dens = counts / counts.sum(axis=1, keepdims=True) / width
        np.testing.assert_allclose(h["members"], dens)
        np.testing.assert_allclose(h["mean"], dens.sum(axis=0) / 3)
        var = ((dens - dens.mean(axis=0)) ** 2).sum(axis=0) / 2  # sample variance over members
        np.testing.assert_allclose(h["std"], np.sqrt(var))
        assert np.sum(h["truth"] * width) == pytest.approx(1.0)


def test_member_seeds_differ_from_each_other_and_by_architecture():
    seeds = member_seeds(1, 3, 4)
    assert len(set(seeds)) == 4 and seeds == member_seeds(1, 3, 4)
    assert not set(seeds) & set(member_seeds(1, 4, 4))


@pytest.mark.slow
def test_ensemble_of_a_tiny_hadronization_gan(tmp_path):
    # a finished two-architecture search, written directly (the search itself is tested elsewhere)
    exp = Experiment(space={"gen_layersize": {"lower": 1, "upper": 4, "scale": 8}},
                     model="hadronization", data=DATA, fixed={"batch_size": 64, "noise_dim": 4},
                     epochs=1, trials=2, budget=2, seed=5)
    store = str(tmp_path / "h.zarr")
    writer = ResultsStore.create(store, exp.to_dict(), exp.space.names, 2, 1)
    for a, (size, metric) in enumerate([(3, 0.4), (2, 0.2)]):
        writer.add_architecture(exp.space.to_row({"gen_layersize": 8 * size}))
        writer.set("metric", a, [metric, metric + 0.1])
        writer.set("status", a, [DONE, DONE])
    writer.flush()
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        result = run_ensemble(store, k=2, arch="best", out_dir=str(tmp_path / "ens"), epochs=2,
                              client=client)
    assert result["arch"] == 1 and result["params"]["gen_layersize"] == 16 and result["epochs"] == 2
    assert result["columns"] == ["phi", "theta"]
    out = tmp_path / "ens"
    for name in ("ensemble.png", "ensemble.pdf"):
        assert (out / name).stat().st_size > 10_000
    summary = json.loads((out / "ensemble.json").read_text())
    weights = [m["weights"] for m in summary["members"]]
    assert len(set(weights)) == 2 and all((out / w).is_file()
                                          for w in weights)
    assert all(np.isfinite(m["metric"]) for m in summary["members"])
    # members differ (different seeds), so the band has width; it is the ddof=1 spread of members
    h = result["histograms"][0]
    assert h["members"].shape == (2, 40) and np.any(h["std"] > 0)
    np.testing.assert_allclose(h["std"], np.std(h["members"], axis=0, ddof=1))
    saved = np.load(out / "ensemble_histograms.npz")
    np.testing.assert_allclose(saved["phi_mean"], h["mean"])
    # the saved generator reproduces the architecture and loads in Keras
    import keras

    from models.hadronization import build_generator

    gen = build_generator(4, int(result["params"]["gen_layersize"]))
    gen.load_weights(str(out / weights[0]))  # paths are relative to the output folder
    z = np.zeros((5, 4), "float32")
    assert gen([z, np.zeros((5, 4), "float32")]).shape == (5, 2)
    assert keras.backend.backend() in ("tensorflow", "jax")
