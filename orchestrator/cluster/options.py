"""Cluster options: the kinds, one option table for the command line and the experiment's
``cluster:`` section, their merging and checking, TLS security, and loading a jobqueue.yaml."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # dask and distributed are imported where used: the CLI's parser stays light
    from distributed import Security

BATCH_KINDS = ("slurm", "pbs", "htcondor", "lsf")
KINDS = ("local", *BATCH_KINDS)
ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://\S+$")
GPU_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


class ClusterError(ValueError):
    """A cluster request that cannot be met; the message says what to change."""


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
    Option("address", str, "address the scheduler (and local workers) listen on (local default "
                           "127.0.0.1; 0.0.0.0: every interface; batch: one the workers reach)"),
    Option("dashboard_address", str, "Dask dashboard address (default 127.0.0.1:8787; :8787: every "
                                     "interface)"),
)
# --tls / --no-tls (``tls: true|false``): TLS with temporary credentials made for this run; on by
# default for local clusters, asked for by batch clusters (``shared_temp_directory`` needed).
FLAGS = ("tls",)
# Options that only say where and how a local cluster listens: without a kind, they mean local.
LISTEN_KEYS = ("address", "dashboard_address", "tls")
OPTIONS_KEYS = tuple(o.key for o in OPTIONS)
LOOPBACK = "127.0.0.1"
DASHBOARD = f"{LOOPBACK}:8787"
# Keys only the experiment's cluster section (or make_cluster) takes: lists and rarer knobs.
YAML_ONLY = ("kind", "workers", "job_script_prologue", "job_extra_directives", "worker_extra_args",
             "python", "disk", "shared_temp_directory", "death_timeout", "scheduler_options",
             "job_name")
KNOWN = OPTIONS_KEYS + FLAGS + YAML_ONLY


# Readable placeholders in --help (the rest: N for integers, VALUE otherwise).
METAVARS = {"memory": "SIZE", "walltime": "HH:MM:SS", "queue": "NAME", "account": "NAME",
            "interface": "IFACE", "local_directory": "DIR", "log_directory": "DIR",
            "jobqueue_config": "FILE", "tls_ca_file": "FILE", "tls_cert": "FILE",
            "tls_key": "FILE", "dashboard_address": "ADDRESS", "address": "HOST"}


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --workers, --scheduler, --cluster KIND and one --option per cluster option (all
    default to 'not given'): the one set of cluster options every command shares."""
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="local worker processes (embedded cluster only; default: up to 4)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    group = parser.add_argument_group("cluster (command line wins over the experiment's cluster:)")
    group.add_argument("--cluster", metavar="KIND", dest="cluster_kind",
                       help=f"{', '.join(KINDS)}, or a scheduler address tcp://host:8786")
    for opt in OPTIONS:
        group.add_argument("--" + opt.key.replace("_", "-"), dest="cluster_" + opt.key,
                           type=opt.type, help=opt.help,
                           metavar=METAVARS.get(opt.key, "N" if opt.type is int else "VALUE"))
    group.add_argument("--tls", action=argparse.BooleanOptionalAction, dest="cluster_tls",
                       help="TLS with temporary certificates made for this run (local: on unless "
                            "--no-tls; batch: --tls, needs shared_temp_directory:)")


def positive_int(text: str) -> int:
    """An integer >= 1 from the command line (argparse names the option in its one-line error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}; e.g. 4") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}; e.g. 4")
    return value


def cluster_options(args: argparse.Namespace | None, experiment_cluster: dict | None) -> dict:
    """The experiment's cluster section overridden by every option given on the command line."""
    opts = {}
    for key, value in (experiment_cluster or {}).items():
        key = str(key).replace("-", "_")
        _check_key(key, "the experiment's cluster section")
        opts[key] = value
    if args is not None:
        given = {"kind": getattr(args, "cluster_kind", None), "workers": getattr(args, "workers", None)}
        given |= {key: getattr(args, "cluster_" + key, None) for key in (*OPTIONS_KEYS, *FLAGS)}
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
    from distributed import Security

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


def with_tls(security: Security | None, tls: Any, default: bool) -> Security | None:
    """``security`` (from certificate files), else TLS with temporary credentials when ``tls``
    (None: ``default``) is on: a certificate made in memory for this cluster alone, so that other
    users of the machine, who reach 127.0.0.1 too, cannot connect."""
    if tls is not None and not isinstance(tls, bool):
        raise ClusterError(f"tls must be true or false, got {tls!r}; e.g. tls: false (or --no-tls)")
    if security is not None:
        if tls is False:
            raise ClusterError("tls: false (--no-tls) and --tls-ca-file/--tls-cert/--tls-key both "
                               "given; drop one of them")
        return security
    if not (default if tls is None else tls):
        return None
    from distributed import Security

    try:
        return Security.temporary()
    except ImportError:
        raise ClusterError("TLS with temporary certificates needs the 'cryptography' package: "
                           "pip install cryptography, or pass --no-tls") from None


def listen_host(address: str | None, interface: str | None, default: str | None) -> str | None:
    """The host a scheduler binds: ``address``, else none when an ``interface`` names it, else
    ``default`` (loopback for local clusters); both given is an error."""
    if address and interface:
        raise ClusterError(f"address {address!r} and interface {interface!r} both say where the "
                           "scheduler listens; give one of them")
    if address is not None and not str(address).strip():
        raise ClusterError("address '' is empty; give a host such as 127.0.0.1 (this machine only) "
                           "or 0.0.0.0 (every interface)")
    return address or (None if interface else default)


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
    import dask

    # Not expanding $VARS here: the job's shell expands them on the compute node.
    dask.config.update(dask.config.config, loaded, priority="new")
    return path
