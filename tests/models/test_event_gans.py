"""Hadronization and dimuon GAN families on TensorFlow: shapes, a training step, learning, trials."""

import sys
import types

import keras
import numpy as np
import pytest

from models import dimuon, hadronization
from models.data.hadronization import generate_clusters
from models.trial import run_trial

TINY = {"gen_layersize": 8, "disc_layersize": 8, "batch_size": 64, "noise_dim": 4}
DATA = {"events": 256, "validation": 64}


def test_hadronization_shapes_at_published_and_tiny_size():
    g = hadronization.build_generator(4, 256)
    d = hadronization.build_discriminator(256)
    assert g.output.shape == (None, 2) and d.output.shape == (None, 1)
    assert [i.shape for i in g.inputs] == [(None, 4), (None, 4)]
    # concat(8) -> 256 -> BN -> 256 -> BN -> 2
    assert g.count_params() == (8 * 256 + 256) + 4 * 256 + (256 * 256 + 256) + 4 * 256 + (256 * 2 + 2)
    z, c = np.zeros((5, 4), "float32"), np.zeros((5, 4), "float32")
    out = keras.ops.convert_to_numpy(g([z, c]))
    assert out.shape == (5, 2) and np.all(np.abs(out) <= 1)
    tiny = hadronization.build_generator(2, 3)
    assert tiny([np.zeros((1, 2)), np.zeros((1, 4))]).shape == (1, 2)


def test_dimuon_shapes_at_published_and_tiny_size():
    g, d = dimuon.build_mlp(96, 8, 960, 104)
    assert g.input.shape == (None, 96) and g.output.shape == (None, 8) and d.output.shape == (None, 1)
    g, d = dimuon.build_dygan(100, 7)
    dense = [layer.units for layer in g.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [64, 128, 256, 512, 256, 128, 7]
    dense = [layer.units for layer in d.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [128, 128, 256, 256, 128, 64, 32, 16, 8, 1]
    g, _ = dimuon.build_dygan(4, 8, width_factor=0.125)
    assert g(np.zeros((3, 4))).shape == (3, 8)


@pytest.mark.parametrize("family,params", [
    (hadronization, TINY), (dimuon, TINY), (dimuon, {"variant": "dygan", "width_factor": 0.125,
                                                     "batch_size": 64, "noise_dim": 4})])
def test_one_training_epoch_per_family(family, params):
    trainer = family.make_trainer(params, DATA, seed=1)
    before = [w.copy() for w in trainer.generator.get_weights()]
    losses = trainer.train_epoch()
    assert int(trainer.gan.g_optimizer.iterations) == 4   # 256 events / batch 64
    assert all(np.isfinite(v) for v in losses.values())
    assert any(not np.allclose(a, b) for a, b in zip(before, trainer.generator.get_weights()))
    assert np.isfinite(trainer.evaluate()["metric"]) and trainer.n_params > 0


def test_published_defaults_fill_missing_params_and_unknown_ones_fail():
    trainer = hadronization.make_trainer({}, {"events": 300, "validation": 100, "steps_per_epoch": 1}, 0)
    assert trainer.gan.noise_dim == 4 and trainer.batch_size == 300      # 512 capped at the data
    assert dimuon.defaults("mlp")["gen_layersize"] == 960 and dimuon.defaults("dygan")["c1"] == 1e-4
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        hadronization.make_trainer({"gen_size": 3}, DATA, 0)


def test_dygan_mass_loss_is_zero_at_the_targets_and_positive_elsewhere():
    table = dimuon.generate_events(500, 0)
    x = dimuon.features(table)
    scaler = dimuon.MinMaxScaler.fit(x)
    m = keras.ops.convert_to_numpy(dimuon.dimuon_mass(x))
    loss = dimuon.mass_loss(scaler, float(m.mean()), float(m.std()), 1e-4, 1e-4)
    assert float(loss(scaler.transform(x))) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(scaler.transform(x) * 0.5)) > 1e-3


def learn(family, params, epochs):
    keras.utils.set_random_seed(1)
    trainer = family.make_trainer(params, {"events": 3000, "validation": 1000}, seed=1)
    untrained = trainer.evaluate()["metric"]
    best = min(trainer.train_epoch() and trainer.evaluate()["metric"] for _ in range(epochs))
    return untrained, best


def test_hadronization_learns_in_seconds():
    untrained, best = learn(hadronization, {"gen_layersize": 32, "disc_layersize": 32,
                                            "batch_size": 64, "lr_gen": 1e-3, "lr_disc": 1e-3}, 2)
    assert best < 0.5 * untrained, (untrained, best)


def test_dimuon_mlp_learns_in_seconds():
    untrained, best = learn(dimuon, {"gen_layersize": 32, "disc_layersize": 64, "batch_size": 32,
                                     "noise_dim": 8, "lr_gen": 1e-3, "lr_disc": 1e-3}, 2)
    assert best < 0.6 * untrained, (untrained, best)


def test_dygan_learns_in_seconds():
    untrained, best = learn(dimuon, {"variant": "dygan", "width_factor": 0.25, "batch_size": 64,
                                     "noise_dim": 8}, 4)
    assert best < 0.5 * untrained, (untrained, best)


def test_run_trial_reports_each_epoch_and_a_diverging_run_keeps_its_best_epoch(monkeypatch):
    reports = []
    result = run_trial(TINY, model="hadronization", data=DATA, epochs=2, seed=3,
                       report=lambda e, m: reports.append((e, m)))
    assert result["status"] == "done" and [e for e, _ in reports] == [0, 1]
    assert result["metric"] == min(m["metric"] for _, m in reports)

    def poisoned(params, data, seed):   # a real trainer whose data turn to NaN after epoch 0
        trainer = hadronization.make_trainer(params, data, seed)
        train = trainer.train_epoch

        def epoch():
            losses = train()
            trainer.x = np.full_like(trainer.x, np.nan)
            return losses
        trainer.train_epoch = epoch
        return trainer

    monkeypatch.setitem(sys.modules, "diverging_family", types.SimpleNamespace(make_trainer=poisoned))
    reports = []
    result = run_trial(TINY, model="diverging_family", data=DATA, epochs=5, seed=3,
                       report=lambda e, m: reports.append((e, m)))
    assert [e for e, _ in reports] == [0]  # stopped at the divergence
    assert result["status"] == "done" and result["diverged_at"] == 1 and result["best_epoch"] == 0
    assert result["metric"] == reports[0][1]["metric"] and "diverged at epoch 1" in result["note"]

    def poisoned_at_once(params, data, seed):  # nothing finite before the divergence: a failure
        trainer = hadronization.make_trainer(params, data, seed)
        trainer.x = np.full_like(trainer.x, np.nan)
        return trainer

    monkeypatch.setitem(sys.modules, "diverging_family",
                        types.SimpleNamespace(make_trainer=poisoned_at_once))
    result = run_trial(TINY, model="diverging_family", data=DATA, epochs=5, seed=3)
    assert result["status"] == "failed" and "diverged at epoch 0" in result["error"]
    assert result["diverged_at"] == 0


# ---- the test split: held out of training and epoch selection, evaluated once at the end -------

def clusters_file(path, n=1000, poison=None):
    """A converter npz of n synthetic clusters; ``poison``: rows whose angles are replaced."""
    c = generate_clusters(n, seed=5)
    angles = c["out_truth"].copy()
    if poison is not None:
        angles[poison] = [1.5, 1.5]         # one corner point: far from the real angles
    with open(path, "wb") as f:
        np.savez(f, input_4vec=c["input_4vec"].astype(np.float32), out_truth=angles.astype(np.float32))
    return path


def test_test_events_are_disjoint_from_training_and_validation(tmp_path):
    path = clusters_file(tmp_path / "c.npz")
    d = hadronization.load_data({"path": str(path), "validation": 200, "test": 150})
    cond_scaler, out_scaler = d["scalers"]
    rows = {name: np.column_stack([cond_scaler.inverse(c), out_scaler.inverse(o)])
            for name, (o, c) in (("train", d["train"]), ("validation", d["validation"]),
                                 ("test", d["test"]))}
    assert [len(rows[k]) for k in ("train", "validation", "test")] == [650, 200, 150]
    as_set = {k: {tuple(np.round(r, 4)) for r in v} for k, v in rows.items()}
    assert not as_set["test"] & (as_set["train"] | as_set["validation"])
    assert not as_set["train"] & as_set["validation"]
    with np.load(path) as f:   # the test rows are the file's rows 650..799, unchanged
        assert np.allclose(rows["test"][:, 4:], f["out_truth"][650:800], atol=1e-5)
    assert d["split"].line() == "650 train / 200 validation / 150 test"


def test_test_metric_is_the_best_epochs_generator_on_the_test_events(tmp_path):
    from scipy.stats import wasserstein_distance

    data = {"events": 512, "validation": 128, "test": 96}
    weights = str(tmp_path / "g.weights.h5")
    out = run_trial(TINY, model="hadronization", data=data, epochs=3, seed=4, save_weights=weights)
    assert out["n_test"] == 96 and np.isfinite(out["test_metric"])
    # independently: the saved best-epoch generator, the test rows, scipy's distance per column
    test_x, test_cond = hadronization.load_data(data)["test"]
    g = hadronization.build_generator(TINY["noise_dim"], TINY["gen_layersize"])
    g.load_weights(weights)
    z = np.random.default_rng([4, 7357]).normal(0.0, 1.0, (96, TINY["noise_dim"])).astype("float32")
    fake = keras.ops.convert_to_numpy(g([z, test_cond], training=False))
    expected = np.mean([wasserstein_distance(test_x[:, j], fake[:, j]) for j in range(2)])
    assert out["test_metric"] == pytest.approx(expected, rel=1e-5)
    assert "test_metric" not in run_trial(TINY, model="hadronization", data={**data, "test": 0},
                                          epochs=1, seed=4)


def test_poisoned_test_events_change_only_the_test_metric(tmp_path):
    clean = clusters_file(tmp_path / "clean.npz")
    poisoned = clusters_file(tmp_path / "poisoned.npz", poison=slice(650, 800))   # the test rows
    results = [run_trial(TINY, model="hadronization", epochs=2, seed=2, deterministic=True,
                         data={"path": str(p), "validation": 200, "test": 150})
               for p in (clean, poisoned)]
    a, b = results
    assert a["metric"] == b["metric"] and a["best_epoch"] == b["best_epoch"]  # training, selection
    assert b["test_metric"] > a["test_metric"] + 0.2, (a, b)


def test_the_default_test_split_of_every_event_family():
    out = run_trial(TINY, model="dimuon", data={"events": 256, "validation": 64}, epochs=1, seed=0)
    assert out["n_test"] == 64 and np.isfinite(out["test_metric"])
    assert dimuon.load_data({"events": 256, "validation": 64})["split"].events == 384
