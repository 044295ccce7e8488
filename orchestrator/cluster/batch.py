"""Batch clusters: resolve a request into a Plan, build the dask-jobqueue cluster from the
``BACKENDS`` row plus what every system shares, and scale it adaptively between min and max jobs.
Workers retire, staggered, before the walltime.

The scheduler runs here and must be reachable from the compute nodes: it listens on ``address``
or on ``interface`` (which the workers use too) or, given neither, on every interface as
dask-jobqueue does; the dashboard listens on 127.0.0.1:8787 unless ``dashboard_address`` says
otherwise. Without TLS anyone who reaches the scheduler can run code as you: ``tls: true``
(``--tls``) makes temporary credentials for this cluster, which dask-jobqueue writes, readable by
you only, into ``shared_temp_directory`` for the jobs to read (or give certificate files with
``tls_ca_file``, ``tls_cert``, ``tls_key``); see docs/architecture.md, Network and security."""

from __future__ import annotations

import logging
import os
from typing import Any

import dask
from distributed import Security

from .backends import BACKENDS, EXAMPLES, Plan, _hms, _seconds
from .local import quiet_env
from .options import DASHBOARD, GPU_ENV, ClusterError, _load_jobqueue_config, listen_host, with_tls

log = logging.getLogger("ganhpo")


def _batch_cluster(kind: str, *, security: Security | None = None, tls: bool | None = None,
                   **options: Any):
    """A dask-jobqueue cluster of GPU jobs, adapting between min_jobs and max_jobs."""
    import dask_jobqueue

    source = _load_jobqueue_config(kind, options.pop("jobqueue_config", None))
    if tls is True and security is None:
        _shared_temp_directory(kind, options, source)
    security = with_tls(security, tls, default=False)
    low, high = _job_range(options)
    plan = _plan(kind, options, source)
    kwargs = _job_kwargs(plan) | BACKENDS[kind].request(plan) | _passthrough(plan)
    cls = getattr(dask_jobqueue, BACKENDS[kind].cluster)
    _warn_if_open(kind, kwargs, security)
    cluster = cls(security=security, **kwargs)
    # target_duration 10 ms: adapt asks for a worker per queued trial (up to max_jobs) instead of
    # one per 5 s of estimated work, which for trials of unknown duration is 10 trials per worker
    cluster.adapt(minimum_jobs=low, maximum_jobs=high, wait_count=60, target_duration="10ms")
    return cluster


def _plan(kind: str, options: dict, source: str) -> Plan:
    for key in BACKENDS[kind].required:
        if options.get(key) is None and dask.config.get(f"jobqueue.{kind}.{key}", None) is None:
            flag = f"--{key}" if key != "disk" else "disk: in the cluster section"
            raise ClusterError(f"{source}: section jobqueue.{kind} has no '{key}'; add "
                               f"`{key}: {EXAMPLES[key]}` there, or pass {flag} {EXAMPLES[key]}")
    cores = int(options.pop("cores", None) or dask.config.get(f"jobqueue.{kind}.cores"))
    memory = str(options.pop("memory", None) or dask.config.get(f"jobqueue.{kind}.memory"))
    walltime = options.pop("walltime", None) or dask.config.get(f"jobqueue.{kind}.walltime", None)
    if kind != "htcondor" and options.get("disk") is not None:
        raise ClusterError(f"{kind}: disk is an htcondor option; remove it")
    gpus = _gpus_per_job(kind, options)
    options.pop("gpus_per_job", None)
    for key in ("jobs", "min_jobs", "max_jobs", "workers"):
        options.pop(key, None)
    return Plan(kind, gpus, cores, memory, _seconds(walltime) if walltime else None, options)


def _gpus_per_job(kind: str, options: dict) -> int:
    gpus = options.get("gpus_per_job")
    gpus = dask.config.get(f"jobqueue.{kind}.gpus-per-job", 1) if gpus is None else gpus
    if not (isinstance(gpus, int) and gpus >= 0):
        raise ClusterError(f"gpus_per_job must be a whole number >= 0, got {gpus!r}")
    return gpus


def _job_kwargs(p: Plan) -> dict:
    """What every batch system shares: one single-threaded worker per GPU, pinned, retiring."""
    processes = max(p.gpus, 1)
    args = list(p.config("worker-extra-args", []))
    if p.gpus:
        args += ["--resources", "GPU=1"]
    if p.gpus > 1:
        args += ["--preload-nanny", "orchestrator.cluster"]
    args += _lifetime_args(p.walltime)
    exports = [f"export {k}={v}" for k, v in (GPU_ENV | quiet_env()).items()]  # before TF starts
    prologue = [*p.config("job-script-prologue", []), *exports]
    return {"cores": processes, "processes": processes, "memory": p.memory,
            "worker_extra_args": args, "job_script_prologue": prologue}


def _passthrough(p: Plan) -> dict:
    """The remaining options, as dask-jobqueue keywords; scheduler options merge with the site's."""
    out = {k: v for k, v in p.options.items() if v is not None}
    for key in ("job_script_prologue", "worker_extra_args", "job_extra_directives"):
        if key in out:
            raise ClusterError(f"{key} belongs in the jobqueue.yaml section (--jobqueue-config), "
                               "where ganhpo adds its own entries to yours")
    scheduler = {**p.config("scheduler-options", {}), **out.pop("scheduler_options", {})}
    if "dashboard_address" in out:
        scheduler["dashboard_address"] = out.pop("dashboard_address")
    scheduler.setdefault("dashboard_address", DASHBOARD)
    host = listen_host(out.pop("address", None), out.get("interface") or scheduler.get("interface"),
                       None)
    if host is not None:
        scheduler["host"] = host
    return {**out, "scheduler_options": scheduler}


def _warn_if_open(kind: str, kwargs: dict, security: Security | None) -> None:
    """Say so when the scheduler will listen on every interface without TLS."""
    scheduler = kwargs.get("scheduler_options", {})
    if security is None and not any(scheduler.get(k) for k in ("host", "interface")) \
            and not kwargs.get("interface"):
        log.warning("%s: the scheduler listens on every interface without TLS (anyone who reaches "
                    "this machine can run code as you); pass --interface IFACE or --address HOST "
                    "that the workers reach, and --tls (with shared_temp_directory:) or "
                    "--tls-ca-file/--tls-cert/--tls-key", kind)


def _shared_temp_directory(kind: str, options: dict, source: str) -> None:
    """Temporary credentials reach the jobs as files: refuse unless there is a directory for them."""
    shared = options.get("shared_temp_directory") or dask.config.get(
        f"jobqueue.{kind}.shared-temp-directory", None)
    if shared:
        os.makedirs(os.path.expanduser(os.path.expandvars(str(shared))), mode=0o700, exist_ok=True)
        return
    raise ClusterError(f"{kind}: tls: true writes this run's temporary certificates for the jobs "
                       "to read; set shared_temp_directory: to a directory every compute node "
                       f"mounts (e.g. ~/.dask-tls) in the cluster section or in {source}")


def _job_range(options: dict) -> tuple[int, int]:
    jobs = options.get("jobs")
    low = options.get("min_jobs", jobs if jobs is not None else (0 if "max_jobs" in options else 1))
    high = options.get("max_jobs", max(low, jobs or 1))
    if not 0 <= low <= high or high < 1:
        raise ClusterError(f"jobs must satisfy 0 <= min_jobs <= max_jobs and max_jobs >= 1, "
                           f"got min_jobs={low}, max_jobs={high}")
    return low, high


def _lifetime_args(walltime: int | None) -> list[str]:
    """Retire workers before the walltime, staggered so that jobs do not all end at once."""
    if walltime is None:
        return []
    margin = max(120, walltime // 10)
    if walltime < 300:
        raise ClusterError(f"walltime {_hms(walltime)} is too short to retire workers cleanly; "
                           "use at least 00:05:00")
    return ["--lifetime", f"{walltime - margin}s", "--lifetime-stagger", f"{margin // 2}s"]
