"""Trial functions with the trial contract, for driver tests (imported by path on the workers)."""

import math
import os
import signal
import time

from orchestrator.objectives import noisy_hartmann


def flaky(params, *, model, data, epochs, seed, report=None):
    """Raise for x0 > 0.7, return a NaN metric for x1 > 0.7, else the Hartmann objective."""
    if params["x0"] > 0.7:
        raise RuntimeError(f"boom at x0={params['x0']}")
    if params["x1"] > 0.7:
        return {"metric": math.nan, "best_epoch": 0, "n_params": 6, "seconds": 0.0}
    return noisy_hartmann(params, data=data, epochs=epochs, seed=seed, report=report)


def pid_then_sleep(params, *, model, data, epochs, seed, report=None):
    """Write this worker's pid to data['pid_dir'] at start, then run a slow objective."""
    path = os.path.join(data["pid_dir"], f"{os.getpid()}-{seed}")
    with open(path + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(path + ".tmp", path)  # readers never see an empty file
    return noisy_hartmann(params, data={"epoch_seconds": data["epoch_seconds"]}, epochs=epochs,
                          seed=seed, report=report)


def slow_by_x0(params, *, model, data, epochs, seed, report=None):
    """Duration depends on x0: 10x longer for x0 > 0.5 (uneven trial durations)."""
    time.sleep(data["seconds"] * (10 if params["x0"] > 0.5 else 1))
    return noisy_hartmann(params, data={}, epochs=epochs, seed=seed, report=report)


def planned(params, *, model, data, epochs, seed, report=None):
    """Act by this trial's seed, per data['plan'] ({str(seed): nan|oom|kill}); else Hartmann."""
    action = data.get("plan", {}).get(str(seed))
    if action == "nan":
        if report is not None:
            report(0, {"metric": math.nan})
        return {"metric": math.nan, "best_epoch": 0}
    if action == "oom":
        raise RuntimeError("RESOURCE_EXHAUSTED: OOM when allocating tensor with shape [4096, 4096]")
    if action == "kill":  # the worker process dies mid-trial, once earlier results were fetched
        time.sleep(1.0)  # (results still held on a dying worker would be lost with it)
        os.kill(os.getpid(), signal.SIGKILL)
    return noisy_hartmann(params, data={}, epochs=epochs, seed=seed, report=report)


def diverges(params, *, model, data, epochs, seed, report=None):
    """Report data['curve'] epoch by epoch (None = NaN), then return a NaN metric."""
    for epoch, value in enumerate(data["curve"]):
        report(epoch, {"metric": math.nan if value is None else value})
    return {"metric": math.nan, "n_params": 1}


def always_fails(params, *, model, data, epochs, seed, report=None):
    """Every trial raises the same error (a broken trial function)."""
    raise ValueError("no such column 'energy' in the input file")

def always_raises(params, *, model, data, epochs, seed, report=None):
    """A trial with a bug: raises the same error every time."""
    raise RuntimeError("the trial always fails (simulated bug)")


def needs_deterministic(params, *, model, data, epochs, seed, deterministic, report=None):
    """Fails unless the driver passed ``deterministic=True`` (the experiment's field)."""
    if deterministic is not True:
        raise RuntimeError(f"deterministic={deterministic!r}")
    return noisy_hartmann(params, data=data, epochs=epochs, seed=seed, report=report)


def returns(params, *, model, data, epochs, seed, report=None):
    """Return data['value'] as it is (for the metric check)."""
    return data["value"]
