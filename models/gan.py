"""Adversarial training as Keras 3 models: a BCE GAN and a conditional WGAN-GP.

Both are ``keras.Model`` subclasses with their own ``compile``, ``train_step`` and ``metrics``
(loss trackers), so ``fit()``, callbacks and early stopping work as for any Keras model::

    gan = GAN(generator, discriminator, noise_dim=4, seed=1)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-4), d_optimizer=keras.optimizers.Adam(1e-4))
    gan.fit(x=samples, y=conditions, batch_size=512, epochs=10)   # y=None: unconditional
    fake = gan.generate(5000, conditions[:5000])                   # numpy

Conventions: a conditional generator is called as ``generator([noise, condition])``, an
unconditional one as ``generator(noise)``; a discriminator/critic with two inputs is called
as ``discriminator([x, condition])`` (the condition is fed to it), with one input as
``discriminator(x)``. Conditions travel through ``fit`` as ``y``.

TensorFlow and JAX backends are supported. All backend-specific gradient code is in the
three functions below the ``Backend-specific`` marker; the training logic above it is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

__all__ = ["GAN", "WGANGP", "AdversarialModel", "minimize_step"]

ExtraLoss = Callable[..., object]  # (fake, condition) -> scalar tensor


class AdversarialModel(keras.Model):
    """Shared machinery: two sub-models, two optimizers, a seeded noise source, loss trackers."""

    tracker_names: tuple[str, ...] = ("d_loss", "g_loss")

    def __init__(self, generator: keras.Model, discriminator: keras.Model, noise_dim: int,
                 seed: int | None = None, noise_mean: float = 0.0, noise_std: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.noise_dim = int(noise_dim)
        self.noise_mean, self.noise_std = float(noise_mean), float(noise_std)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._numpy_rng = np.random.default_rng(seed)
        self.conditional = len(generator.inputs) == 2
        self.critic_sees_condition = len(discriminator.inputs) == 2
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracker_names}
        self.built = True  # the sub-models are built functional models

    def compile(self, g_optimizer: keras.optimizers.Optimizer,
                d_optimizer: keras.optimizers.Optimizer, **kwargs) -> None:
        """Attach one optimizer per network (built now, so their state exists before fit)."""
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        self.optimizer = _OptimizerPair(g_optimizer, d_optimizer)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, inputs, training: bool = False):
        return self.generator(inputs, training=training)

    # -- shared training logic ---------------------------------------------------------
    def noise(self, n) -> object:
        """A (n, noise_dim) batch of Gaussian noise from the model's seed generator."""
        return keras.random.normal((n, self.noise_dim), mean=self.noise_mean,
                                   stddev=self.noise_std, seed=self.seed_generator)

    def generate_batch(self, n, condition=None, training: bool = True):
        z = self.noise(n)
        return self.generator([z, condition] if self.conditional else z, training=training)

    def criticize(self, x, condition=None, training: bool = True):
        inputs = [x, condition] if self.critic_sees_condition else x
        return self.discriminator(inputs, training=training)

    def train_step(self, *args):
        if keras.backend.backend() == "jax":
            return _jax_train_step(self, *args)
        return self.adversarial_step(args[0])

    def adversarial_step(self, data) -> dict:
        """One batch of adversarial training; implemented by each loss flavour."""
        raise NotImplementedError

    def _batch(self, data):
        real, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.conditional and condition is None:
            raise ValueError(f"{type(self).__name__}: the generator takes a condition; "
                             "pass it to fit() as y")
        return ops.convert_to_tensor(real, "float32"), (
            None if condition is None else ops.convert_to_tensor(condition, "float32"))

    def _log(self, **values) -> dict:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # -- inference -----------------------------------------------------------------------
    def generate(self, n: int, condition: np.ndarray | None = None,
                 batch_size: int = 8192, rng: np.random.Generator | None = None) -> np.ndarray:
        """n generated samples as numpy (inference mode), in chunks; reproducible per model seed
        (or per ``rng``, a numpy Generator drawing the noise instead of the model's own)."""
        out = []
        rng = self._numpy_rng if rng is None else rng
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = rng.normal(self.noise_mean, self.noise_std,
                                       (m, self.noise_dim)).astype("float32")
            inputs = [z, condition[start:start + m].astype("float32")] if self.conditional else z
            out.append(ops.convert_to_numpy(self.generator(inputs, training=False)))
        return np.concatenate(out) if out else np.zeros((0,) + tuple(self.generator.output.shape[1:]))


class GAN(AdversarialModel):
    """Binary cross-entropy GAN (sigmoid discriminator), optionally conditional.

    L_D = BCE(1, D(x)) + BCE(0, D(G(z))) on one concatenated batch (so a BatchNorm discriminator
    sees real and fake together); L_G = BCE(1, D(G(z))), D in inference mode, + sum of ``extra_losses``
    (each a callable ``(fake, condition) -> scalar``, e.g. the DY-GAN invariant-mass terms).
    ``d_steps`` discriminator updates per generator update (default 1, as the HPO paper).
    """

    tracker_names = ("d_loss", "g_loss", "g_extra")

    def __init__(self, generator, discriminator, noise_dim, seed=None,
                 extra_losses: Sequence[ExtraLoss] = (), d_steps: int = 1, **kwargs):
        super().__init__(generator, discriminator, noise_dim, seed, **kwargs)
        self.extra_losses = list(extra_losses)
        self.d_steps = int(d_steps)
        self.bce = keras.losses.BinaryCrossentropy()

    def adversarial_step(self, data) -> dict:
        real, cond = self._batch(data)
        n = ops.shape(real)[0]
        ones, zeros = ops.ones((n, 1)), ops.zeros((n, 1))

        both_cond = None if cond is None else ops.concatenate([cond, cond])

        def d_loss():  # one batch of real + fake, so BatchNorm sees both (keras-io DCGAN)
            fake = ops.stop_gradient(self.generate_batch(n, cond))
            p = self.criticize(ops.concatenate([real, fake]), both_cond)
            return self.bce(ones, p[:n]) + self.bce(zeros, p[n:])

        def g_loss():  # D in inference mode: its BatchNorm uses the real+fake running stats
            fake = self.generate_batch(n, cond)
            adversarial = self.bce(ones, self.criticize(fake, cond, training=False))
            extra = sum((f(fake, cond) for f in self.extra_losses), ops.zeros(()))
            return adversarial + extra, extra

        for _ in range(self.d_steps):
            ld, _ = minimize_step(self, lambda: (d_loss(), ()), self.discriminator, self.d_optimizer)
        lg, extra = minimize_step(self, g_loss, self.generator, self.g_optimizer)
        return self._log(d_loss=ld, g_loss=lg, g_extra=extra)


class WGANGP(AdversarialModel):
    """Wasserstein GAN with gradient penalty (Gulrajani et al.), conditional as in BoloGAN.

    Critic (linear output): L_D = mean D(fake) - mean D(real) + gp_weight * mean((|grad D(x_hat)| - 1)^2),
    x_hat = a x + (1 - a) fake, a ~ U(0, 1) per sample; generator: L_G = -mean D(fake).
    ``n_critic`` critic updates per generator update, each on the same real batch with fresh
    noise and interpolation (keras-io convention). The critic must not use BatchNormalization.
    Use Adam(lr, beta_1=0.5) for both networks (see ``adam``).
    """

    tracker_names = ("d_loss", "g_loss", "gp")

    def __init__(self, generator, discriminator, noise_dim, seed=None, n_critic: int = 5,
                 gp_weight: float = 10.0, **kwargs):
        super().__init__(generator, discriminator, noise_dim, seed, **kwargs)
        self.n_critic, self.gp_weight = int(n_critic), float(gp_weight)

    @staticmethod
    def adam(learning_rate: float = 1e-4, beta_1: float = 0.5) -> keras.optimizers.Adam:
        """The BoloGAN optimiser: Adam with beta_1 = 0.5."""
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)

    def gradient_penalty(self, real, fake, cond):
        """mean over the batch of (||dD/dx at x_hat|| - 1)^2 on random interpolates."""
        n = ops.shape(real)[0]
        alpha = keras.random.uniform((n,) + (1,) * (len(real.shape) - 1), seed=self.seed_generator)
        x_hat = alpha * real + (1.0 - alpha) * fake
        grads = _input_gradient(lambda x: ops.sum(self.criticize(x, cond)), x_hat)
        norm = ops.sqrt(ops.sum(ops.reshape(grads, (n, -1)) ** 2, axis=1) + 1e-12)
        return ops.mean((norm - 1.0) ** 2)

    def adversarial_step(self, data) -> dict:
        real, cond = self._batch(data)
        n = ops.shape(real)[0]

        def d_loss():
            fake = ops.stop_gradient(self.generate_batch(n, cond))
            gp = self.gradient_penalty(real, fake, cond)
            wasserstein = ops.mean(self.criticize(fake, cond)) - ops.mean(self.criticize(real, cond))
            return wasserstein + self.gp_weight * gp, gp

        def g_loss():
            return -ops.mean(self.criticize(self.generate_batch(n, cond), cond)), ()

        for _ in range(self.n_critic):
            ld, gp = minimize_step(self, d_loss, self.discriminator, self.d_optimizer)
        lg, _ = minimize_step(self, g_loss, self.generator, self.g_optimizer)
        return self._log(d_loss=ld, g_loss=lg, gp=gp)


class _OptimizerPair:
    """Stands in for ``model.optimizer`` so Keras' JAX trainer carries both optimizers' state."""

    built = True

    def __init__(self, g_optimizer, d_optimizer):
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    @property
    def variables(self) -> list:
        return self.g_optimizer.variables + self.d_optimizer.variables

    def build(self, variables) -> None:  # both are built in compile()
        pass


# ---- Backend-specific: the only place that knows TensorFlow from JAX ---------------------

def minimize_step(model: AdversarialModel, loss_fn: Callable[[], tuple], network: keras.Model,
              optimizer: keras.optimizers.Optimizer) -> tuple:
    """One optimizer step on ``network`` for ``loss_fn() -> (loss, aux)``; returns (loss, aux)."""
    variables = network.trainable_variables
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, aux = loss_fn()
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, aux
    if backend == "jax":
        import jax

        outer = keras.src.backend.common.stateless_scope.get_stateless_scope()
        trained = {id(v) for v in variables}
        frozen = [v for v in _state_variables(model) if id(v) not in trained]

        def pure(values):
            mapping = [(v, outer.get_current_value(v)) for v in frozen] + list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping) as inner:
                loss, aux = loss_fn()
            updates = [inner.get_current_value(v) for v in model.non_trainable_variables]
            return loss, (aux, updates)

        current = [outer.get_current_value(v) for v in variables]
        (loss, (aux, updates)), grads = jax.value_and_grad(pure, has_aux=True)(current)
        for v, value in zip(model.non_trainable_variables, updates, strict=True):
            v.assign(value)
        optimizer.apply(grads, variables)
        return loss, aux
    raise RuntimeError(f"Keras backend {backend!r}: models.gan supports 'tensorflow' and 'jax'; "
                       "set KERAS_BACKEND to one of them")


def _input_gradient(fn: Callable, x):
    """d fn(x) / d x for a scalar-valued fn, differentiable again (for the gradient penalty)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x)
    import jax

    return jax.grad(fn)(x)


def _jax_train_step(model: AdversarialModel, state: tuple, data) -> tuple:
    """Keras' JAX ``train_step(state, data)``: run the shared step on the state, return the new one."""
    groups = (model.trainable_variables, model.non_trainable_variables,
              model.optimizer.variables, model.metrics_variables)
    mapping = [(v, value) for group, values in zip(groups, state, strict=True)
               for v, value in zip(group, values, strict=True)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = model.adversarial_step(data)
    new_state = tuple([scope.get_current_value(v) for v in group] for group in groups)
    return logs, new_state


def _state_variables(model: AdversarialModel) -> list:
    return (model.trainable_variables + model.non_trainable_variables
            + model.optimizer.variables + model.metrics_variables)

