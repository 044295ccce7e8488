"""Local clusters: LocalCluster on CPU; one pinned Nanny per GPU when GPUs are visible. Also the
``dask_setup`` nanny preload that pins each worker of a multi-GPU batch job to its own GPU."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from typing import Any

from distributed import LocalCluster, Nanny, Scheduler, Security, SpecCluster, Worker
from distributed.system import MEMORY_LIMIT

from .options import DASHBOARD, GPU_ENV, LOOPBACK, ClusterError, listen_host, with_tls

log = logging.getLogger("ganhpo")
# Start-up lines of TensorFlow's and XLA's C++ side (absl's "All log messages before
# absl::InitializeLog()", oneDNN, CPU features) stay off the console; warnings and errors from
# Python still show. Set for every worker (inherited from the nanny, exported by batch job
# scripts) before any trial imports TensorFlow; a value set in the driver's environment wins.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR"}
# More worker threads than this in the driver's own process share one GIL with the search loop
# and the scheduler: 2-s trials at 80 threads keep 0.86 of the slots busy (docs/benchmarks.md).
IN_PROCESS_THREADS = 32


def quiet_env() -> dict[str, str]:
    """QUIET_ENV, with the values this process's environment already sets."""
    return {key: os.environ.get(key, value) for key, value in QUIET_ENV.items()}


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
                   address: str | None = None, dashboard_address: str | None = None,
                   security: Security | None = None, tls: bool | None = None,
                   **options: Any) -> SpecCluster:
    """One single-threaded worker process per GPU, or per trial slot on CPU.

    Scheduler, workers and dashboard listen on 127.0.0.1 unless ``address`` / ``interface`` /
    ``dashboard_address`` say otherwise. Scheduler, workers and client speak TLS with temporary
    credentials (other users of the machine reach 127.0.0.1 too) unless ``tls=False``.
    """
    security = with_tls(security, tls, default=True)
    options["host"] = listen_host(address, options.get("interface"), LOOPBACK)
    dashboard_address = DASHBOARD if dashboard_address is None else dashboard_address
    devices = _local_gpus(gpus_per_job, workers)
    n = len(devices) if devices else (workers or max(1, min(os.cpu_count() or 1, 4)))
    threads = str(max(1, (os.cpu_count() or 1) // n))
    env = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1", **GPU_ENV,
           **quiet_env()}
    if devices is None:
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=env,
                            dashboard_address=dashboard_address, security=security, **options)
    protocol = "tls://" if security else "tcp://"
    listen = {k: options.pop(k) for k in ("host", "interface") if k in options}
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": dashboard_address,
                                               "protocol": protocol, "security": security, **listen}}
    workers_spec = {
        f"gpu-{dev}": {"cls": Nanny, "options": {
            "nthreads": 1, "resources": {"GPU": 1}, "memory_limit": MEMORY_LIMIT // n,
            "env": {**env, "CUDA_VISIBLE_DEVICES": dev}, "security": security,
            "protocol": protocol, **listen, **options}}
        for dev in devices}
    return SpecCluster(workers=workers_spec, scheduler=scheduler, security=security, name="ganhpo-gpu")


def in_process_threads(cluster: object) -> int:
    """Worker threads of ``cluster`` that run in this process (workers started without a nanny)."""
    workers = getattr(cluster, "workers", None) or {}
    return sum(int(w.state.nthreads) for w in list(workers.values()) if isinstance(w, Worker))


def warn_in_process(cluster: object, limit: int = IN_PROCESS_THREADS) -> bool:
    """Log one line (and return True) when more than ``limit`` worker threads share this process."""
    n = in_process_threads(cluster)
    if n <= limit:
        return False
    log.warning("local: %d worker threads run in the driver's own process and share its GIL with "
                "the search loop; start them as worker processes (LocalCluster(processes=True, ...), "
                "or make_cluster('local', workers=%d))", n, n)
    return True


def close_workers(cluster: object, timeout: float = 60.0) -> None:
    """Close a local cluster's worker processes, giving each ``timeout`` s to exit by itself.

    distributed allows 4 s before it kills a worker with a warning; a worker that has imported
    TensorFlow can need longer on a loaded machine. Batch clusters' jobs are left to ``close``.
    """
    nannies = [w for w in getattr(cluster, "workers", {}).values() if isinstance(w, Nanny)]
    if not nannies:
        return

    async def close() -> None:
        await asyncio.gather(*(w.close(timeout=timeout) for w in nannies), return_exceptions=True)

    cluster.sync(close)


def dask_setup(nanny: Nanny) -> None:
    """Nanny preload for batch jobs: worker i of a job sees only the job's i-th GPU."""
    index = int(str(nanny.name).rsplit("-", 1)[-1])
    devices = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
    nanny.env["CUDA_VISIBLE_DEVICES"] = devices[index % len(devices)] if devices else str(index)
