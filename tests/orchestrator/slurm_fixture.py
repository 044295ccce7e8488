"""A private single-node Slurm (munged, slurmctld, slurmd as root) in a temp dir, for tests.

Nothing touches the system's Slurm or munge: the key, socket, config, state and logs live in
the temp dir, commands find the config through SLURM_CONF, and teardown stops what it started.
The node declares two fake GPUs (gres backed by empty files) so ``--gres=gpu:2`` is schedulable
and Slurm sets CUDA_VISIBLE_DEVICES for the job as it does on a real GPU node.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "sinfo")

SLURM_CONF = """\
ClusterName=ganhpo
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmdTimeout=30
GresTypes=gpu
NodeName={host} CPUs={cpus} RealMemory={memory} Gres=gpu:2 State=UNKNOWN
PartitionName=gpu Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""
GRES_CONF = "AutoDetect=off\nNodeName={host} Name=gpu File={dir}/fake-gpu[0-1]\n"


def slurm_missing() -> str | None:
    """Why a private Slurm cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "the single-node Slurm test runs its daemons as root"
    missing = [d for d in DAEMONS if shutil.which(d) is None and not Path(f"/usr/sbin/{d}").exists()]
    return f"not installed: {', '.join(missing)} (apt-get install slurm-wlm munge)" if missing else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _wait(predicate, seconds: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in logs if p.exists())
    raise RuntimeError(f"Slurm: {what} within {seconds:.0f} s\n{tails}")


@contextmanager
def single_node_slurm(tmp: Path) -> Iterator[dict]:
    """Start munged, slurmctld and slurmd; yield the environment for Slurm commands; stop them."""
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    sock = tmp / "munge.socket"
    key = tmp / "munge.key"
    subprocess.run([_binary("mungekey"), "-c", "-f", "-k", str(key)], check=True)
    memory = max(1024, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024)
    (tmp / "slurm.conf").write_text(SLURM_CONF.format(
        host=host, ctld_port=_free_port(), d_port=_free_port(), socket=sock, dir=tmp,
        cpus=os.cpu_count() or 1, memory=memory))
    for i in range(2):
        (tmp / f"fake-gpu{i}").touch()
    (tmp / "gres.conf").write_text(GRES_CONF.format(host=host, dir=tmp))
    env = {**os.environ, "SLURM_CONF": str(tmp / "slurm.conf")}
    procs: list[subprocess.Popen] = []
    logs = [tmp / "munged.log", tmp / "slurmctld.log", tmp / "slurmd.log"]
    try:
        procs.append(subprocess.Popen(
            [_binary("munged"), "-F", "--force", f"--socket={sock}", f"--key-file={key}",
             f"--log-file={tmp / 'munged.log'}", f"--pid-file={tmp / 'munged.pid'}",
             f"--seed-file={tmp / 'munged.seed'}"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        _wait(sock.exists, 10, "munged did not create its socket", logs)
        for daemon in ("slurmctld", "slurmd"):
            procs.append(subprocess.Popen([_binary(daemon), "-D", "-f", str(tmp / "slurm.conf")],
                                          env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.STDOUT))
        _wait(lambda: _node_idle(env), 30, "the node did not become idle", logs)
        yield env
    finally:
        if len(procs) == 3:
            _cancel_all(env)
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _cancel_all(env: dict, seconds: float = 15) -> None:
    """Cancel every job and wait until none is left, so no job step outlives the daemons."""
    subprocess.run(["scancel", "--full", "--partition", "gpu"], env=env, capture_output=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            return
        time.sleep(0.2)


def _node_idle(env: dict) -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == "idle"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> Iterator[dict]:
    """A running private Slurm; skipped where it cannot be installed, failed instead under CI=true."""
    why = slurm_missing()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the Slurm integration test, but {why}")
        pytest.skip(why)
    with single_node_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env
