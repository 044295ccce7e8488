"""Event-data loading: ROOT (uproot, jagged NanoAOD-style muons) against .npy and text.

Writes N synthetic dimuon events in each format with ``make_dataset`` and times
``load_dimuon`` (best of 3, the first read warms the page cache), plus the file sizes.

    python benchmarks/bench_data_io.py [--events 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()

    from models.data import make_dataset
    from models.data.dimuon import load_dimuon

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".npy", ".root", ".txt"):
            path = Path(tmp) / f"d{suffix}"
            t0 = time.perf_counter()
            make_dataset("dimuon", path, args.events, seed=0, progress=False)
            write = time.perf_counter() - t0
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                table = load_dimuon(path)
                times.append(time.perf_counter() - t0)
            assert table.shape == (args.events, 6)
            rows[suffix] = {"generate_and_write_s": round(write, 3), "load_s": round(min(times), 4),
                            "MB": round(path.stat().st_size / 1e6, 2)}
    base = rows[".npy"]["load_s"]
    for row in rows.values():
        row["load_vs_npy"] = round(row["load_s"] / base, 1)
    print(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      "events": args.events, "formats": rows}, indent=1))


if __name__ == "__main__":
    main()
