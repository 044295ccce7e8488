"""Cost and effect of ``deterministic: true`` on the quickstart-sized trial (dimuon MLP GAN).

    python benchmarks/determinism.py [--repeats 2]

Each mode runs in its own process (op determinism is process-wide), the same trial (same
parameters, same seed) ``repeats`` times; prints the metrics and the median seconds per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """
import json, sys, time
from models.trial import run_trial
spec, mode, repeats = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
params = {"variant": "mlp", "noise_dim": 8, "batch_size": 64, "lr_gen": 5e-4, "lr_disc": 5e-4,
          "gen_layersize": 64, "disc_layersize": 64}
out = []
for _ in range(repeats):
    t0 = time.perf_counter()
    r = run_trial(params, model=spec["model"], data=spec["data"], epochs=spec["epochs"], seed=7,
                  deterministic=(mode == "deterministic"))
    out.append({"metric": r["metric"], "seconds": time.perf_counter() - t0})
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    spec = yaml.safe_load(open(os.path.join(ROOT, "examples", "quickstart.yaml")))
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_NUM_INTRAOP_THREADS": str(os.cpu_count() or 1), "TF_NUM_INTEROP_THREADS": "1"}
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    runs: dict[str, list[dict]] = {"default": [], "deterministic": []}
    for _ in range(2):  # two processes per mode, interleaved so both see the same machine load
        for mode in runs:
            proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec), mode,
                                   str(args.repeats)], env=env, capture_output=True, text=True,
                                  check=True, cwd=ROOT)
            runs[mode] += json.loads(proc.stdout.strip().splitlines()[-1])
    for mode, done in runs.items():
        metrics = [r["metric"] for r in done]
        secs = statistics.median(r["seconds"] for r in done)
        print(f"{mode:14s} identical={len(set(metrics)) == 1} median {secs:.2f} s/trial "
              f"metrics {[f'{m:.6g}' for m in metrics]}")
    print(f"# load at the end {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
