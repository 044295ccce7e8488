"""Batch systems through dask-jobqueue: one small table row per system, giving its cluster class
and how a job asks for cores, GPUs, memory and walltime in that system's own syntax."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dask

from .options import ClusterError


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
