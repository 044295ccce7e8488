"""The monitor in a real headless Chromium over a real search on a local Dask cluster."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.objectives import noisy_hartmann

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

EXPERIMENT = {
    "name": "browser-test", "trial": "tests.orchestrator.test_monitor_browser:flaky_hartmann",
    "space": {f"x{i}": {"type": "real", "low": 0.0, "high": 1.0, "log": False} for i in range(6)},
    "epochs": 8, "trials": 2, "budget": 200, "max_pending": 2, "seed": 3,
    "optimizer": {"name": "rbf", "n_initial": 4}, "data": {"epoch_seconds": 0.08},
}

RUN_SEARCH = """
import json, sys
from distributed import Client, LocalCluster
from orchestrator.search import run
from orchestrator.experiment import Experiment
from orchestrator.monitor import add_to_dask_dashboard
exp = Experiment.from_dict(json.loads(sys.argv[1]))
add_to_dask_dashboard(sys.argv[2])  # the /ganhpo page of the scheduler started below
with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=":0") as cluster, Client(cluster) as client:
    print("dask dashboard:", client.dashboard_link, flush=True)
    print(run(exp, client=client, store=sys.argv[2]).summary(), flush=True)
"""

# Per plot: its title and the rows in its glyphs' data sources, whether its view is laid out.
PLOTS_JS = """() => {
  const doc = Bokeh.documents[0];
  const out = [];
  for (const m of doc.all_models) {
    if (m.constructor.__name__ !== "Figure") continue;
    let rows = 0;
    for (const r of m.renderers) if (r.data_source) rows += r.data_source.get_length() ?? 0;
    const view = Bokeh.index.query_one((v) => v.model === m);
    const box = view ? view.el.getBoundingClientRect() : null;
    out.push({title: m.title ? m.title.text : "", rows,
              shown: !!(box && box.width > 0 && box.height > 0)});
  }
  return out;
}"""
DONE_JS = """() => {
  for (const m of Bokeh.documents[0].all_models)
    if (m.constructor.__name__ === "Div" && m.text.includes("architectures <b>"))
      return parseInt(m.text.match(/architectures <b>(\\d+)<\\/b> done/)[1]);
  return -1;
}"""


def flaky_hartmann(params: dict, **kwargs) -> dict:
    """noisy_hartmann that fails one trial in seven, so the page has failures to show."""
    if kwargs.get("seed", 0) % 7 == 0:
        raise RuntimeError("simulated out-of-memory on the GPU")
    return noisy_hartmann(params, **kwargs)


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _plots_with_data(page) -> list[dict] | None:
    plots = page.evaluate(PLOTS_JS)
    return plots if plots and all(p["rows"] > 0 and p["shown"] for p in plots) else None


def _open(context, url: str, errors: list[str]):
    """A new tab on ``url`` once its Bokeh document exists (its plots fill later)."""
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(f"{url}: {err}"))
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    return page


def _two_tabs_and_a_reload(context, url: str, errors: list[str]) -> None:
    """Tabs and reloads each get their own document: every one fills with data.

    Two tabs are open and live together (the second fills while the first's wait runs); the
    first is reloaded once it has data."""
    first, second = _open(context, url, errors), _open(context, url, errors)
    _wait_for(lambda: _plots_with_data(first), 40, f"every plot on {url} to have data")
    first.reload()
    first.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    for page in (second, first):
        _wait_for(lambda page=page: _plots_with_data(page), 40, f"data in each tab of {url}")
        assert page.evaluate(DONE_JS) > 0
        page.close()


def _dashboard_url(search: subprocess.Popen) -> str:
    for line in search.stdout:
        if line.startswith("dask dashboard:"):
            return line.split()[2].rsplit("/", 1)[0] + "/ganhpo"
    raise AssertionError("the search printed no dashboard link")


def _screenshot_with_data(page, path: Path) -> list[dict] | None:
    """A screenshot taken while every plot has data (running trials come and go between them)."""
    if not _plots_with_data(page):
        return None
    page.screenshot(path=str(path), full_page=True)
    return _plots_with_data(page)


@pytest.mark.browser
@pytest.mark.slow
def test_live_page_in_chromium(tmp_path):
    _need_chromium()
    from playwright.sync_api import sync_playwright

    store = tmp_path / "live.zarr"
    search = _spawn(["-c", RUN_SEARCH, json.dumps(EXPERIMENT), str(store)])
    monitor = _spawn(["-m", "orchestrator.monitor", str(store), "--port", "0"])
    errors: list[str] = []
    try:
        url = monitor.stdout.readline().split()[2]
        assert url.startswith("http://127.0.0.1:"), url
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1500, "height": 1900})
            context.set_default_timeout(90_000)  # a loaded 2-core CI machine: no flaky page waits
            page = context.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(url)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
            first = _wait_for(lambda: page.evaluate(DONE_JS) > 0, 40, "a finished architecture")
            first = page.evaluate(DONE_JS)
            _wait_for(lambda: page.evaluate(DONE_JS) > first, 40, "the done count to increase")
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "monitor.png"
            plots = _wait_for(lambda: _screenshot_with_data(page, shot), 30,
                              "every plot to have data in a screenshot")
            print(f"screenshot: {shot}")
            text = page.get_by_text(re.compile(r"architectures \d+ done")).first.inner_text()
            _two_tabs_and_a_reload(context, url, errors)  # the standalone monitor
            _two_tabs_and_a_reload(context, _dashboard_url(search), errors)  # on Dask's
            browser.close()
    finally:
        for proc in (monitor, search):
            proc.terminate()
        monitor_out = monitor.communicate(timeout=20)[0]
        search_out = search.communicate(timeout=30)[0]
    titles = [p["title"] for p in plots]
    assert any(t.startswith("Convergence") for t in titles)
    assert any(t.startswith("Architectures") for t in titles)
    assert any(t.startswith("Workers") for t in titles)
    assert sum(t in EXPERIMENT["space"] for t in titles) == 6  # one marginal per parameter
    assert re.search(r"architectures \d+ done", text)
    assert errors == [], errors
    for out in (monitor_out, search_out):  # closed tabs are quiet (monitor/quiet.py)
        assert "Traceback" not in out and "Failed sending message" not in out, out
    assert "already in a doc" not in search_out, search_out
