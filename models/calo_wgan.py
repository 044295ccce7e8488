"""BoloGAN / FastCaloGAN: conditional WGAN-GP on CaloChallenge dataset-1 voxels.

Condition: logE = ln(E_kin / E_min) / ln(E_max / E_min) of the kinetic energy; voxels are
divided by E_kin. Generator concat[noise ~ N(0.5, 0.5), logE] -> Dense 200, 400, 800 ->
Dense(n_voxels) (ReLU throughout for pions; BatchNorm + swish hidden layers for photons);
critic concat[voxels, logE] -> Dense 800, 400, 200 -> Dense(1) linear. Adam(1e-4, beta1 0.5),
n_critic 5, lambda 10, batch 512. One "epoch" here is ``steps_per_epoch`` generator iterations.
The HPO objective is the per-energy chi^2/ndf (WW) of total energy averaged over energies.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from models.calo_metrics import chi2_ndf_total_energy, hlf_separation
from models.data.cache import cached
from models.data.calochallenge import DATASET1, ENERGIES_MEV, kinetic_energy
from models.data.split import family_split
from models.gan import WGANGP

__all__ = ["DEFAULTS", "build_generator", "build_critic", "energy_label", "CaloWGANTrainer",
           "make_trainer"]

DEFAULTS = {
    "latent": 50, "gen_width": 200, "gen_depth": 3, "critic_width": 200, "critic_depth": 3,
    "n_critic": 5, "gp_lambda": 10.0, "lr": 1e-4, "beta1": 0.5, "batch_size": 512,
}


def energy_label(e_kin: np.ndarray, particle: str) -> np.ndarray:
    """logE in [0, 1] over the dataset-1 kinetic-energy range, shape (N, 1)."""
    lo, hi = kinetic_energy(ENERGIES_MEV[[0, -1]], particle)
    return (np.log(np.ravel(e_kin) / lo) / np.log(hi / lo)).astype(np.float32)[:, None]


def build_generator(n_voxels: int, latent: int = 50, width: int = 200, depth: int = 3,
                    particle: str = "pion") -> keras.Model:
    """Generator: widths width * 2^i (200, 400, 800 by default) -> n_voxels, ReLU output.

    Photons (BatchNorm + swish): BatchNorm pins the hidden features to unit scale, so a
    Glorot-initialised output layer starts at ~80x the largest possible E_tot/E_kin (1) and the
    critic's push down kills the ReLU outputs for good (99 % zero voxels, E_tot -> 0). Their
    output kernel therefore starts at the scale of the voxel fractions (std ~0.02).
    """
    noise = keras.Input((latent,), name="noise")
    label = keras.Input((1,), name="label")
    x = layers.Concatenate()([noise, label])
    for i in range(depth):
        x = layers.Dense(width * 2**i, name=f"g_dense{i}")(x)
        if particle == "photon":
            x = layers.Activation("swish")(layers.BatchNormalization()(x))
        else:
            x = layers.ReLU()(x)
    init = (keras.initializers.VarianceScaling(1e-3, mode="fan_in") if particle == "photon"
            else "glorot_uniform")
    out = layers.Dense(n_voxels, activation="relu", kernel_initializer=init, name="voxels")(x)
    return keras.Model([noise, label], out, name="calo_wgan_generator")


def build_critic(n_voxels: int, width: int = 200, depth: int = 3) -> keras.Model:
    """Critic: widths width * 2^(depth-1-i) (800, 400, 200 by default) -> 1, linear, no BN."""
    voxels = keras.Input((n_voxels,), name="voxels")
    label = keras.Input((1,), name="label")
    x = layers.Concatenate()([voxels, label])
    for i in range(depth):
        x = layers.Dense(width * 2 ** (depth - 1 - i), activation="relu", name=f"c_dense{i}")(x)
    return keras.Model([voxels, label], layers.Dense(1, name="score")(x), name="calo_wgan_critic")


@cached
def _dataset(frozen: tuple) -> dict[str, np.ndarray]:
    """Incident energies (N, 1) and showers (N, voxels) in MeV, loaded or generated."""
    from models.data.calochallenge import generate_showers, load_calochallenge

    data = dict(frozen)
    particle = data.get("particle", "pion")
    if "path" in data:
        return load_calochallenge(data["path"], particle, data.get("binning_xml"))
    incident, showers = generate_showers(int(data.get("events", 5000)), particle,
                                         int(data.get("seed", 0)))
    return {"incident_energies": incident, "showers": showers}


class CaloWGANTrainer:
    """One BoloGAN training run for the ``models.trial`` contract (metric: mean chi^2/ndf)."""

    def __init__(self, params: dict, data: dict, seed: int):
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"calo_wgan: unknown hyperparameters {sorted(unknown)}; "
                             f"known: {sorted(DEFAULTS)}")
        p = {**DEFAULTS, **params}
        self.particle = data.get("particle", "pion")
        if self.particle not in DATASET1:
            raise ValueError(f"calo_wgan: data.particle={self.particle!r}; use 'pion' or 'photon'")
        d = _dataset(data)
        e_kin = kinetic_energy(d["incident_energies"][:, 0], self.particle)
        x = (d["showers"] / e_kin[:, None]).astype(np.float32)
        label = energy_label(e_kin, self.particle)
        self.split = family_split("calo_wgan", data, len(x))
        order = np.random.default_rng(int(data.get("seed", 0))).permutation(len(x))
        train, val, test = self.split.parts(order, held_out_first=True)   # validation as before
        self.x, self.label = x[train], label[train]
        self.val_label, self.val_ekin = label[val], e_kin[val]
        self.val_showers = d["showers"][val]
        self.val_total = self.val_showers.sum(axis=1)
        self.binning = DATASET1[self.particle]
        self.val_incident = d["incident_energies"][val, 0]
        self.test_idx, self.n_test, self.seed = test, len(test), int(seed)
        self._labels, self._ekin, self._showers = label, e_kin, d["showers"]
        self._incident = d["incident_energies"][:, 0]
        self.batch_size = int(p["batch_size"])
        self.steps = int(data.get("steps_per_epoch") or max(1, len(self.x) // self.batch_size))
        n_vox = x.shape[1]
        self.generator = build_generator(n_vox, int(p["latent"]), int(p["gen_width"]),
                                         int(p["gen_depth"]), self.particle)
        self.critic = build_critic(n_vox, int(p["critic_width"]), int(p["critic_depth"]))
        self.gan = WGANGP(self.generator, self.critic, noise_dim=int(p["latent"]), seed=seed,
                          n_critic=int(p["n_critic"]), gp_weight=float(p["gp_lambda"]),
                          noise_mean=0.5, noise_std=0.5)
        self.gan.compile(g_optimizer=WGANGP.adam(float(p["lr"]), float(p["beta1"])),
                         d_optimizer=WGANGP.adam(float(p["lr"]), float(p["beta1"])))
        self.n_params = self.generator.count_params() + self.critic.count_params()
        self._rng = np.random.default_rng(seed)

    def train_epoch(self) -> dict[str, float]:
        """``steps_per_epoch`` generator iterations (each after n_critic critic updates)."""
        logs = {}
        for _ in range(self.steps):
            batch = self._rng.integers(0, len(self.x), self.batch_size)
            logs = self.gan.train_on_batch(self.x[batch], self.label[batch], return_dict=True)
        return {k: float(v) for k, v in logs.items()}

    def generate(self, label: np.ndarray, e_kin: np.ndarray,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """Showers in MeV for (N, 1) labels and their kinetic energies."""
        return self.gan.generate(len(label), label, batch_size=4096, rng=rng) * np.ravel(e_kin)[:, None]

    def _score(self, label, e_kin, showers, incident, rng=None) -> dict[str, float]:
        fake = self.generate(label, e_kin, rng)
        scores = chi2_ndf_total_energy(showers.sum(axis=1), fake.sum(axis=1), incident)
        if fake.shape[1] == self.binning.n_voxels:
            scores["hlf_sep"] = hlf_separation(showers, fake, self.binning)["sep_mean"]
        return {"metric": scores.pop("chi2_ndf"), **scores}

    def evaluate(self) -> dict[str, float]:
        """Mean over incident energies of chi^2/ndf (WW) of total energy (the metric), plus the
        mean separation power of the CaloChallenge high-level features (``hlf_sep``)."""
        return self._score(self.val_label, self.val_ekin, self.val_showers, self.val_incident)

    def evaluate_test(self) -> dict[str, float]:
        """The same scores on the held-out test showers, noise seeded by the trial seed."""
        i = self.test_idx
        return self._score(self._labels[i], self._ekin[i], self._showers[i], self._incident[i],
                           np.random.default_rng([self.seed, 7357]))


def make_trainer(params: dict, data: dict, seed: int) -> CaloWGANTrainer:
    """The ``models.trial`` entry: a conditional WGAN-GP trainer on dataset-1 voxels."""
    return CaloWGANTrainer(params, data, seed)
