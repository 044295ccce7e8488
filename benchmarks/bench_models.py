"""Training samples/s and generation events/s of the event-level GANs at their published sizes.

    python benchmarks/bench_models.py [--steps 30] [--generate 50000] [--backend tensorflow]

Each family is trained on synthetic data for one warm-up epoch (tracing/compilation), then timed
over ``--steps`` batches at the published batch size; generation is timed on ``--generate``
events in inference mode after a warm-up call. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time


def measure(family, params: dict, steps: int, n_generate: int) -> dict:
    data = {"events": 20_000, "validation": 5000, "steps_per_epoch": steps}
    trainer = family.make_trainer(params, data, seed=0)
    trainer.gan.fit(trainer.x, trainer.cond, batch_size=trainer.batch_size, epochs=1,
                    steps_per_epoch=2, verbose=0)                        # warm-up: tracing
    start = time.perf_counter()
    trainer.train_epoch()
    train_s = time.perf_counter() - start
    cond = trainer.val_cond
    if cond is not None:
        cond = cond[[i % len(cond) for i in range(n_generate)]]
    trainer.gan.generate(1000, None if cond is None else cond[:1000])   # warm-up
    start = time.perf_counter()
    trainer.gan.generate(n_generate, cond)
    gen_s = time.perf_counter() - start
    return {"params": trainer.n_params, "batch": trainer.batch_size,
            "train": steps * trainer.batch_size / train_s, "generate": n_generate / gen_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--generate", type=int, default=50_000)
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from models import dimuon, hadronization

    cases = [("hadronization (G 256, D 256)", hadronization, {}),
             ("dimuon MLP (G 960, D 104)", dimuon, {"variant": "mlp"}),
             ("DY-GAN (6 + 9 layers)", dimuon, {"variant": "dygan"})]
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores\n")
    print("| family | parameters (G+D) | batch | training samples/s | generation events/s |")
    print("|---|---:|---:|---:|---:|")
    for name, family, params in cases:
        r = measure(family, params, args.steps, args.generate)
        print(f"| {name} | {r['params']:,} | {r['batch']} | {r['train']:,.0f} | {r['generate']:,.0f} |")


if __name__ == "__main__":
    main()
