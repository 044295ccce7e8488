"""Report: the test metric beside the validation metric; rankings within stage (issue 16)."""

import json

import numpy as np

from orchestrator.analysis import figures, pareto, report, top_architectures
from orchestrator.analysis.ensemble import choose_architecture
from orchestrator.analysis.html import _page, summarise
from orchestrator.analysis.summary import stage_tops
from orchestrator.space import SearchSpace
from orchestrator.store import DONE, ResultsStore, read_store
from tests.orchestrator.analysis_stores import make_store


def _with_test(path, n=6, trials=3):
    """A store whose every architecture has a test metric, but arch 1 trial 0 has none (NaN)."""
    store = make_store(path, n=n, trials=trials, seed=3)
    rng = np.random.default_rng(1)
    test = rng.random((n, trials)) + 1.0
    test[1, 0] = np.nan
    for a in range(n):
        store.set("test_metric", a, test[a])
    store.flush()
    return test


def test_test_column_is_the_mean_and_std_of_the_stored_test_metric(tmp_path):
    test = _with_test(tmp_path / "s.zarr")
    snap = read_store(tmp_path / "s.zarr")
    rows = top_architectures(snap, 6)
    assert [r["arch"] for r in rows] == snap.ranked()[:6].tolist()
    for r in rows:
        values = test[r["arch"]][np.isfinite(test[r["arch"]])]
        assert r["n_test_trials"] == len(values)
        assert np.isclose(r["test_mean"], values.mean(), rtol=1e-12)
        assert np.isclose(r["test_std"], values.std(ddof=1), rtol=1e-12)
    assert {r["arch"]: r["n_test_trials"] for r in rows}[1] == 2
    summary = json.loads(json.dumps(summarise(str(tmp_path / "s.zarr"))))
    assert summary["top"][0]["test_mean"] == rows[0]["test_mean"]
    assert summary["best"]["arch"] == rows[0]["arch"]
    assert np.isclose(summary["best"]["test_mean"], rows[0]["test_mean"])
    text = report(str(tmp_path / "s.zarr"), importance={})
    best = rows[0]
    assert f"{best['mean']:.5g} +- {best['std']:.2g}" in text
    assert f"{best['test_mean']:.5g} +- {best['test_std']:.2g}" in text
    assert "took part in neither training nor selection" in text
    assert "chose each trial's best epoch" in text
    assert "ranked within stage" not in text and "top 6 of 6 by mean metric" in text


def test_no_test_metric_shows_a_dash_and_null(tmp_path):
    make_store(tmp_path / "s.zarr", n=4, trials=2)
    rows = top_architectures(read_store(tmp_path / "s.zarr"), 4)
    assert all(np.isnan(r["test_mean"]) and r["n_test_trials"] == 0 for r in rows)
    summary = summarise(str(tmp_path / "s.zarr"))
    assert all(r["test_mean"] is None for r in summary["top"])
    text = report(str(tmp_path / "s.zarr"), importance={})
    row = next(ln for ln in text.splitlines() if ln.strip().startswith(f"#{rows[0]['arch']} "))
    assert f"{rows[0]['mean']:.5g} +- {rows[0]['std']:.2g}" in row and " - " in row


def _staged(path):
    """Broad (2 epochs) archs 0-3 and focus (5 epochs) archs 4-6; broad arch 2 beats every focus."""
    means = [0.5, 0.4, 0.1, 0.6, 0.3, 0.2, 0.35]
    space = {"x": {"lower": 0, "upper": 10, "scale": 1}}
    exp = {"name": "staged", "space": space, "trials": 2, "epochs": 5, "budget": 7,
           "stages": [{"name": "broad", "epochs": 2, "budget": 4},
                      {"name": "focus", "epochs": 5, "budget": 3}]}
    store = ResultsStore.create(path, exp, ["x"], trials=2, epochs=5)
    for a, m in enumerate(means):
        store.add_architecture([a], stage="broad" if a < 4 else "focus")
        store.set("metric", a, [m - 0.01, m + 0.01])
        store.set("test_metric", a, [m + 0.05, m + 0.07])
        store.set("status", a, [DONE, DONE])
    store.flush()


def test_a_focus_stage_after_a_broad_stage_is_ranked_within_its_stage(tmp_path):
    path = tmp_path / "st.zarr"
    _staged(path)
    snap = read_store(path)
    assert snap.stage_names().tolist() == ["broad"] * 4 + ["focus"] * 3
    assert snap.ranked()[0] == 2  # one ranking over both stages is unchanged
    tops = stage_tops(snap)
    assert [(t["stage"], t["epochs"], t["n_ranked"]) for t in tops] == [("broad", 2, 4), ("focus", 5, 3)]
    assert [r["arch"] for r in tops[0]["top"]] == [2, 1, 0, 3]
    assert [r["arch"] for r in tops[1]["top"]] == [5, 4, 6]
    summary = summarise(str(path))
    assert summary["best"]["arch"] == 5 and summary["best"]["stage"] == "focus"
    assert np.isclose(summary["best"]["test_mean"], 0.26)
    assert [r["arch"] for r in summary["top"]] == [5, 4, 6]
    text = report(str(path), importance={})
    assert "ranked within stage; broad: 2 epochs, focus: 5 epochs" in text
    assert "stage broad (2 epochs): top 4 of 4" in text and "stage focus (5 epochs): top 3 of 3" in text
    assert "best of the final stage (focus, 5 epochs): #5" in text
    broad = text.index("stage broad"), text.index("stage focus")
    assert broad[0] < text.index("#2 ") < broad[1]  # broad's best listed, apart, in its own table
    page = _page(summary, {}, SearchSpace(snap.experiment["space"]).format_point)
    assert "Ranked within stage; broad: 2 epochs, focus: 5 epochs; the best is the best of the " \
        "final stage (focus)" in page
    assert "Top 4 of 4, stage broad (2 epochs)" in page and "Top 3 of 3, stage focus (5 epochs)" in page
    assert "Best architecture of the final stage (focus)" in page and "<th>test</th>" in page
    assert "0.26 ± 0.014" in page  # best #5: test metric 0.25, 0.27
    assert choose_architecture(snap) == 5  # the ensemble retrains the final stage's best


def test_pareto_fronts_and_convergence_are_per_stage(tmp_path):
    """Broad #2 (0.1) dominates every focus architecture (same std): pooled, the front would be
    {2}; within stage it is {2} for broad and {5} for focus. The figures draw a panel, a best-so-far
    line and a legend entry per stage."""
    path = tmp_path / "st.zarr"
    _staged(path)
    snap = read_store(path)
    out = pareto(snap)
    assert out["within_stage"] and out["stages"] == ["broad", "focus"]
    assert [(r["arch"], r["stage"]) for r in out["front"]] == [(2, "broad"), (5, "focus")]
    summary = summarise(str(path))
    fig = figures.pareto_plot(snap, summary["best"])
    axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_title() for ax in axes] == ["broad stage (2 epochs): its own front",
                                               "focus stage (5 epochs): its own front"]
    labels = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in axes]
    assert all("Pareto front over (mean, std): 1" in ls for ls in labels)
    assert "best (mean): #5" in labels[1] and not any(t.startswith("best") for t in labels[0])
    fig = figures.convergence(snap)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"broad stage (2 epochs): mean", "focus stage (5 epochs): mean",
            "broad: best so far in the stage", "focus: best so far in the stage"} <= set(legend)
    best = {ln.get_label(): np.asarray(ln.get_ydata()) for ln in ax.get_lines()}
    np.testing.assert_allclose(best["focus: best so far in the stage"], [0.3, 0.2, 0.2])
    np.testing.assert_allclose(best["broad: best so far in the stage"], [0.5, 0.4, 0.1, 0.1])
    ax = figures.mean_std(snap).axes[0]
    assert {"broad stage (2 epochs)", "focus stage (5 epochs)"} <= \
        {t.get_text() for t in ax.get_legend().get_texts()}  # a marker per stage
    page = _page({**summary, "figures": {}}, {}, SearchSpace(snap.experiment["space"]).format_point)
    assert "Pareto front over (mean, std), within each stage</h2>" in page
    assert "<th>stage</th>" in page


def test_the_report_names_synthetic_data_by_its_settings():
    from orchestrator.analysis.summary import data_file
    assert data_file({"data": {"events": 20000, "validation": 2000, "test": 2000}}) == \
        "no file: the trial generates or loads its own data (data: {events: 20000, " \
        "validation: 2000, test: 2000})"
    assert data_file({"data": {"path": "z.root", "tree": "Events"}}) == "z.root (tree Events)"


def test_the_monitor_table_ranks_within_stage_latest_first(tmp_path):
    from orchestrator.monitor.tables import within_stage
    _staged(tmp_path / "st.zarr")
    idx, rank = within_stage(read_store(tmp_path / "st.zarr"))
    assert idx.tolist() == [5, 4, 6, 2, 1, 0, 3] and rank.tolist() == [1, 2, 3, 1, 2, 3, 4]
