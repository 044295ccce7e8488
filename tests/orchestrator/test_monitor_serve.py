"""Serving the monitor: origins, the command line's errors, HTTP, and the Dask dashboard page."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from orchestrator.monitor import (
    add_to_dask_dashboard,
    remove_from_dask_dashboard,
    websocket_origins,
)
from orchestrator.monitor.__main__ import main
from orchestrator.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
SPACE = {"x0": {"type": "real", "low": 0.0, "high": 1.0, "log": False}}


def _store(path: Path) -> ResultsStore:
    s = ResultsStore.create(path, {"space": SPACE, "trials": 1, "epochs": 2, "budget": 3},
                            ["x0"], trials=1, epochs=2)
    s.add_architecture(np.array([0.5]))
    s.flush()
    return s


def test_origins_are_only_what_was_asked_for():
    assert websocket_origins("127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    assert websocket_origins("10.1.2.3", 80, ["gw.example.org:443"]) == ["10.1.2.3:80",
                                                                          "gw.example.org:443"]


def test_bad_store_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("not a store")
    assert main([str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganhpo monitor: error: ") and "not a ganhpo results store" in err
    assert len(err.splitlines()) == 1


def _start_monitor(store: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.monitor", str(store), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert line.startswith("ganhpo monitor: http://127.0.0.1:"), line
    return proc, line.split()[2]


def test_serves_the_page_on_loopback(tmp_path):
    _store(tmp_path / "s.zarr")
    proc, url = _start_monitor(tmp_path / "s.zarr")
    try:
        html = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "ganhpo monitor" in html and "bokeh" in html.lower()
    finally:
        proc.terminate()
        proc.wait(10)


def test_waits_for_a_store_that_does_not_exist_yet(tmp_path):
    proc, url = _start_monitor(tmp_path / "later.zarr")
    try:
        assert urllib.request.urlopen(url, timeout=30).status == 200
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert "Traceback" not in out


def test_page_on_the_dask_dashboard(tmp_path):
    from distributed import LocalCluster

    _store(tmp_path / "s.zarr")
    route = add_to_dask_dashboard(tmp_path / "s.zarr")
    try:
        with LocalCluster(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as cluster:
            base = f"http://127.0.0.1:{cluster.scheduler.http_server.port}"
            html = ""
            for _ in range(20):
                try:
                    html = urllib.request.urlopen(base + route, timeout=10).read().decode()
                    break
                except OSError:
                    time.sleep(0.25)
            assert "ganhpo monitor" in html
    finally:
        remove_from_dask_dashboard(route)


@pytest.mark.parametrize("address", ["127.0.0.1"])
def test_default_binding_is_loopback(address):
    import inspect

    from orchestrator.monitor import serve

    assert inspect.signature(serve).parameters["address"].default == address


def test_closed_tab_race_is_quiet_and_other_errors_are_not(caplog):
    """Bokeh's AssertionError for a tab whose session is gone is dropped; any other error logs."""
    import logging

    from bokeh.server.connection import ServerConnection

    from orchestrator.monitor.quiet import CLOSED_SEND, quiet_closed_tabs

    quiet_closed_tabs()
    quiet_closed_tabs()  # idempotent
    gone = ServerConnection.__new__(ServerConnection)
    gone._session = None  # what Bokeh leaves after the tab's websocket closed
    log = logging.getLogger("bokeh.server.protocol_handler")
    with caplog.at_level(logging.WARNING):
        try:
            _ = gone.session
        except AssertionError:
            log.error("error handling message", exc_info=True)
        logging.getLogger("bokeh.server.views.ws").warning(CLOSED_SEND)
        assert caplog.records == []
        try:
            assert 1 == 2, "ours"
        except AssertionError:
            log.error("error handling message", exc_info=True)
        logging.getLogger("tornado.application").error("Uncaught exception GET /ws")
    assert [r.name for r in caplog.records] == ["bokeh.server.protocol_handler",
                                                "tornado.application"]
