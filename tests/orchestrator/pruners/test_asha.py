"""ASHA on whole architectures: rungs, promotion sets, asynchrony, the variability-aware decision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.pruners import ASHAPruner, make_pruner


def arrive(p, arch, values, epoch=0):
    """Report ``values`` (one per trial) at ``epoch``; the decisions returned by the last report."""
    out = []
    for t, v in enumerate(values):
        out = p.report(arch, t, epoch, v)
    return out


def test_rungs_are_min_epochs_times_reduction_powers_as_zero_based_indices():
    assert make_pruner("asha", epochs=27, trials=1).rung_epochs == (0, 2, 8)  # after 1, 3, 9 epochs
    spec = {"rule": "asha", "min_epochs": 2, "reduction": 2}
    assert make_pruner(spec, epochs=20, trials=1).rung_epochs == (1, 3, 7, 15)
    assert make_pruner({"rule": "asha", "min_epochs": 5}, epochs=5, trials=1).rung_epochs == ()


def test_promotion_set_is_the_best_third_of_arrivals_so_far():
    p = ASHAPruner(epochs=9, trials=1, k=0.0, startup=0)
    stopped = {a for a, v in enumerate([5.0, 4.0, 3.0, 2.0, 1.0, 6.0, 1.5, 3.0])
               if arrive(p, a, [v])}
    # 6.0 arrives after 1..5: threshold = 1/3 quantile of [1..6] = 2.667 -> stopped; 3.0 (last)
    # arrives among [1, 1.5, 2, 3, 3, 4, 5, 6]: threshold 2.33 -> stopped; each earlier one was
    # in the best third of those that had arrived before it.
    assert stopped == {5, 7}
    assert p.threshold(0) == pytest.approx(np.quantile([5, 4, 3, 2, 1, 6, 1.5, 3], 1 / 3))
    assert p.pruned == {5: 0, 7: 0}


def test_decided_at_arrival_without_waiting_and_never_revisited():
    p = ASHAPruner(epochs=9, trials=1, k=0.0, startup=0)
    assert arrive(p, "a", [3.0]) == []          # alone at the rung: continues at once
    assert arrive(p, "b", [9.0])[0].arch == "b"  # worse: stopped at its own arrival, no waiting
    for a, v in enumerate([1.0, 1.1, 1.2, 1.3]):
        arrive(p, a, [v])
    # "a" would now be outside the best third, but its promotion stands: it trains on.
    assert p.report("a", 0, 1, 3.0) == [] and not p.is_pruned("a")


def test_judged_only_when_every_trial_reached_the_rung():
    p = ASHAPruner(epochs=9, trials=3, k=0.0, startup=0)
    arrive(p, "good", [1.0, 1.0, 1.0])
    assert p.report("bad", 0, 0, 5.0) == [] and p.report("bad", 1, 0, 5.0) == []
    assert p.report("bad", 0, 1, 5.0) == []  # trials run ahead; still one missing at rung 0
    decision = p.report("bad", 2, 0, 5.0)[0]
    assert (decision.arch, decision.epoch, decision.n_trials, decision.value) == ("bad", 0, 3, 5.0)


def test_failed_trial_leaves_the_decision_to_the_others():
    p = ASHAPruner(epochs=9, trials=3, k=0.0, startup=0)
    arrive(p, "good", [1.0, 1.0, 1.0])
    p.report("bad", 0, 0, 5.0)
    p.report("bad", 1, 0, 5.0)
    decision = p.trial_ended("bad", 2)[0]
    assert (decision.arch, decision.n_trials) == ("bad", 2)
    assert p.report("bad", 0, 1, 5.0) == []  # later reports of a pruned architecture: ignored


def _population(p, n=12, trials=3, sd=0.05, seed=0):
    """Architectures at levels 1.0 .. 2.1 with trial noise ``sd`` reach rung 0."""
    rng = np.random.default_rng(seed)
    for a in range(n):
        arrive(p, a, 1.0 + 0.1 * a + sd * rng.standard_normal(trials))


def test_one_jittery_trial_does_not_kill_a_good_architecture():
    p = ASHAPruner(epochs=9, trials=3)
    _population(p)
    assert arrive(p, "good", [0.9, 0.92, 3.0]) == []  # two trials say best of all, one bad epoch


def test_one_lucky_trial_does_not_save_a_bad_architecture():
    p = ASHAPruner(epochs=9, trials=3)
    _population(p)
    assert arrive(p, "bad", [2.5, 2.45, 0.9])[0].value == pytest.approx(2.45)


def test_noise_floor_keeps_two_agreeing_trials_from_being_over_confident():
    # Just outside the threshold, trials agreeing exactly: the rung's typical spread protects it.
    p = ASHAPruner(epochs=9, trials=2)
    _population(p, trials=2, sd=0.3)
    threshold = p.threshold(0)
    assert arrive(p, "close", [threshold + 0.05, threshold + 0.05]) == []
    plain = ASHAPruner(epochs=9, trials=2, k=0.0)
    _population(plain, trials=2, sd=0.3)
    assert arrive(plain, "close", [threshold + 0.05, threshold + 0.05])[0].arch == "close"


def test_best_so_far_counts_and_non_finite_values_are_ignored():
    p = ASHAPruner(epochs=9, trials=1, k=0.0, startup=0)
    arrive(p, "a", [1.0])
    # epochs 0..2 reported 0.8 then NaN, inf: best-so-far at rung 2 is 0.8, the best there.
    p.report("a", 0, 1, 1.0)
    p.report("a", 0, 2, 1.0)
    p.report("b", 0, 0, 0.8)
    p.report("b", 0, 1, math.nan)
    assert p.report("b", 0, 2, math.inf) == []
    assert p.threshold(2) == pytest.approx(0.8 + (1.0 - 0.8) / 3)


def test_no_finite_value_at_a_rung_means_no_decision():
    p = ASHAPruner(epochs=9, trials=2, k=0.0, startup=0)
    arrive(p, "a", [1.0, 1.0])
    assert arrive(p, "nan", [math.nan, math.nan]) == []
    assert len(p._rungs[0]) == 1


def test_skipped_rung_epochs_get_the_best_before_the_next_report():
    p = ASHAPruner(epochs=9, trials=1, k=0.0, startup=0)
    arrive(p, "a", [1.0])
    assert p.report("b", 0, 0, 2.0)[0].threshold == pytest.approx(1.0 + 1.0 / 3)
    p2 = ASHAPruner(epochs=9, trials=1, k=0.0, startup=0)
    arrive(p2, "a", [1.0], epoch=0)
    # "c" never reports epoch 0; its report at epoch 1 (0.5) comes after the rung: rung 0 has
    # no finite value for it (nothing before epoch 1), so no decision; rung 2 sees 0.5.
    assert p2.report("c", 0, 1, 0.5) == []
    assert len(p2._rungs[0]) == 1


def test_selection_window_rungs_inside_use_only_eligible_epochs():
    # 9 epochs, window 4: epochs 5..8 eligible; rung 8 is not a rung (last), rung 2 is before.
    p = make_pruner({"rule": "asha", "reduction": 2, "k": 0.0, "startup": 0}, epochs=9, trials=1,
                    window=4)
    assert p.rung_epochs == (0, 1, 3, 7) and p.window_start == 5
    for e in range(8):
        assert p.report("steady", 0, e, 0.5) == []  # alone at every rung
    decisions = [p.report("early", 0, e, v) for e, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.9, 0.9])]
    # great before the window (promoted at rungs 0, 1, 3), poor inside it: at rung 7 it counts
    # 0.9 (epochs 5..7), not its overall best 0.1.
    assert decisions[:7] == [[]] * 7
    assert (decisions[7][0].epoch, decisions[7][0].value) == (7, 0.9)
