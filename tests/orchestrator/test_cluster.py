"""Cluster building: job scripts in each batch system's syntax, the local GPU layout, bad input."""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import dask
import dask_jobqueue  # noqa: F401 - registers its config defaults before the config is saved
import psutil
import pytest
from distributed import Client, Nanny, Scheduler, Security, SpecCluster

from orchestrator.cluster import (
    ClusterError,
    add_cluster_arguments,
    cluster_options,
    connect,
    make_cluster,
    visible_gpus,
    wants_gpu_resources,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
JOB = {"jobs": 0, "max_jobs": 2, "gpus_per_job": 2, "cores": 8, "memory": "64GB",
       "walltime": "02:00:00", "dashboard_address": ":0"}
WORKER_FLAGS = ("--nthreads 1", "--nworkers 2", "--memory-limit 29.80GiB", "--resources GPU=1",
                "--preload-nanny orchestrator.cluster", "--lifetime 6480s --lifetime-stagger 360s")


@pytest.fixture(autouse=True)
def _own_dask_config():
    """Loading a jobqueue.yaml changes the global Dask config; put it back after each test."""
    saved = copy.deepcopy(dask.config.config)
    yield
    dask.config.config.clear()
    dask.config.config.update(saved)


@pytest.fixture
def site(tmp_path) -> str:
    """The shipped deploy/jobqueue.yaml with a prologue line added to every section."""
    import yaml

    spec = yaml.safe_load((DEPLOY / "jobqueue.yaml").read_text())
    for section in spec["jobqueue"].values():
        section["job-script-prologue"] = ["source /opt/ganhpo/bin/activate"]
    path = tmp_path / "jobqueue.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def script(kind: str, **options) -> str:
    cluster = make_cluster(kind, **{**JOB, **options})
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def assert_worker_command(text: str) -> None:
    for flag in WORKER_FLAGS:
        assert flag in text, flag


def test_slurm_job_script(site):
    text = script("slurm", jobqueue_config=site, queue="gpu", account="m1234")
    lines = text.splitlines()
    for line in ("#SBATCH --gres=gpu:2", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=60G",
                 "#SBATCH -t 02:00:00", "#SBATCH -p gpu", "#SBATCH -A m1234",
                 "source /opt/ganhpo/bin/activate", "export TF_FORCE_GPU_ALLOW_GROWTH=true"):
        assert line in lines, line
    assert lines.index("source /opt/ganhpo/bin/activate") < lines.index(
        "export TF_FORCE_GPU_ALLOW_GROWTH=true") < len(lines) - 1
    assert_worker_command(lines[-1])


def test_job_scripts_quiet_tensorflow_before_it_starts(site, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    lines = script("slurm", jobqueue_config=site).splitlines()
    assert lines.index("export TF_CPP_MIN_LOG_LEVEL=2") < len(lines) - 1  # before `dask worker`
    assert "export GRPC_VERBOSITY=ERROR" in lines


def test_pbs_job_script(site):
    lines = script("pbs", jobqueue_config=site, queue="workq").splitlines()
    for line in ("#PBS -l select=1:ncpus=8:ngpus=2:mem=60GB", "#PBS -l walltime=02:00:00",
                 "#PBS -q workq", "source /opt/ganhpo/bin/activate",
                 "export TF_FORCE_GPU_ALLOW_GROWTH=true"):
        assert line in lines, line
    assert_worker_command(lines[-1])


def test_htcondor_submit_file(site):
    text = script("htcondor", jobqueue_config=site, disk="10GB", account="group_u_CMS.u")
    lines = text.splitlines()
    for line in ("request_gpus = 2", "RequestCpus = 8", "+MaxRuntime = 7200",
                 "accounting_group = group_u_CMS.u", "MY.DaskWorkerDisk = 10000000000"):
        assert line in lines, line
    arguments = next(line for line in lines if line.startswith("Arguments = "))
    assert ("-c 'source /opt/ganhpo/bin/activate; export TF_FORCE_GPU_ALLOW_GROWTH=true; "
            in arguments)
    assert_worker_command(arguments)


def test_lsf_job_script(site):
    lines = script("lsf", jobqueue_config=site, account="PHY123").splitlines()
    for line in ('#BSUB -gpu "num=2"', "#BSUB -n 8", "#BSUB -W 02:00", '#BSUB -P "PHY123"',
                 "source /opt/ganhpo/bin/activate", "export TF_FORCE_GPU_ALLOW_GROWTH=true"):
        assert line in lines, line
    assert_worker_command(lines[-1])


def test_site_defaults_fill_what_options_leave_out(site):
    text = script("slurm", jobqueue_config=site, cores=None, memory=None, gpus_per_job=None)
    assert "#SBATCH --gres=gpu:4" in text and "#SBATCH --cpus-per-task=16" in text
    assert "--nworkers 4" in text and "--nthreads 1" in text


def test_single_gpu_jobs_need_no_pinning_and_cpu_jobs_ask_no_gpu():
    one = script("slurm", gpus_per_job=1)
    assert "--gres=gpu:1" in one and "--resources GPU=1" in one and "--preload-nanny" not in one
    cpu = script("pbs", gpus_per_job=0)
    assert "ngpus" not in cpu and "--resources" not in cpu and "select=1:ncpus=8:mem=60GB" in cpu


def test_tls_reaches_the_workers(tmp_path):
    temporary = Security.temporary()
    paths = {}
    for key, pem in (("tls_ca_file", temporary.tls_ca_file), ("tls_cert", temporary.tls_client_cert),
                     ("tls_key", temporary.tls_client_key)):
        paths[key] = str(tmp_path / key)
        Path(paths[key]).write_text(pem)
    cluster = make_cluster("slurm", **JOB, **paths)
    try:
        text = cluster.job_script()
        assert cluster.scheduler_address.startswith("tls://")
    finally:
        cluster.close()
    assert f"--tls-ca-file {paths['tls_ca_file']}" in text
    assert f"--tls-cert {paths['tls_cert']} --tls-key {paths['tls_key']}" in text


def test_tls_true_gives_batch_jobs_temporary_credentials_only_we_can_read(tmp_path):
    shared = tmp_path / "tls"  # made if missing, readable by us only
    cluster = make_cluster("slurm", **JOB, tls=True, shared_temp_directory=str(shared))
    try:
        text = cluster.job_script()
        assert cluster.scheduler_address.startswith("tls://")
    finally:
        cluster.close()
    files = {p.name.split(".")[3]: p for p in shared.iterdir()}
    assert set(files) == {"ca_file", "cert", "key"}  # .dask-jobqueue.worker.KEY.XXXX
    assert oct(shared.stat().st_mode & 0o777) == "0o700"
    assert all(p.stat().st_mode & 0o077 == 0 for p in files.values())
    assert "BEGIN CERTIFICATE" in files["ca_file"].read_text()
    assert f"--tls-ca-file {files['ca_file']}" in text
    assert f"--tls-cert {files['cert']} --tls-key {files['key']}" in text
    with pytest.raises(ClusterError, match=r"slurm: tls: true .* set shared_temp_directory:"):
        make_cluster("slurm", **JOB, tls=True)
    with pytest.raises(ClusterError, match="tls must be true or false, got 'yes'"):
        make_cluster("local", tls="yes")
    with pytest.raises(ClusterError, match=r"tls: false \(--no-tls\) and --tls-ca-file"):
        make_cluster("slurm", **JOB, tls=False, tls_ca_file=__file__, tls_cert=__file__,
                     tls_key=__file__)
    assert cluster_options(parse(["--no-tls"]), {"tls": True}) == {"tls": False}
    assert cluster_options(parse(["--tls"]), {}) == {"tls": True}
    assert cluster_options(parse([]), {"tls": False}) == {"tls": False}


def test_lifetime_is_staggered_inside_the_walltime():
    text = script("slurm", walltime="00:30:00")
    assert "--lifetime 1620s --lifetime-stagger 90s" in text  # 27 min + up to 1.5 min < 30 min
    with pytest.raises(ClusterError, match="at least 00:05:00"):
        make_cluster("slurm", **{**JOB, "walltime": "00:04:00"})
    with pytest.raises(ClusterError, match="write HH:MM:SS, e.g. 02:00:00"):
        make_cluster("slurm", **{**JOB, "walltime": "2h"})


# --- bad input: one clear message each -----------------------------------------------------

def test_unknown_kind_names_the_choices():
    with pytest.raises(ClusterError) as err:
        make_cluster("slurn")
    assert str(err.value) == ("unknown cluster kind 'slurn' (did you mean 'slurm'?); use one of "
                              "local, slurm, pbs, htcondor, lsf, or a scheduler address "
                              "tcp://host:8786")


def test_gpus_where_the_kind_cannot_give_them(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ClusterError, match=r"local: 2 GPUs requested but 0 visible .*\(--cluster slurm\)"):
        make_cluster("local", gpus_per_job=2)
    with pytest.raises(ClusterError, match="existing scheduler: its workers are started elsewhere"):
        make_cluster("tcp://10.0.0.1:8786", gpus_per_job=2)
    with pytest.raises(ClusterError, match="htcondor has no queues"):
        make_cluster("htcondor", **JOB, disk="1GB", queue="long")


def test_jobqueue_yaml_missing_a_key(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("jobqueue:\n  slurm:\n    cores: 8\n    walltime: '01:00:00'\n")
    with pytest.raises(ClusterError) as err:
        make_cluster("slurm", jobqueue_config=str(path))
    assert str(err.value) == (f"{path}: section jobqueue.slurm has no 'memory'; add `memory: 64GB` "
                              "there, or pass --memory 64GB")
    with pytest.raises(ClusterError, match=r"no section jobqueue.pbs \(it has: slurm\)"):
        make_cluster("pbs", jobqueue_config=str(path))
    with pytest.raises(ClusterError, match="no such file"):
        make_cluster("pbs", jobqueue_config=str(tmp_path / "nope.yaml"))


def test_unknown_option_suggests_the_right_one():
    with pytest.raises(ClusterError, match="unknown option 'gpus_per_node'; did you mean 'gpus_per_job'"):
        cluster_options(None, {"kind": "slurm", "gpus_per_node": 2})


def test_tls_needs_all_three_files():
    with pytest.raises(ClusterError, match="also give --tls-cert, --tls-key"):
        make_cluster("slurm", **JOB, tls_ca_file="ca.pem")


# --- command line and experiment section ---------------------------------------------------

def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_cluster_arguments(parser)
    return parser.parse_args(argv)


def test_command_line_wins_over_the_experiment():
    args = parse(["--cluster", "slurm", "--jobs", "3", "--gpus-per-job", "4"])
    section = {"kind": "pbs", "jobs": 1, "queue": "gpu", "walltime": "01:00:00"}
    assert cluster_options(args, section) == {"kind": "slurm", "jobs": 3, "gpus_per_job": 4,
                                              "queue": "gpu", "walltime": "01:00:00"}
    assert wants_gpu_resources(args, section)
    assert not wants_gpu_resources(parse(["--cluster", "slurm", "--gpus-per-job", "0"]), {})


def test_batch_scheduler_listens_where_asked_and_its_dashboard_on_loopback(caplog):
    job = {k: v for k, v in JOB.items() if k != "dashboard_address"}
    cluster = make_cluster("slurm", **job, address="127.0.0.1")
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert cluster.scheduler.http_server.address == "127.0.0.1"
    finally:
        cluster.close()
    assert "listens on every interface" not in caplog.text
    cluster = make_cluster("slurm", **JOB)  # neither address nor interface nor TLS: said so
    cluster.close()
    assert "the scheduler listens on every interface without TLS" in caplog.text
    with pytest.raises(ClusterError, match="give one of them"):
        make_cluster("slurm", **JOB, address="127.0.0.1", interface="lo")


def test_no_cluster_asked_means_none_and_options_need_a_kind():
    assert connect(parse([]), {}) is None
    assert connect(parse(["--workers", "3"]), {}) is None
    with pytest.raises(ClusterError, match="given without a kind; add --cluster KIND"):
        connect(parse(["--jobs", "2"]), {})


def test_visible_gpus_follows_cuda_rules(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3,-1,4")
    assert visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []


# --- local clusters, for real (CPU) --------------------------------------------------------

def worker_view(client: Client) -> list[tuple[str, dict, int]]:
    env = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
    info = client.scheduler_info(n_workers=-1)["workers"]
    return sorted((env[a], w["resources"], w["nthreads"]) for a, w in info.items())


def listen_hosts() -> set[str]:
    """The addresses this process and its children listen on."""
    me = psutil.Process()
    pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
    return {c.laddr.ip for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids}


def test_local_cpu_workers_share_the_cores(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with make_cluster("local", workers=2) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        assert listen_hosts() == {"127.0.0.1"}  # scheduler, dashboard, nannies, workers
        view = worker_view(client)
        threads = client.run(lambda: os.environ["TF_NUM_INTRAOP_THREADS"])
    assert view == [("", {}, 1), ("", {}, 1)]
    assert set(threads.values()) == {str(max(1, (os.cpu_count() or 1) // 2))}


def test_batch_jobs_pin_each_worker_to_its_gpu(monkeypatch):
    """The nanny preload the job scripts name: worker i of a job sees the job's i-th GPU."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    nanny = {"cls": Nanny, "options": {"nthreads": 1, "preload_nanny": ["orchestrator.cluster"]}}
    workers = {"job7-0": nanny, "job7-1": nanny}
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        seen = client.run(lambda: os.environ["CUDA_VISIBLE_DEVICES"])
        names = client.run(lambda dask_worker: dask_worker.name)
    assert {names[a]: seen[a] for a in seen} == {"job7-0": "3", "job7-1": "5"}


SITE_LINES = {
    "slurm-gpu-partition": ("#SBATCH --gres=gpu:4", "#SBATCH --constraint=gpu", "--nworkers 4",
                            "#SBATCH -t 06:00:00", "--lifetime 19440s --lifetime-stagger 1080s"),
    "htcondor-cern": ("request_gpus = 1", "+MaxRuntime = 28800", "getenv = True", "--resources GPU=1"),
    "pbs-gpu-site": ("#PBS -l select=1:ncpus=32:ngpus=4:mem=373GB", "#PBS -l filesystems=home:eagle"),
    "lsf-gpu-site": ('#BSUB -gpu "num=4"', "#BSUB -W 04:00", "#BSUB -M 256000", "#BSUB -n 40"),
}


@pytest.mark.parametrize("name", sorted(SITE_LINES))
def test_site_examples_render(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples' log-directory is created relative to here
    kind = name.split("-")[0]
    cluster = make_cluster(kind, jobs=0, max_jobs=1, dashboard_address=":0", interface="lo",
                           scheduler_options={"port": 0},
                           jobqueue_config=str(DEPLOY / "sites" / f"{name}.yaml"))
    try:
        text = cluster.job_script()
    finally:
        cluster.close()
    for line in SITE_LINES[name]:
        assert line in text, line


def test_local_gpus_one_pinned_worker_each_and_a_search_runs_on_them(monkeypatch, tmp_path):
    from orchestrator.experiment import Experiment
    from orchestrator.search import run
    from orchestrator.store import DONE, read_store

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    space = {f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)}
    exp = Experiment.from_dict({"space": space, "trial": "orchestrator.objectives:noisy_hartmann",
                                "trials": 2, "budget": 3, "epochs": 2, "optimizer": "lhs"})
    cluster = make_cluster("local")
    with cluster, Client(cluster) as client:
        assert isinstance(cluster, SpecCluster)
        client.wait_for_workers(2, timeout=60)
        assert listen_hosts() == {"127.0.0.1"}  # scheduler, dashboard, nannies, workers
        assert cluster.scheduler.http_server.address == "127.0.0.1"
        assert worker_view(client) == [("0", {"GPU": 1}, 1), ("1", {"GPU": 1}, 1)]
        growth = client.run(lambda: os.environ["TF_FORCE_GPU_ALLOW_GROWTH"])
        assert set(growth.values()) == {"true"}
        result = run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 3 and (snap.status == DONE).all() and result.best_params is not None


def test_many_worker_threads_in_the_driver_process_are_named_once(caplog):
    from distributed import LocalCluster

    from orchestrator.cluster.local import in_process_threads, warn_in_process

    with LocalCluster(n_workers=1, threads_per_worker=40, processes=False,
                      dashboard_address=":0") as cluster:
        assert in_process_threads(cluster) == 40
        with caplog.at_level("WARNING", logger="ganhpo"):
            assert warn_in_process(cluster)
            assert not warn_in_process(cluster, limit=40)
    lines = [r.getMessage() for r in caplog.records if r.name == "ganhpo"]
    assert len(lines) == 1 and "40 worker threads" in lines[0] and "processes=True" in lines[0]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        assert in_process_threads(cluster) == 0  # a worker process behind its nanny
    assert not warn_in_process(None)
