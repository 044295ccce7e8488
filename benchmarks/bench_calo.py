"""3DGAN throughput at the published size (51x51x25) on this machine: training and generation.

Compares with the 3DGAN paper's inference times, 13.4 ms/shower (Xeon 8180) and 3.5 ms/shower
(GTX 1080). Training showers/s counts real showers consumed per second by the full published
step (fakes for the same conditions, D on reals and fakes, G twice).

    python benchmarks/bench_calo.py [--train-batch 16] [--gen-batch 32] [--steps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PAPER_MS = {"xeon_8180": 13.4, "gtx_1080": 3.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--gen-batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2, help="timed steps/batches after one warm-up")
    args = ap.parse_args()

    import keras
    import numpy as np

    from models import calo3d
    from models.data.showers import generate_showers, sample_conditions

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = args.train_batch
    energy, theta = sample_conditions(n, rng)
    raw = generate_showers(energy, theta, seed=1)
    x = np.power(raw, calo3d.POWER)[..., None].astype("float32")
    y = np.stack([energy / 100, theta, raw.reshape(n, -1).sum(1)], 1).astype("float32")
    gen, disc = calo3d.build_generator(), calo3d.build_discriminator()
    gan = calo3d.Calo3DGAN(gen, disc, seed=0)
    gan.compile(g_optimizer=keras.optimizers.RMSprop(1e-3), d_optimizer=keras.optimizers.RMSprop(1e-3))

    gan.train_on_batch(x, y)                                   # warm-up: tracing
    start = time.perf_counter()
    for _ in range(args.steps):
        gan.train_on_batch(x, y)
    train_s = (time.perf_counter() - start) / (args.steps * n)

    cond = y[:1, :2].repeat(args.gen_batch, 0)
    gan.generate(args.gen_batch, cond, batch_size=args.gen_batch)  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        gan.generate(args.gen_batch, cond, batch_size=args.gen_batch)
    gen_s = (time.perf_counter() - start) / (args.steps * args.gen_batch)

    print(json.dumps({
        "backend": keras.backend.backend(), "cpus": os.cpu_count(), "machine": platform.processor()
        or platform.machine(), "train_batch": n, "gen_batch": args.gen_batch, "steps": args.steps,
        "train_showers_per_s": round(1 / train_s, 3), "train_ms_per_shower": round(1e3 * train_s, 1),
        "gen_showers_per_s": round(1 / gen_s, 2), "gen_ms_per_shower": round(1e3 * gen_s, 1),
        "paper_gen_ms_per_shower": PAPER_MS,
    }, indent=1))


if __name__ == "__main__":
    main()
