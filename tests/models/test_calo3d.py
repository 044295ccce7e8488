"""3DGAN: published layer shapes, the fixed physics outputs, training at a reduced grid."""

import keras
import numpy as np
import pytest

from models import calo3d
from models.trial import run_trial

# The reference layer list (Khattak et al. 2021): name -> output shape without the batch axis.
GENERATOR_SHAPES = {
    "latent": (256,), "dense": (5184,), "reshape": (9, 9, 8, 8), "upsample": (54, 54, 48, 8),
    "conv1": (49, 49, 41, 8), "conv2": (50, 50, 38, 6), "conv3": (51, 51, 35, 6),
    "conv4": (52, 52, 32, 6), "conv5": (52, 52, 28, 6), "conv6": (52, 52, 26, 6),
    "conv_out": (51, 51, 25, 1), "image": (51, 51, 25, 1),
}
DISCRIMINATOR_SHAPES = {
    "dconv1": (51, 51, 25, 16), "dconv2": (47, 46, 22, 8), "dconv3": (43, 41, 19, 8),
    "dconv4": (39, 36, 14, 8), "pool": (19, 18, 7, 8), "features": (19152,),
    "real_fake": (1,), "energy": (1,), "angle": (1,), "ecal": (1,),
}
SMALL = {"batch_size": 8, "lr": 3e-4, "latent": 32, "gen_dense_filters": 4, "gen_filters": 4,
         "gen_filters2": 4, "disc_filters": 8, "disc_filters2": 4}
SMALL_DATA = {"events": 300, "grid": [13, 13, 8], "val_events": 100, "steps_per_epoch": 6}


@pytest.fixture(scope="module")
def published():
    return calo3d.build_generator(), calo3d.build_discriminator()


def test_published_layer_shapes(published):
    gen, disc = published
    assert gen.output.shape == (None, 51, 51, 25, 1)
    for name, shape in GENERATOR_SHAPES.items():
        assert tuple(gen.get_layer(name).output.shape[1:]) == shape, name
    for name, shape in DISCRIMINATOR_SHAPES.items():
        assert tuple(disc.get_layer(name).output.shape[1:]) == shape, name
    assert [o.shape for o in disc.outputs] == [(None, 1)] * 4
    # the physics outputs have no weights
    assert not disc.get_layer("angle").weights and not disc.get_layer("ecal").weights


def straight_shower(theta: float, grid=(51, 51, 25), y0: float = 25.5) -> np.ndarray:
    """One event: 1 unit per layer on the line y = y0 + (z - 12.5) cot(theta), x fixed."""
    nx, ny, nz = grid
    img = np.zeros((1, nx, ny, nz), np.float64)
    for z in range(nz):
        y = y0 + (z + 0.5 - nz / 2) / np.tan(theta) - 0.5      # centre of cell j is j + 0.5
        j = int(np.floor(y))
        img[0, 25, j, z], img[0, 25, j + 1, z] = 1 - (y - j), y - j
    return img


@pytest.mark.parametrize("degrees", [62.0, 90.0, 115.0])
def test_discriminator_physics_outputs(published, degrees):
    _, disc = published
    raw = straight_shower(np.radians(degrees)) * np.linspace(1.0, 4.0, 25)   # uneven layers
    image = (raw ** calo3d.POWER)[..., None].astype("float32")
    _, _, angle, ecal = (keras.ops.convert_to_numpy(o) for o in disc(image, training=False))
    assert angle[0, 0] == pytest.approx(np.radians(degrees), abs=1e-4)
    assert ecal[0, 0] == pytest.approx(raw.sum(), rel=1e-5)
    empty = keras.ops.convert_to_numpy(calo3d.measured_angle(np.zeros((1, 51, 51, 25, 1), "float32")))
    assert empty[0, 0] == calo3d.EMPTY_ANGLE


def test_reduced_3dgan_learns_sampling_fraction():
    """One trainer at 13x13x8: a step runs (TF), and training lowers the SF error clearly."""
    keras.utils.set_random_seed(3)
    trainer = calo3d.make_trainer(SMALL, {**SMALL_DATA, "test": 0}, seed=3)  # the pre-test split
    assert trainer.generator.output.shape == (None, 13, 13, 8, 1)
    assert trainer.selection_window == 10
    untrained = trainer.evaluate()["metric"]
    scores = []
    for _ in range(5):
        losses = trainer.train_epoch()
        assert set(losses) == {"d_loss", "g_loss"} and all(np.isfinite(list(losses.values())))
        scores.append(trainer.evaluate()["metric"])
    assert min(scores[-3:]) < 0.75 * untrained, (untrained, scores)


def test_two_step_training_uses_restricted_range_first():
    trainer = calo3d.make_trainer({**SMALL, "two_step": True, "first_step_epochs": 1},
                                  {**SMALL_DATA, "steps_per_epoch": 1}, seed=0)
    x, y = trainer._training_set()
    assert 0 < len(x) < len(trainer.x) and y[:, 0].min() >= 1.0 and y[:, 0].max() <= 2.0
    trainer.train_epoch()
    assert len(trainer._training_set()[0]) == len(trainer.x)


def test_run_trial_contract():
    out = run_trial(SMALL, model="calo3d", data={**SMALL_DATA, "steps_per_epoch": 1},
                    epochs=1, seed=0)
    assert out["status"] == "done" and out["best_epoch"] == 0 and out["n_params"] > 0
    assert {"metric", "shape_mre", "seconds", "test_metric", "test_shape_mre"} <= set(out)
    assert np.isfinite(out["test_metric"]) and out["n_test"] == 58   # = validation: 294 // 5


def test_test_showers_are_held_out_of_training_and_validation():
    t = calo3d.make_trainer(SMALL, {**SMALL_DATA, "test": 30}, seed=0)
    def images(x):  # each shower's x^0.85 image as bytes, computed as the trainer does
        return {r.tobytes() for r in x}

    held = [images(np.power(d["ECAL"], calo3d.POWER)[..., None].astype(np.float32))
            for d in (t.val, t.test)]
    assert len(held[1]) == 30 and not held[1] & (images(t.x) | held[0])
    assert len(t.x) + len(t.val["energy"]) + 30 == t.split.events


def test_unknown_hyperparameter_is_named():
    with pytest.raises(ValueError, match="gen_filterz"):
        calo3d.make_trainer({"gen_filterz": 3}, SMALL_DATA, seed=0)
