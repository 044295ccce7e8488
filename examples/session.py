# %% [markdown]
# # A ganhpo session from Python
#
# Run a small search on a local Dask cluster, read its results store, and draw two figures.
# The objective is the cheap noisy Hartmann-6 stand-in for a GAN training
# (`orchestrator.objectives:noisy_hartmann`), so the whole session takes seconds.
# Open it as a notebook (Jupyter, VS Code: the `# %%` cells), or run it as a script:
#
#     python examples/session.py [OUTPUT_DIR]

# %%
import sys
import tempfile
from pathlib import Path

from distributed import Client, LocalCluster

from orchestrator.analysis import figures, report, select_best, sensitivity
from orchestrator.experiment import Experiment
from orchestrator.search import run
from orchestrator.store import read_store

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ganhpo_"))
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The experiment: six hyperparameters on a HYPPO lattice, 2 trials per architecture

# %%
experiment = Experiment(
    space={f"x{i}": {"lower": 0, "upper": 20, "scale": 0.05} for i in range(6)},
    trial="orchestrator.objectives:noisy_hartmann",
    data={"noise": 0.1}, epochs=5, trials=2, budget=16, max_pending=2, seed=1,
    optimizer={"name": "rbf", "n_initial": 8}, name="session")

# %% [markdown]
# ## Run it on a local cluster
#
# Two single-threaded workers in this process (`processes=False`): a script that starts worker
# *processes* must guard its cells with `if __name__ == "__main__":`, which cells cannot do. In
# Jupyter, or for real GAN trials (which want a process each), drop `processes=False`.

# %%
with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=":0") as cluster, \
        Client(cluster) as client:
    result = run(experiment, client, store=str(out / "session.zarr"))
print(result.summary())

# %% [markdown]
# ## Read the store: a text summary, the best architecture by two rules, the importance ranking

# %%
snap = read_store(out / "session.zarr")
print(report(str(out / "session.zarr"), top=3))
print("best by mean:", select_best(snap, "mean"))
print("best by mean + 2 std:", select_best(snap, "mean+2std"))
importance = sensitivity(snap, n_base=256)
print("importance (total Sobol index):", importance.get("ranking", importance.get("skipped")))

# %% [markdown]
# ## Two figures: convergence and mean against trial spread (PNG and PDF)

# %%
for name, fig in {"convergence": figures.convergence(snap),
                  "mean_std": figures.mean_std(snap, colour_by="x0")}.items():
    print("wrote", *figures.save(fig, out, name))
