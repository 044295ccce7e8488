"""rbf at cluster scale: a large ask picks several points per candidate set; small asks as before."""

from __future__ import annotations

import numpy as np

from orchestrator.optimizers import make_optimizer
from orchestrator.optimizers import rbf as rbf_module
from orchestrator.space import Lattice, SearchSpace

SPACE = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(6)})


def _value(point: dict) -> float:
    return float(sum((point[f"x{i}"] - 0.3) ** 2 for i in range(6)))


def _told(seed: int = 0, told: int = 30):  # too few failures in a row for a restart
    opt = make_optimizer("rbf", SPACE, seed=seed, budget=2000)
    points = opt.ask(told)
    opt.tell(points, [_value(p) for p in points], [0.01] * told)
    return opt


def _one_per_set(opt, n: int) -> list[np.ndarray]:
    """The per-point loop of every ask up to POOL_FROM (a fresh candidate set for each pick)."""
    model, best, near = opt._fit(), opt._centre(), opt._nearest_known()
    chosen, taken = [], set()
    weights = opt.options["weights"]
    while len(chosen) < n:
        cands = opt._fresh(opt._candidates(best), taken)
        w = float(weights[opt._cycle % len(weights)])
        opt._cycle += 1
        merit = w * rbf_module._unit(model(cands)) + (1 - w) * (1 - rbf_module._unit(near.distance(cands)))
        pick = cands[int(np.argmin(merit))]
        chosen.append(pick)
        near.add(pick)
        taken.add(opt._codec.keys(pick)[0])
    return chosen


def test_asks_up_to_pool_from_pick_each_point_from_its_own_candidate_set():
    for n in (1, 8, rbf_module.POOL_FROM):
        opt, reference = _told(), _told()
        got = opt._propose(n)
        want = _one_per_set(reference, n)
        np.testing.assert_array_equal(np.array(got), np.array(want))


def test_a_large_ask_evaluates_the_surrogate_once_per_set_of_picks():
    opt = _told()
    fit, calls = opt._fit, []

    def counting_fit():
        model = fit()
        return lambda u: calls.append(len(u)) or model(u)

    opt._fit = counting_fit
    before = {SPACE.key(p) for p in opt.pending}
    points = opt.ask(256)
    keys = {SPACE.key(p) for p in points}
    assert len(keys) == 256 and not keys & before  # distinct, none pending before
    assert len(calls) <= 256 // rbf_module.PICKS_PER_SET + 2, len(calls)
