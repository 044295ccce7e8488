"""The cost of TLS on the embedded local cluster (on by default; ``--no-tls`` turns it off).

    python benchmarks/bench_tls.py [--tasks 200] [--runs 3]

For each of TLS and plain TCP: the local cluster's start (2 worker processes; TLS also makes a
temporary certificate), the round trip of one tiny task (submit, run, result; median of
``--tasks`` in a row), and the wall time of a small search through the real CLI (``ganhpo run``
on examples/hartmann.yaml cut to 6 architectures x 2 trials x 3 epochs, 2 workers; median of
``--runs``), start-up and shut-down included. The two are measured alternately, so that the
machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def round_trips(tls: bool, tasks: int) -> tuple[float, float]:
    """(cluster start s, median task round trip ms) on a local cluster with or without TLS."""
    from distributed import Client

    from orchestrator.cluster import make_cluster

    start = time.perf_counter()
    cluster = make_cluster("local", workers=2, dashboard_address="127.0.0.1:0", tls=tls)
    client = Client(cluster)
    client.wait_for_workers(2, timeout=120)
    started = time.perf_counter() - start
    try:
        client.submit(abs, -1, pure=False).result()  # connections made
        times = []
        for i in range(tasks):
            t = time.perf_counter()
            client.submit(abs, -i, pure=False).result()
            times.append(time.perf_counter() - t)
    finally:
        client.close()
        cluster.close()
    return started, 1000 * statistics.median(times)


def search(tls: bool, tmp: Path, i: int) -> float:
    """Wall seconds of one small `ganhpo run` through the CLI."""
    spec = yaml.safe_load((ROOT / "examples" / "hartmann.yaml").read_text())
    spec.update(budget=6, trials=2, epochs=3, max_pending=2, data={"epoch_seconds": 0.0},
                optimizer={"name": "rbf", "n_initial": 4})
    exp = tmp / f"exp{i}.yaml"
    exp.write_text(yaml.safe_dump(spec))
    cmd = [sys.executable, "-m", "orchestrator.cli", "run", str(exp), "--store",
           str(tmp / f"s{i}.zarr"), "--workers", "2", "--quiet", *([] if tls else ["--no-tls"])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    result = {True: {"start": [], "trip": [], "search": []}, False: {"start": [], "trip": [],
                                                                      "search": []}}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for tls in (True, False):
                start, trip = round_trips(tls, args.tasks)
                result[tls]["start"].append(start)
                result[tls]["trip"].append(trip)
                result[tls]["search"].append(search(tls, Path(tmp), 2 * i + tls))
    for tls in (True, False):
        r = {k: statistics.median(v) for k, v in result[tls].items()}
        print(f"{'TLS' if tls else 'TCP'}: cluster start {r['start']:.2f} s, task round trip "
              f"{r['trip']:.2f} ms, small search (CLI) {r['search']:.1f} s  (medians of {args.runs})")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
