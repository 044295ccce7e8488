"""Figures of the staged hadronization study from its store (beside `ganhpo report -o`'s):
per-architecture bars, learning curves, and validation against test metric.

    PYTHONPATH=$PWD python docs/studies/hadronization/make_figures.py STORE
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from orchestrator.analysis.summary import stage_epochs, test_mean_std  # noqa: E402
from orchestrator.store import STAGES, read_store  # noqa: E402

HERE = Path(__file__).parent


def _save(fig, ax, name: str) -> None:
    """Log y axis and legend, then the figure as HERE/name.png and .pdf."""
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(HERE / f"{name}.{ext}", dpi=120)
    plt.close(fig)


def main(store: str) -> None:
    snap = read_store(store)
    mean, std = snap.arch_mean_std()
    idx = np.arange(snap.n)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    names = [f"{s} ({stage_epochs(snap.experiment, s)} epochs)" for s in STAGES]
    for code, (name, color) in enumerate(zip(names, ("C0", "C1"), strict=False)):
        m = snap.stage == code
        ax.errorbar(idx[m], mean[m], std[m], fmt="o", color=color, label=name, capsize=2)
        best = np.fmin.accumulate(np.where(m, mean, np.inf))
        ax.step(idx[m], best[m], where="post", color=color, alpha=0.6)
    ax.axvline((snap.stage == 0).sum() - 0.5, color="k", ls="--", lw=1)
    ax.set_xlabel("architecture (store order)")
    ax.set_ylabel(f"mean validation WD over {snap.trials} trials (+- std)")
    _save(fig, ax, "metric_by_architecture")

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        curves = np.nanmean(snap.epoch_metric, axis=1)  # (A, E): mean over trials per epoch
    for code, color in ((0, "C0"), (1, "C1")):
        m = np.flatnonzero(snap.stage == code)
        for a in m:
            ax.plot(np.arange(1, curves.shape[1] + 1), curves[a], color=color, alpha=0.25, lw=1)
        b = m[np.nanargmin(mean[m])]
        ax.plot(np.arange(1, curves.shape[1] + 1), curves[b], color=color, lw=2.5,
                label=f"best {'broad' if code == 0 else 'focus'} #{b}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation WD (mean over trials)")
    _save(fig, ax, "learning_curves")
    validation_vs_test(snap, names)


def validation_vs_test(snap, names: list[str]) -> None:
    """Per architecture: mean validation metric (which chose the epoch) against mean test metric."""
    mean, std = snap.arch_mean_std()
    t_mean, t_std, _ = test_mean_std(snap)
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    for code, (name, color) in enumerate(zip(names, ("C0", "C1"), strict=False)):
        m = (snap.stage == code) & np.isfinite(t_mean)
        ax.errorbar(mean[m], t_mean[m], xerr=std[m], yerr=t_std[m], fmt="o", color=color,
                    label=name, capsize=2, alpha=0.8)
    lo, hi = np.nanmin([mean, t_mean]) * 0.8, np.nanmax([mean, t_mean]) * 1.2
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="test = validation")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("validation WD (chose the epoch), mean +- std")
    ax.set_ylabel("test WD (held out), mean +- std")
    _save(fig, ax, "validation_vs_test")


if __name__ == "__main__":
    main(sys.argv[1])
