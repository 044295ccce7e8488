"""`ganhpo report -o DIR`: every figure on the page, each a real image, and the JSON summary."""

import html
import json
from html.parser import HTMLParser

import matplotlib.image
import numpy as np
import pytest

from orchestrator.analysis import figures, pareto
from orchestrator.cli import main
from orchestrator.store import FAILED, ResultsStore, read_store
from tests.orchestrator.analysis_stores import SPACE, make_store

FIGURES = {"convergence", "sensitivity", "mean_std", "marginals", "pareto"}


class Images(HTMLParser):
    """Collects <img src> and <a href> of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])


def assert_real_figures(outdir) -> Images:
    page = Images()
    page.feed((outdir / "index.html").read_text())
    assert {src.removesuffix(".png") for src in page.images} == FIGURES
    for name in FIGURES:
        png, pdf = outdir / f"{name}.png", outdir / f"{name}.pdf"
        assert png.stat().st_size > 5_000, name
        pixels = matplotlib.image.imread(png)[..., :3]
        assert pixels.shape[0] > 300 and pixels.shape[1] > 300, name
        assert pixels.std() > 0.05, f"{name}.png is nearly uniform"  # drawn on, not blank
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1_000, name
        assert f"{name}.pdf" in page.links
    return page


@pytest.mark.slow
def test_report_page_has_every_figure_and_the_summary(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    make_store(store, n=40, seed=2, fail_every=7)
    out = tmp_path / "report"
    assert main(["report", str(store), "-o", str(out), "--best", "pareto-knee"]) == 0
    printed = capsys.readouterr().out
    assert "top 10 of 40 by mean metric over trials (lower is better)" in printed
    assert f"report written to {out / 'index.html'}" in printed
    assert_real_figures(out)
    summary = json.loads((out / "summary.json").read_text())
    snap = read_store(store)
    assert summary["lower_is_better"] and summary["best"]["rule"] == "pareto-knee"
    assert summary["best"]["arch"] in {r["arch"] for r in summary["pareto"]["front"]}
    assert summary["pareto"] == json.loads(json.dumps(pareto(snap)))
    assert len(summary["top"]) == 10 and summary["top"][0]["mean"] <= summary["top"][1]["mean"]
    assert summary["failures"]["n_failed"] == int(np.sum(snap.status == FAILED)) == 6
    assert summary["failures"]["common"][0]["error"].startswith("RuntimeError: diverged")
    assert summary["importance"]["ranking"][0] == "lr"
    assert set(summary["figures"]) == FIGURES
    page = (out / "index.html").read_text()
    assert "lower is better" in page and "RuntimeError: diverged at epoch" in page
    assert "Data: <code>none (the trial generates" in page and html.escape(summary["metric"]) in page
    caveat = "40 architectures for 6 hyperparameters: fewer than 10 per hyperparameter"
    assert summary["importance"]["caveats"][0].startswith(caveat)
    assert f"<b>Caveat:</b> {caveat}" in page and f"CAVEAT: {caveat}" in printed
    assert " ± " in page  # every index with its interval
    drawn = figures.importance(summary["importance"])
    assert any(caveat in t.get_text() for t in drawn.texts)


@pytest.mark.slow
@pytest.mark.parametrize("n, failing", [(5, False), (2, True), (0, False)])
def test_few_or_no_finished_runs_still_give_a_page_and_say_why(tmp_path, capsys, n, failing):
    store = tmp_path / "s.zarr"
    if n:
        make_store(store, n=n, fail_every=1 if failing else 0, trials=1 if failing else 2)
    else:
        exp = {"name": "empty", "space": SPACE, "trials": 2, "epochs": 4, "budget": 3}
        ResultsStore.create(store, exp, list(SPACE), 2, 4).flush()
    assert main(["report", str(store), "-o", str(tmp_path / "r")]) == 0
    assert_real_figures(tmp_path / "r")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert "skipped" in summary["importance"]
    assert summary["importance"]["skipped"] in (tmp_path / "r" / "index.html").read_text()
    assert (summary["best"] is None) == (failing or n == 0)


def test_report_options_are_checked_with_one_line(tmp_path, capsys):
    make_store(tmp_path / "s.zarr", n=5)
    for args, message in ((["--colour-by", "nope"], "--colour-by 'nope' is not a hyperparameter"),
                          (["--best", "median"], "best rule 'median' is not known")):
        assert main(["report", str(tmp_path / "s.zarr"), "-o", str(tmp_path / "r"), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err
