"""The median rule, restore on resume (same decisions), the told value for pruned architectures."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.pruners import MedianPruner, NoPruner, make_pruner, pruned_value


def test_median_rule_stops_below_the_others_median_after_warm_up_and_startup():
    p = MedianPruner(epochs=6, trials=1, min_epochs=2, k=0.0, startup=3)
    assert p.rung_epochs == (1, 2, 3, 4)  # from 2 epochs on, never at the last
    for a, v in enumerate([1.0, 2.0, 3.0]):
        assert [p.report(a, 0, e, v) for e in range(2)] == [[], []]  # fewer than 3 others
    assert p.report("worse", 0, 0, 9.0) == []  # epoch 0: warm-up, no rung
    d = p.report("worse", 0, 1, 2.5)[0]  # best-so-far 2.5 > median(1, 2, 3) of the others
    assert (d.epoch, d.value, d.threshold) == (1, 2.5, 2.0)
    assert p.report("better", 0, 0, 1.9) == [] and p.report("better", 0, 1, 5.0) == []


def test_median_rule_is_variability_aware_too():
    p = MedianPruner(epochs=4, trials=3)
    rng = np.random.default_rng(1)
    for a in range(8):
        for t, v in enumerate(1.0 + 0.1 * a + 0.05 * rng.standard_normal(3)):
            p.report(a, t, 0, v)
    assert [p.report("jitter", t, 0, v) for t, v in enumerate([1.0, 1.02, 4.0])][-1] == []
    assert [p.report("bad", t, 0, v) for t, v in enumerate([2.0, 2.05, 1.0])][-1][0].arch == "bad"


def _stream(seed, n_arch=30, trials=3, epochs=9):
    """Reports of ``n_arch`` architectures, interleaved as trials on 6 slots would send them."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0, 2, n_arch)
    curves = level[:, None, None] + 0.3 * rng.standard_normal((n_arch, trials, epochs)) \
        + np.exp(-np.arange(epochs) / 3)[None, None, :]
    events = [(a, t, e) for a in range(n_arch) for t in range(trials) for e in range(epochs)]
    key = {(a, t): a + 0.4 * t + rng.uniform(0, 2) for a in range(n_arch) for t in range(trials)}
    events.sort(key=lambda x: key[x[0], x[1]] + x[2] * 1.5)
    return curves, events


def _feed(p, curves, events, seen=None, done=None):
    out = []
    for a, t, e in events:
        for d in p.report(a, t, e, curves[a, t, e]):
            out.append((d.arch, d.epoch))
        if seen is not None:
            seen.setdefault(a, np.full(curves.shape[1:], np.nan))[t, e] = curves[a, t, e]
        if done is not None and e == curves.shape[2] - 1:
            done[a] = done.get(a, 0) + 1
            if done[a] == curves.shape[1]:
                p.finished(a)
    return out


@pytest.mark.parametrize("rule", ["asha", "median"])
def test_restore_gives_the_same_decisions_as_the_uninterrupted_search(rule):
    curves, events = _stream(3)
    cut = len(events) // 2
    whole = make_pruner(rule, epochs=9, trials=3)
    first, seen = _feed(whole, curves, events[:cut], seen={}), {}
    _feed(make_pruner(rule, 9, 3), curves, events[:cut], seen=seen)
    pruned = {a: e for a, e in first}
    # what the store holds: reported epochs, nothing after a pruning decision
    stored = {a: np.where(np.arange(9) <= pruned.get(a, 8), c, np.nan) for a, c in seen.items()}
    resumed = make_pruner(rule, epochs=9, trials=3)
    resumed.restore(stored, pruned)
    assert resumed.pruned == whole.pruned
    later_whole = _feed(whole, curves, events[cut:])
    later_resumed = _feed(resumed, curves, events[cut:])
    assert later_resumed == later_whole and len(later_whole) > 0 and len(first) > 0


def test_restore_rejects_curves_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"restore: curves\[0\] has shape \(2, 9\); expected"):
        make_pruner("asha", 9, 3).restore({0: np.zeros((2, 9))}, {})


def test_none_never_stops_and_asha_saves_epochs_on_a_clear_problem():
    curves, events = _stream(5)
    assert _feed(NoPruner(epochs=9, trials=3), curves, events) == []
    asha = make_pruner("asha", epochs=9, trials=3)
    decisions = _feed(asha, curves, events)
    assert 0 < len(decisions) < 30
    best = int(np.argmin(curves.min(axis=2).mean(axis=1)))
    assert not asha.is_pruned(best)


@pytest.mark.parametrize(("spec", "message"), [
    ("foo", "pruning.rule: unknown rule 'foo'; choose one of: asha, median, none"),
    ({"min_epochs": 1}, "pruning: the mapping {'min_epochs': 1} has no 'rule'"),
    ({"rule": "asha", "reduction": 1}, r"pruning.reduction: `reduction >= 1.5` must hold, got 1"),
    ({"rule": "asha", "min_epochs": 0}, r"pruning.min_epochs: `min_epochs >= 1` \(an int\) must hold, got 0"),
    ({"rule": "median", "reduction": 3}, "pruning: unknown option 'reduction' for rule 'median'"),
    ({"rule": "asha", "k": -1}, r"pruning.k: `0 <= k < 10` must hold, got -1"),
    (3, "pruning: 3 is not a rule name or a mapping"),
])
def test_bad_specs_fail_in_one_line_naming_field_value_and_fix(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        make_pruner(spec, epochs=10, trials=3)
    assert "\n" not in str(err.value)


def test_bad_reports_name_the_index():
    p = make_pruner("asha", epochs=10, trials=3)
    with pytest.raises(ValueError, match=r"pruner.report: epoch=10 must be an int in \[0, 10\)"):
        p.report(0, 0, 10, 1.0)
    with pytest.raises(ValueError, match=r"pruning: epochs=0 must be an int >= 1"):
        make_pruner("none", epochs=0, trials=3)


def test_pruned_value_is_the_worse_of_gap_penalty_and_full_length_quantile():
    assert pruned_value(2.0, 1.5) == 2.5  # no full-length results yet: rung value + gap
    assert pruned_value(2.0, 1.5, [0.1, 0.2, 3.0], quantile=0.5) == 2.5
    assert pruned_value(2.0, 1.5, [1.0, 2.8, 3.0], quantile=0.5) == 2.8
    assert pruned_value(2.0, float("inf"), []) == 2.0
    with pytest.raises(ValueError, match="pruned_value: rung_value=nan must be finite"):
        pruned_value(float("nan"), 1.0)


def test_a_rerun_trial_starts_its_undecided_rungs_over():
    p = make_pruner({"rule": "asha", "k": 0.0, "startup": 0}, epochs=9, trials=2)
    for a, v in enumerate([1.0, 1.1, 1.2]):
        for t in range(2):
            p.report(a, t, 0, v)
    p.report("x", 0, 0, 0.5)
    p.report("x", 1, 0, 9.0)  # rung 0 decided on [0.5, 9.0]: median 4.75 -> stopped
    assert p.is_pruned("x")
    p.report("y", 0, 0, 0.1)  # trial 0 of y reports a good epoch 0, then is rerun (resume)
    p.report("y", 0, 0, 5.0)
    # judged on the rerun's 5.0 (median of [5.0, 0.5] = 2.75), not on best-so-far 0.1 (0.3)
    assert p.report("y", 1, 0, 0.5)[0].value == 2.75


def test_restore_keeps_ended_trials_out_of_the_judgement():
    p = make_pruner({"rule": "asha", "k": 0.0, "startup": 0}, epochs=9, trials=3)
    good = np.full((3, 9), np.nan)
    good[:, 0] = 1.0
    bad = np.full((3, 9), np.nan)
    bad[:2, 0] = 5.0  # trial 2 failed before reporting anything
    p.restore({"good": good, "bad": bad}, pruned={}, ended={"bad": [2]})
    assert len(p._rungs[0]) == 2 and not p.is_pruned("bad")  # restore never decides
    assert p.report("late", 0, 0, 6.0) == [] and p.report("late", 1, 0, 6.0) == []
    assert p.trial_ended("late", 2)[0].arch == "late"
