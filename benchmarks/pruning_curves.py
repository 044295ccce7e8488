"""Learning curves for the pruning benchmark (benchmarks/bench_pruning.py), made once and cached.

Each family trains a fixed grid of N architectures, T trials each (seed = 1000 * arch + trial),
for E epochs, and records every trial's per-epoch validation metric (lower is better):

- ``gan``: the hadronization GAN through ``models.trial.run_trial`` at a tiny size (synthetic
  clusters, 4,000 events, a few steps per epoch); metric: the mean 1-D Wasserstein distance.
- ``gan_wide``: the same GAN over a wide pool, as a search meets it: N points of a Latin
  hypercube over the space of examples/study_hadronization.yaml (the paper's lattice with layer
  and batch sizes capped for CPU), the paper's 20 epochs and 5 trials (examples/
  hadronization_broad.yaml); 5 more trials per architecture are written to
  ``curves_gan_wide_heldout.npz`` in the same run (2 worker processes).
- ``mlp``: scikit-learn's MLPClassifier with ``partial_fit`` (one pass per epoch) on the digits
  data set; metric: the validation log-loss.

    nice -n 10 python benchmarks/pruning_curves.py mlp
    nice -n 10 python benchmarks/pruning_curves.py gan
    nice -n 10 python benchmarks/pruning_curves.py gan --seed-offset 500   # held-out trials
    nice -n 10 python benchmarks/pruning_curves.py gan_wide    # 108 archs + gan_wide_heldout, 2 processes
    nice -n 10 python benchmarks/pruning_curves.py mlp --trials 5 --name mlp5   # the paper's 5 trials
    nice -n 10 python benchmarks/pruning_curves.py mlp --trials 5 --seed-offset 500 --name mlp5_heldout

writes benchmarks/results/curves_<family>.npz (``curves_<family>_heldout.npz`` with an offset:
the same architectures, independent trial seeds, used only for reporting): ``curves`` (N, T, E) float64 (NaN after a
divergence), ``params`` (N, P), ``names`` (P,), ``seconds``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

GAN_GRID = {"lr_gen": [1e-4, 8e-4, 6.4e-3], "lr_disc": [1e-4, 6e-4, 3.6e-3],
            "gen_layersize": [8, 32]}
GAN_DATA = {"events": 4000, "validation": 1000, "seed": 0, "steps_per_epoch": 6}
# examples/study_hadronization.yaml's space (lattice lower, upper, scale), gen/disc sizes <= 128
WIDE_SPACE = {"noise_dim": (1, 50, 1), "batch_size": (2, 16, 32), "lr_gen": (1, 200, 5e-5),
              "lr_disc": (1, 200, 5e-5), "gen_layersize": (1, 16, 8), "disc_layersize": (1, 16, 8)}
WIDE_DATA = {"events": 8000, "validation": 2000, "seed": 0, "steps_per_epoch": 20}
MLP_GRID = {"learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
            "alpha": [1e-5, 1e-3, 1e-1], "width": [4, 16, 64, 256]}


def grid(spec: dict[str, list]) -> list[dict]:
    """Every combination of the grid's levels, in a fixed shuffled order (a prefix of the list,
    what an interrupted run leaves, is a random sample of the grid)."""
    names = list(spec)
    combos = [dict(zip(names, v, strict=True)) for v in itertools.product(*spec.values())]
    return [combos[i] for i in np.random.default_rng(0).permutation(len(combos))]


def gan_curves(epochs: int, trials: int, offset: int = 0,
               name: str = "gan") -> tuple[list[dict], np.ndarray]:
    """Per-epoch metric of every hadronization GAN trial (NaN after a divergence); the file is
    rewritten after each architecture, so an interrupted run leaves the finished ones."""
    from models.trial import run_trial

    archs = grid(GAN_GRID)
    curves = np.full((len(archs), trials, epochs), np.nan)
    for a, params in enumerate(archs):
        for t in range(trials):
            def report(epoch: int, values: dict, a: int = a, t: int = t) -> None:
                curves[a, t, epoch] = values["metric"]

            run_trial({**params, "batch_size": 128, "disc_layersize": 32}, model="hadronization",
                      data=GAN_DATA, epochs=epochs, seed=1000 * a + t + offset, report=report)
        save(name, archs[: a + 1], curves[: a + 1], 0.0)
        print(f"gan arch {a + 1}/{len(archs)} {params}: final "
              f"{np.nanmin(curves[a], axis=1).round(4).tolist()}", flush=True)
    return archs, curves


def wide_pool(n: int, block: int = 36) -> list[dict]:
    """n architectures on the lattice of WIDE_SPACE, rounded: Latin hypercubes of ``block``
    points (seeds 0, 1, ...), so a larger pool extends a smaller one."""
    from scipy.stats import qmc

    u = np.vstack([qmc.LatinHypercube(d=len(WIDE_SPACE), seed=s).random(block)
                   for s in range(-(-n // block))])[:n]
    return [{k: round(float(round(lo + x * (hi - lo)) * sc), 10) if k.startswith("lr") else
             int(round(lo + x * (hi - lo)) * sc)
             for (k, (lo, hi, sc)), x in zip(WIDE_SPACE.items(), row, strict=True)} for row in u]


def _wide_arch(job: tuple[int, dict, int, int]) -> np.ndarray:
    """(2 * trials, epochs) curves of one wide-pool architecture: search trials, then held-out."""
    from models.trial import run_trial

    a, params, trials, epochs = job
    out = np.full((2 * trials, epochs), np.nan)
    seeds = [1000 * a + t for t in range(trials)] + [1000 * a + t + 500 for t in range(trials)]
    for i, seed in enumerate(seeds):
        def report(epoch: int, values: dict, i: int = i) -> None:
            out[i, epoch] = values["metric"]

        run_trial(params, model="hadronization", data=WIDE_DATA, epochs=epochs, seed=seed,
                  report=report)
    return out


def wide_curves(n: int, epochs: int, trials: int, start: float) -> None:
    """gan_wide and gan_wide_heldout, one architecture per job on 2 processes; both files are
    rewritten after each architecture (in order), so an interrupted run keeps a prefix, and a
    rerun (or a larger ``--archs``) trains only the architectures not yet in them."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    archs = wide_pool(n)
    curves = np.full((n, 2 * trials, epochs), np.nan)
    done = _done_prefix(archs, trials, epochs, curves)
    jobs = [(a, p, trials, epochs) for a, p in enumerate(archs) if a >= done]
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        for a, c in enumerate(pool.map(_wide_arch, jobs), start=done):
            curves[a] = c
            took = time.perf_counter() - start
            save("gan_wide", archs[: a + 1], curves[: a + 1, :trials], took)
            save("gan_wide_heldout", archs[: a + 1], curves[: a + 1, trials:], took)
            print(f"gan_wide arch {a + 1}/{n} {archs[a]}: final "
                  f"{np.nanmin(c, axis=1).round(3).tolist()} ({took:.0f} s)", flush=True)


def _done_prefix(archs: list[dict], trials: int, epochs: int, curves: np.ndarray) -> int:
    """Copy the architectures an earlier run finished (same pool, trials, epochs) into curves."""
    try:
        z, h = (np.load(RESULTS / f"curves_{f}.npz") for f in ("gan_wide", "gan_wide_heldout"))
    except FileNotFoundError:
        return 0
    k = min(len(z["params"]), len(archs))
    want = np.array([[p[str(n)] for n in z["names"]] for p in archs[:k]], float)
    if z["curves"].shape[1:] != (trials, epochs) or not np.allclose(z["params"][:k], want):
        return 0
    curves[:k, :trials], curves[:k, trials:] = z["curves"][:k], h["curves"][:k]
    return k


def mlp_curves(epochs: int, trials: int, offset: int = 0) -> tuple[list[dict], np.ndarray]:
    """Per-epoch validation log-loss of MLPClassifier trained with partial_fit on digits."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.metrics import log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread: 20x less CPU per epoch than threads fighting for 2 cores
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    archs = grid(MLP_GRID)
    curves = np.full((len(archs), trials, epochs), np.nan)
    classes = np.unique(y)
    for a, p in enumerate(archs):
        for t in range(trials):
            seed = 1000 * a + t + offset
            xtr, xva, ytr, yva = train_test_split(x, y, test_size=0.3, random_state=seed)
            clf = MLPClassifier(hidden_layer_sizes=(int(p["width"]),), alpha=p["alpha"],
                                learning_rate_init=p["learning_rate_init"], batch_size=64,
                                random_state=seed)
            for e in range(epochs):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf.partial_fit(xtr, ytr, classes=classes)
                loss = log_loss(yva, clf.predict_proba(xva), labels=classes)
                curves[a, t, e] = loss if math.isfinite(loss) else np.nan
        if a % 12 == 11:
            print(f"mlp arch {a + 1}/{len(archs)}", flush=True)
    return archs, curves


def main(argv: list[str] | None = None) -> None:
    """Make and cache the curves of one family."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("family", choices=["gan", "gan_wide", "mlp"])
    ap.add_argument("--archs", type=int, default=108, help="gan_wide: the pool's size")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--trials", type=int, default=None, help="default 3 (gan_wide: 5)")
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="added to every trial seed: 500 records the held-out curves")
    ap.add_argument("--name", default=None,
                    help="the file's family name (default: family, + _heldout with an offset)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    name = args.name or args.family + ("_heldout" if args.seed_offset else "")
    if args.family == "gan_wide":
        wide_curves(args.archs, args.epochs or 20, args.trials or 5, start)
        return
    if args.family == "gan":
        archs, curves = gan_curves(args.epochs or 12, args.trials or 3, args.seed_offset, name)
    else:
        archs, curves = mlp_curves(args.epochs or 27, args.trials or 3, args.seed_offset)
    out = save(name, archs, curves, time.perf_counter() - start)
    print(f"wrote {out}: {curves.shape} in {time.perf_counter() - start:.0f} s")


def save(family: str, archs: list[dict], curves: np.ndarray, seconds: float) -> Path:
    """Write benchmarks/results/curves_<family>.npz."""
    names = list(archs[0])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"curves_{family}.npz"
    np.savez_compressed(out, curves=curves, names=np.array(names),
                        params=np.array([[p[n] for n in names] for p in archs], float),
                        seconds=seconds)
    return out


if __name__ == "__main__":
    main()
