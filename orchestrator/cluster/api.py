"""Entry points: make_cluster, connect / disconnect, is_local and wants_gpu_resources."""

from __future__ import annotations

import argparse
from typing import Any

from distributed import Client, SpecCluster

from .batch import _batch_cluster, _gpus_per_job
from .local import _local_cluster, _local_gpus, close_workers
from .options import (
    ADDRESS,
    BATCH_KINDS,
    KINDS,
    LISTEN_KEYS,
    ClusterError,
    _check_key,
    _check_kind,
    _load_jobqueue_config,
    cluster_options,
    make_security,
)


def make_cluster(kind: str = "local", **options: Any) -> SpecCluster | str:
    """A cluster of the given kind (a scheduler address is returned as is, for ``Client``)."""
    _check_kind(kind)
    for key in options:
        _check_key(key, f"make_cluster({kind!r})")
    security = make_security(options)
    rest = {k: v for k, v in options.items() if not k.startswith("tls_")}
    if ADDRESS.match(kind):
        _only_address_options(kind, rest)
        return kind
    if kind == "local":
        cluster = _local_cluster(security=security, **rest)
    else:
        cluster = _batch_cluster(kind, security=security, **rest)
    _guard_dashboard(cluster)
    return cluster


def _guard_dashboard(cluster: SpecCluster) -> None:
    """The dashboard of a scheduler running here refuses requests for other Hosts and Origins."""
    from orchestrator.monitor.guard import guard_dask_dashboard

    scheduler = getattr(cluster, "scheduler", None)
    if scheduler is not None:
        guard_dask_dashboard(scheduler)


def connect(args: argparse.Namespace | None, experiment_cluster: dict | None) -> Client | None:
    """A Client for the cluster the command line and experiment ask for; None when they ask none."""
    opts = cluster_options(args, experiment_cluster)
    kind = _asked_kind(args, opts)
    opts.pop("kind", None)
    if kind is None and set(opts) & set(LISTEN_KEYS) and set(opts) <= {"workers", *LISTEN_KEYS}:
        kind = "local"  # --address / --dashboard-address alone: the embedded local cluster
    if kind is None:
        asked = sorted(set(opts) - {"workers"})
        if asked:
            raise ClusterError(f"cluster options {asked} given without a kind; add --cluster KIND "
                               f"(one of {', '.join(KINDS)}) or kind: in the cluster section")
        return None
    opts.pop("kind", None)
    cluster = make_cluster(kind, **opts)
    if isinstance(cluster, str):
        return Client(cluster, security=make_security(opts))
    return Client(cluster)


def disconnect(client: Client) -> None:
    """Close a client from ``connect`` and the cluster it started (cancelling its batch jobs)."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        close_workers(cluster)  # in order: client, workers (time to exit), scheduler
        cluster.close()


def _asked_kind(args: argparse.Namespace | None, opts: dict) -> str | None:
    """The cluster kind or scheduler address asked for (``--scheduler`` wins), or None."""
    return getattr(args, "scheduler", None) or opts.get("kind")


def is_local(args: argparse.Namespace | None, experiment_cluster: dict | None) -> bool:
    """Whether the requested cluster is the embedded local one (its processes start here)."""
    return (_asked_kind(args, cluster_options(args, experiment_cluster)) or "local") == "local"


def wants_gpu_resources(args: argparse.Namespace | None, experiment_cluster: dict | None) -> bool:
    """Whether the requested cluster's workers declare GPU=1 (set it on adaptive clusters at 0 workers)."""
    opts = cluster_options(args, experiment_cluster)
    kind = _asked_kind(args, opts)
    if kind in BATCH_KINDS:
        _load_jobqueue_config(kind, opts.get("jobqueue_config"))
        return _gpus_per_job(kind, opts) > 0
    if kind == "local":
        return _local_gpus(opts.get("gpus_per_job"), opts.get("workers")) is not None
    return False


def _only_address_options(address: str, options: dict) -> None:
    extra = sorted(k for k, v in options.items() if v is not None and k != "workers")
    if extra:
        raise ClusterError(f"{address} is an existing scheduler: its workers are started elsewhere, "
                           f"so {extra} do not apply; start GPU workers there with "
                           "`dask worker ADDRESS --nthreads 1 --resources GPU=1`")
