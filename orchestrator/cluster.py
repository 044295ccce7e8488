"""Build a Dask cluster from a name: local, slurm, pbs, htcondor, lsf, or a scheduler address.

Every kind gives the same worker layout: one single-threaded worker process per GPU, declaring
the resource ``GPU=1`` and seeing only its own device through ``CUDA_VISIBLE_DEVICES``, with
TensorFlow's memory growth on. Batch kinds are dask-jobqueue clusters scaled adaptively between
a minimum and a maximum number of jobs; each job asks its batch system for GPUs in that system's
own syntax (the ``BACKENDS`` table) and retires its workers, staggered, before the walltime.
Options come from, in rising priority: a jobqueue.yaml, the experiment's ``cluster:`` section,
the command line.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import yaml
from distributed import Client, LocalCluster, Nanny, Scheduler, Security, SpecCluster
from distributed.system import MEMORY_LIMIT

__all__ = ["ClusterError", "add_cluster_arguments", "cluster_options", "connect", "disconnect",
           "make_cluster", "visible_gpus", "wants_gpu_resources"]

log = logging.getLogger("ganhpo")

BATCH_KINDS = ("slurm", "pbs", "htcondor", "lsf")
KINDS = ("local", *BATCH_KINDS)
ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://\S+$")
GPU_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


class ClusterError(ValueError):
    """A cluster request that cannot be met; the message says what to change."""


# ---------------------------------------------------------------------------------------------
# Options: one table for the command line, the experiment's cluster section and validation.

@dataclass(frozen=True)
class Option:
    """One cluster option: its key (as in YAML), type and help; on the command line as --key."""

    key: str
    type: Callable[[str], Any]
    help: str


OPTIONS = (
    Option("jobs", int, "batch jobs to keep (min = max = N; default 1)"),
    Option("min_jobs", int, "adaptive minimum number of jobs"),
    Option("max_jobs", int, "adaptive maximum number of jobs"),
    Option("gpus_per_job", int, "GPUs per job (local: GPUs to use); one worker process per GPU"),
    Option("cores", int, "CPU cores per job"),
    Option("memory", str, "memory per job, e.g. 64GB"),
    Option("walltime", str, "job walltime HH:MM:SS; workers retire, staggered, before it"),
    Option("queue", str, "queue or partition"),
    Option("account", str, "account / project / accounting group to charge"),
    Option("interface", str, "network interface workers and scheduler use, e.g. ib0"),
    Option("local_directory", str, "fast node-local scratch for workers, e.g. $TMPDIR"),
    Option("log_directory", str, "where batch jobs write their logs"),
    Option("jobqueue_config", str, "a jobqueue.yaml with site defaults (see deploy/)"),
    Option("tls_ca_file", str, "TLS: CA certificate (with --tls-cert, --tls-key)"),
    Option("tls_cert", str, "TLS: certificate for scheduler, workers and client"),
    Option("tls_key", str, "TLS: private key of --tls-cert"),
    Option("dashboard_address", str, "Dask dashboard address, e.g. :8787"),
)
# Keys only the experiment's cluster section (or make_cluster) takes: lists and rarer knobs.
YAML_ONLY = ("kind", "workers", "job_script_prologue", "job_extra_directives", "worker_extra_args",
             "python", "disk", "shared_temp_directory", "death_timeout", "scheduler_options",
             "job_name")
KNOWN = tuple(o.key for o in OPTIONS) + YAML_ONLY


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --cluster KIND and one --option per cluster option (all default to 'not given')."""
    group = parser.add_argument_group("cluster (command line wins over the experiment's cluster:)")
    group.add_argument("--cluster", metavar="KIND", dest="cluster_kind",
                       help=f"{', '.join(KINDS)}, or a scheduler address tcp://host:8786")
    for opt in OPTIONS:
        group.add_argument("--" + opt.key.replace("_", "-"), dest="cluster_" + opt.key,
                           type=opt.type, help=opt.help)


def cluster_options(args: argparse.Namespace | None, experiment_cluster: dict | None) -> dict:
    """The experiment's cluster section overridden by every option given on the command line."""
    opts = {}
    for key, value in (experiment_cluster or {}).items():
        key = str(key).replace("-", "_")
        _check_key(key, "the experiment's cluster section")
        opts[key] = value
    if args is not None:
        given = {"kind": getattr(args, "cluster_kind", None), "workers": getattr(args, "workers", None)}
        given |= {o.key: getattr(args, "cluster_" + o.key, None) for o in OPTIONS}
        opts |= {k: v for k, v in given.items() if v is not None}
    return opts


def _check_key(key: str, where: str) -> None:
    if key not in KNOWN:
        hint = difflib.get_close_matches(key, KNOWN, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"known: {', '.join(KNOWN)}"
        raise ClusterError(f"{where}: unknown option '{key}'; {fix}")


def _check_kind(kind: str) -> None:
    if kind not in KINDS and not ADDRESS.match(str(kind)):
        hint = difflib.get_close_matches(str(kind), KINDS, n=1)
        near = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise ClusterError(f"unknown cluster kind {kind!r}{near}; use one of {', '.join(KINDS)}, "
                           "or a scheduler address tcp://host:8786")


def make_security(options: dict) -> Security | None:
    """A distributed Security requiring TLS everywhere, from tls_ca_file/tls_cert/tls_key."""
    files = {k: options.get(k) for k in ("tls_ca_file", "tls_cert", "tls_key")}
    if not any(files.values()):
        return None
    missing = [k for k, v in files.items() if not v]
    if missing:
        flags = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise ClusterError(f"TLS needs a CA file, a certificate and its key; also give {flags}")
    for key, path in files.items():
        if not Path(path).is_file():
            raise ClusterError(f"--{key.replace('_', '-')} {path}: no such file")
    ca, cert, key = files["tls_ca_file"], files["tls_cert"], files["tls_key"]
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key,
                    tls_scheduler_cert=cert, tls_scheduler_key=key, tls_worker_cert=cert,
                    tls_worker_key=key, require_encryption=True)


# ---------------------------------------------------------------------------------------------
# Entry points

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
        return _local_cluster(security=security, **rest)
    return _batch_cluster(kind, security=security, **rest)


def connect(args: argparse.Namespace | None, experiment_cluster: dict | None) -> Client | None:
    """A Client for the cluster the command line and experiment ask for; None when they ask none."""
    opts = cluster_options(args, experiment_cluster)
    scheduler = getattr(args, "scheduler", None)
    kind = scheduler or opts.pop("kind", None)
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
        cluster.close()


def wants_gpu_resources(args: argparse.Namespace | None, experiment_cluster: dict | None) -> bool:
    """Whether the requested cluster's workers declare GPU=1 (set it on adaptive clusters at 0 workers)."""
    opts = cluster_options(args, experiment_cluster)
    kind = getattr(args, "scheduler", None) or opts.get("kind")
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


# ---------------------------------------------------------------------------------------------
# Local: LocalCluster on CPU; one pinned Nanny per GPU when GPUs are visible.

def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else what nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [d.strip() for d in env.split(",")]
        ids = ids[: ids.index("-1")] if "-1" in ids else ids  # CUDA stops at the first invalid id
        return [d for d in ids if d]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def _local_gpus(gpus: int | None, workers: int | None) -> list[str] | None:
    """The devices of a local GPU cluster, or None for CPU workers."""
    if gpus == 0:
        return None
    found = visible_gpus()
    if gpus is not None and gpus > len(found):
        raise ClusterError(f"local: {gpus} GPUs requested but {len(found)} visible (CUDA_VISIBLE_DEVICES "
                           "or nvidia-smi); drop --gpus-per-job for CPU workers, or use a batch "
                           "kind (--cluster slurm) to get GPU nodes")
    want = gpus or workers or len(found)
    if not found or want > len(found):
        if found:
            log.warning("local: %d workers asked, %d GPUs visible: starting CPU workers without "
                        "GPU resources; pass gpus_per_job to pin one worker per GPU", want, len(found))
        return None
    return found[:want]


def _local_cluster(*, workers: int | None = None, gpus_per_job: int | None = None,
                   dashboard_address: str = ":8787", security: Security | None = None,
                   **options: Any) -> SpecCluster:
    """One single-threaded worker process per GPU, or per trial slot on CPU."""
    devices = _local_gpus(gpus_per_job, workers)
    n = len(devices) if devices else (workers or max(1, min(os.cpu_count() or 1, 4)))
    threads = str(max(1, (os.cpu_count() or 1) // n))
    env = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1", **GPU_ENV}
    if devices is None:
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=env,
                            dashboard_address=dashboard_address, security=security, **options)
    protocol = "tls://" if security else "tcp://"
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": dashboard_address,
                                               "protocol": protocol, "security": security}}
    workers_spec = {
        f"gpu-{dev}": {"cls": Nanny, "options": {
            "nthreads": 1, "resources": {"GPU": 1}, "memory_limit": MEMORY_LIMIT // n,
            "env": {**env, "CUDA_VISIBLE_DEVICES": dev}, "security": security,
            "protocol": protocol, **options}}
        for dev in devices}
    return SpecCluster(workers=workers_spec, scheduler=scheduler, security=security, name="ganhpo-gpu")


def dask_setup(nanny: Nanny) -> None:
    """Nanny preload for batch jobs: worker i of a job sees only the job's i-th GPU."""
    index = int(str(nanny.name).rsplit("-", 1)[-1])
    devices = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
    nanny.env["CUDA_VISIBLE_DEVICES"] = devices[index % len(devices)] if devices else str(index)


# ---------------------------------------------------------------------------------------------
# Batch systems through dask-jobqueue: one small table row per system.

@dataclass(frozen=True)
class Plan:
    """A batch request, resolved: what each job asks the batch system for."""

    kind: str
    gpus: int
    cores: int
    memory: str
    walltime: int | None  # seconds
    options: dict = field(default_factory=dict)

    def config(self, key: str, default: Any = None) -> Any:
        """A site default from the jobqueue.<kind> section of the Dask config."""
        return dask.config.get(f"jobqueue.{self.kind}.{key}", default) or default


def _slurm(p: Plan) -> dict:
    gres = [f"--gres=gpu:{p.gpus}"] if p.gpus else []
    return {"job_cpu": p.cores, "walltime": _hms(p.walltime),
            "job_extra_directives": [*p.config("job-extra-directives", []), *gres]}


def _pbs(p: Plan) -> dict:
    from dask.utils import parse_bytes
    from dask_jobqueue.pbs import pbs_format_bytes_ceil

    spec = p.options.pop("resource_spec", None) or p.config("resource-spec")
    if spec is None:
        gpus = f":ngpus={p.gpus}" if p.gpus else ""
        spec = f"select=1:ncpus={p.cores}{gpus}:mem={pbs_format_bytes_ceil(parse_bytes(p.memory))}"
    elif p.gpus and "ngpus" not in spec:
        raise ClusterError(f"pbs: resource-spec {spec!r} asks for no GPUs; add :ngpus={p.gpus} "
                           "to it, or remove it and ganhpo builds one")
    return {"resource_spec": spec, "walltime": _hms(p.walltime)}


def _htcondor(p: Plan) -> dict:
    if p.options.pop("queue", None):
        raise ClusterError("htcondor has no queues; choose the job length with walltime "
                           "(+MaxRuntime) or a site directive in job_extra_directives")
    directives = dict(p.config("job-extra-directives", {}) or {})
    directives["RequestCpus"] = p.cores
    if p.gpus:
        directives["request_gpus"] = p.gpus
    if p.walltime:
        directives["+MaxRuntime"] = p.walltime
    if account := p.options.pop("account", None):
        directives["accounting_group"] = account
    return {"job_extra_directives": directives}


def _lsf(p: Plan) -> dict:
    gpu = [f'-gpu "num={p.gpus}"'] if p.gpus else []
    out = {"ncpus": p.cores, "walltime": _hms(p.walltime, with_seconds=False),
           "job_extra_directives": [*p.config("job-extra-directives", []), *gpu]}
    if account := p.options.pop("account", None):
        out["project"] = account
    return out


@dataclass(frozen=True)
class Backend:
    """One batch system: its dask-jobqueue class, its job-request syntax, its required keys."""

    cluster: str
    request: Callable[[Plan], dict]
    required: tuple[str, ...] = ("cores", "memory")


BACKENDS = {
    "slurm": Backend("SLURMCluster", _slurm),
    "pbs": Backend("PBSCluster", _pbs),
    "htcondor": Backend("HTCondorCluster", _htcondor, ("cores", "memory", "disk")),
    "lsf": Backend("LSFCluster", _lsf),
}
EXAMPLES = {"cores": "8", "memory": "64GB", "disk": "10GB"}


def _batch_cluster(kind: str, *, security: Security | None = None, **options: Any):
    """A dask-jobqueue cluster of GPU jobs, adapting between min_jobs and max_jobs."""
    import dask_jobqueue

    source = _load_jobqueue_config(kind, options.pop("jobqueue_config", None))
    low, high = _job_range(options)
    plan = _plan(kind, options, source)
    kwargs = _job_kwargs(plan) | BACKENDS[kind].request(plan) | _passthrough(plan)
    cls = getattr(dask_jobqueue, BACKENDS[kind].cluster)
    cluster = cls(security=security, **kwargs)
    cluster.adapt(minimum_jobs=low, maximum_jobs=high, wait_count=60)
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
    prologue = [*p.config("job-script-prologue", []), *(f"export {k}={v}" for k, v in GPU_ENV.items())]
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
    return {**out, "scheduler_options": scheduler} if scheduler else out


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


def _seconds(walltime: str | int) -> int:
    """'HH:MM:SS', 'D-HH:MM:SS' or 'HH:MM' (LSF) as seconds."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d\d)(?::(\d\d))?", str(walltime).strip())
    if not match:
        raise ClusterError(f"walltime {walltime!r} is not understood; write HH:MM:SS, e.g. 02:00:00")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _hms(total: int | None, with_seconds: bool = True) -> str | None:
    """Seconds as HH:MM:SS (or HH:MM, LSF's form)."""
    if total is None:
        return None
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if with_seconds else f"{h:02d}:{m:02d}"


def _load_jobqueue_config(kind: str, path: str | None) -> str:
    """Merge a jobqueue.yaml into the Dask config; return how to name it in messages."""
    if path is None:
        return "the Dask config (~/.config/dask/jobqueue.yaml or --jobqueue-config PATH)"
    if not Path(path).is_file():
        raise ClusterError(f"--jobqueue-config {path}: no such file; see deploy/jobqueue.yaml")
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        raise ClusterError(f"{path}: malformed YAML: {err}") from None
    sections = (loaded.get("jobqueue") or {}) if isinstance(loaded, dict) else {}
    if not isinstance(sections.get(kind), dict):
        have = ", ".join(sorted(sections)) or "none"
        raise ClusterError(f"{path}: no section jobqueue.{kind} (it has: {have}); add one, "
                           f"e.g. copy it from deploy/jobqueue.yaml")
    # Not expanding $VARS here: the job's shell expands them on the compute node.
    dask.config.update(dask.config.config, loaded, priority="new")
    return path
