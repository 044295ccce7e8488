"""Build a Dask cluster from a name: local, slurm, pbs, htcondor, lsf, or a scheduler address.

Every kind gives the same worker layout: one single-threaded worker process per GPU, declaring
the resource ``GPU=1`` and seeing only its own device through ``CUDA_VISIBLE_DEVICES``, with
TensorFlow's memory growth on. Batch kinds are dask-jobqueue clusters scaled adaptively between
a minimum and a maximum number of jobs; each job asks its batch system for GPUs in that system's
own syntax (the ``BACKENDS`` table) and retires its workers, staggered, before the walltime.
Options come from, in rising priority: a jobqueue.yaml, the experiment's ``cluster:`` section,
the command line.

Modules: ``options`` (kinds, the option table, merging, checks, TLS, jobqueue.yaml loading),
``local`` (local clusters and the ``dask_setup`` nanny preload), ``backends`` (one row per batch
system), ``batch`` (dask-jobqueue clusters, walltime and worker lifetime), ``api`` (entry points).
Batch jobs run ``--preload-nanny orchestrator.cluster``: Dask then calls ``dask_setup`` on this
package, so it stays exported here. ``api`` and ``local`` (which import Dask) load on first use:
the command line's parser takes its options from ``options`` without importing Dask.
"""

import importlib

from .options import ClusterError, add_cluster_arguments, cluster_options, make_security

_LAZY = {"connect": "api", "disconnect": "api", "make_cluster": "api", "wants_gpu_resources": "api",
         "dask_setup": "local", "visible_gpus": "local"}

__all__ = ["ClusterError", "add_cluster_arguments", "cluster_options", "connect", "dask_setup",
           "disconnect", "make_cluster", "make_security", "visible_gpus", "wants_gpu_resources"]


def __getattr__(name: str):
    """The Dask-side entry points, imported when first asked for (Dask's preload uses getattr)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
