"""models.gan on the TensorFlow backend (the JAX run is in test_jax_backend.py)."""

import keras
import numpy as np
import pytest
from keras import layers

from models.gan import GAN, WGANGP


def mlp(inputs, sizes, out, activation=None, batch_norm=True):
    x = layers.Concatenate()(inputs) if len(inputs) > 1 else inputs[0]
    for size in sizes:
        x = layers.Dense(size)(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], layers.Dense(out, activation=activation)(x))


def data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)).astype("float32"), rng.normal(size=(n, 4)).astype("float32")


def conditional_gan(seed=1, **kwargs):
    keras.utils.set_random_seed(seed)
    g = mlp([keras.Input((3,)), keras.Input((4,))], [8, 8], 2, "tanh")
    d = mlp([keras.Input((2,))], [8, 8], 1, "sigmoid")
    gan = GAN(g, d, noise_dim=3, seed=seed, **kwargs)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    return gan


def test_bce_gan_fit_updates_both_networks_and_batch_norm_stats():
    gan = conditional_gan()
    x, c = data()
    g0, d0 = gan.generator.get_weights(), gan.discriminator.get_weights()
    history = gan.fit(x, c, batch_size=64, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "g_extra"}
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert int(gan.g_optimizer.iterations) == int(gan.d_optimizer.iterations) == 4
    moving_mean = next(w for w in gan.generator.weights if "moving_mean" in w.path)
    assert np.any(keras.ops.convert_to_numpy(moving_mean) != 0)
    assert any(not np.allclose(a, b) for a, b in zip(g0, gan.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d0, gan.discriminator.get_weights()))
    assert gan.generate(10, c[:10]).shape == (10, 2)


def test_extra_generator_loss_is_added_and_logged():
    gan = conditional_gan(extra_losses=[lambda fake, cond: 100.0 + 0.0 * keras.ops.mean(fake)])
    x, c = data()
    history = gan.fit(x, c, batch_size=128, epochs=1, verbose=0)
    assert history.history["g_extra"][0] == pytest.approx(100.0)
    assert history.history["g_loss"][0] > 100.0


def test_same_seed_same_training():
    x, c = data()
    runs = [conditional_gan(seed=3).fit(x, c, batch_size=64, epochs=1, verbose=0, shuffle=False)
            .history["g_loss"][0] for _ in range(2)]
    assert runs[0] == runs[1]


def test_unconditional_gan_needs_no_condition_and_rejects_a_missing_one():
    keras.utils.set_random_seed(0)
    gan = GAN(mlp([keras.Input((3,))], [4], 2), mlp([keras.Input((2,))], [4], 1, "sigmoid"), 3)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    gan.fit(data()[0], batch_size=128, epochs=1, verbose=0)
    assert gan.generate(5).shape == (5, 2)
    with pytest.raises(ValueError, match="pass it to fit"):
        conditional_gan().fit(data()[0], batch_size=128, epochs=1, verbose=0)


def wgan(n_critic=3):
    keras.utils.set_random_seed(0)
    g = mlp([keras.Input((3,)), keras.Input((4,))], [8], 2, batch_norm=False)
    d = mlp([keras.Input((2,)), keras.Input((4,))], [8], 1, batch_norm=False)
    model = WGANGP(g, d, noise_dim=3, seed=0, n_critic=n_critic, gp_weight=10.0)
    model.compile(WGANGP.adam(1e-3), WGANGP.adam(1e-3))
    return model


def test_wgan_gp_runs_n_critic_critic_steps_per_generator_step():
    model = wgan(n_critic=3)
    x, c = data()
    history = model.fit(x, c, batch_size=128, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 6 and int(model.g_optimizer.iterations) == 2
    assert model.d_optimizer.beta_1 == 0.5
    assert all(np.isfinite(v[0]) for v in history.history.values()) and history.history["gp"][0] >= 0


def test_gradient_penalty_of_a_linear_critic_is_exact():
    # D(x, c) = w.x + u.c has gradient w everywhere: penalty (|w| - 1)^2.
    model = wgan()
    x_in, c_in = keras.Input((2,)), keras.Input((4,))
    critic = keras.Model([x_in, c_in], layers.Dense(1)(layers.Concatenate()([x_in, c_in])))
    kernel = np.array([[3.0], [4.0], [1.0], [1.0], [1.0], [1.0]], "float32")
    critic.set_weights([kernel, np.zeros(1, "float32")])
    model.discriminator = critic
    x, c = data(32)
    gp = model.gradient_penalty(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(x[::-1]),
                                keras.ops.convert_to_tensor(c))
    assert float(gp) == pytest.approx((5.0 - 1.0) ** 2, rel=1e-5)
