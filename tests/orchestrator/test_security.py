"""Network exposure and HTML escaping: what binds where, forged Host/Origin refused, texts escaped."""

from __future__ import annotations

import argparse
import asyncio
import http.client
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from orchestrator.monitor.guard import allowed_hosts
from orchestrator.store import DONE, FAILED, ResultsStore

REPO = Path(__file__).resolve().parents[2]
NAME = "<script>alert(1)</script>"
PARAM = "<i>lr</i>"
ERROR = "RuntimeError: <img src=x onerror=alert(2)>"
SPACE = {PARAM: {"type": "real", "low": 0.0, "high": 1.0, "log": False},
         "width": {"type": "real", "low": 0.0, "high": 1.0, "log": False}}


def hostile_store(path: Path, n: int = 12) -> Path:
    """A store whose experiment name, parameter name and an error text are HTML."""
    rng = np.random.default_rng(0)
    exp = {"name": NAME, "space": SPACE, "trials": 2, "epochs": 2, "budget": n}
    store = ResultsStore.create(path, exp, list(SPACE), trials=2, epochs=2)
    for a in range(n):
        u = rng.random(2)
        store.add_architecture(u)
        for t in range(2):
            store.set("started", (a, t), 10.0 * a + t)
            store.set("finished", (a, t), 10.0 * a + t + 5)
            if a == 3 and t == 1:
                store.set_error(a, t, ERROR)
                store.set("status", (a, t), FAILED)
                continue
            store.set("metric", (a, t), float(u @ [1.0, 2.0]) + 0.01 * t)
            store.set("epoch_metric", (a, t), np.array([2.0, 1.0]))
            store.set("status", (a, t), DONE)
    store.flush()
    return path


def assert_escaped(text: str) -> None:
    for raw in (NAME, PARAM, "<img src=x"):
        assert raw not in text, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --- the allowlist -------------------------------------------------------------------------

def test_allowed_hosts_are_the_bound_address_and_its_names():
    assert allowed_hosts("127.0.0.1", 5006) == {"127.0.0.1:5006", "localhost:5006", "[::1]:5006"}
    assert allowed_hosts("10.1.2.3", 80, ["gw.example.org:443", "proxy"]) == {
        "10.1.2.3:80", "gw.example.org:443", "proxy:80"}
    wide = allowed_hosts("0.0.0.0", 8787)
    assert "127.0.0.1:8787" in wide and "evil.example:8787" not in wide


# --- real HTTP and websocket requests with forged headers ----------------------------------

def get(port: int, path: str, host: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def handshake(port: int, ws_path: str, host: str, origin: str | None, token: str) -> int | str:
    """Open the page's websocket with these headers: 101 (and Bokeh's first message) or the code."""
    async def attempt():
        headers = {"Host": host, **({"Origin": origin} if origin else {})}
        request = HTTPRequest(f"ws://127.0.0.1:{port}{ws_path}", headers=headers, request_timeout=30)
        try:
            conn = await websocket_connect(request, subprotocols=["bokeh", token])
        except HTTPClientError as err:
            return err.code
        try:
            first = await asyncio.wait_for(conn.read_message(), 30)
            return 101 if first is not None else "closed"
        finally:
            conn.close()
    return asyncio.run(attempt())


def check_refusals(port: int, page: str, ws_path: str) -> str:
    """Every forged Host/Origin is refused; 127.0.0.1 and localhost are served. Returns the page."""
    here, named = f"127.0.0.1:{port}", f"localhost:{port}"
    evil = f"evil.example:{port}"
    status, body = get(port, page, evil)
    assert status == 403 and "bokeh" not in body.lower() and "evil" not in body
    status, html = get(port, page, here)
    assert status == 200
    assert get(port, page, named)[0] == 200
    token = re.search(r'"token":\s*"([^"]+)"', html).group(1)
    assert handshake(port, ws_path, evil, f"http://{evil}", token) == 403  # DNS rebinding shape
    assert handshake(port, ws_path, here, "http://evil.example", token) == 403
    assert handshake(port, ws_path, here, "null", token) == 403
    assert handshake(port, ws_path, here, f"http://{here}", token) == 101
    token = re.search(r'"token":\s*"([^"]+)"', get(port, page, named)[1]).group(1)
    assert handshake(port, ws_path, named, f"http://{named}", token) == 101
    return html


def test_standalone_monitor_refuses_forged_host_and_origin(tmp_path):
    store = hostile_store(tmp_path / "s.zarr")
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.monitor", str(store), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ganhpo monitor: http://127.0.0.1:"), line
        port = int(line.split()[2].rsplit(":", 1)[1].strip("/"))
        sockets = {(c.laddr.ip, c.laddr.port) for c in psutil.Process(proc.pid).net_connections("inet")
                   if c.status == psutil.CONN_LISTEN}
        assert sockets == {("127.0.0.1", port)}
        check_refusals(port, "/", "/ws")
    finally:
        proc.terminate()
        proc.wait(10)


def listening(pids: set[int]) -> set[str]:
    return {c.laddr.ip for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids}


def test_local_cluster_and_dashboard_bind_loopback_and_refuse_forged_headers(tmp_path, monkeypatch):
    from orchestrator.cluster import add_cluster_arguments, connect, disconnect
    from orchestrator.monitor import add_to_dask_dashboard, remove_from_dask_dashboard

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    parser = argparse.ArgumentParser()
    add_cluster_arguments(parser)
    route = add_to_dask_dashboard(hostile_store(tmp_path / "s.zarr"))
    # --address alone means the embedded local cluster; the dashboard keeps its default
    client = connect(parser.parse_args(["--address", "127.0.0.1", "--workers", "1"]), {})
    try:
        client.wait_for_workers(1, timeout=60)
        scheduler = client.cluster.scheduler
        assert scheduler.address.startswith("tls://127.0.0.1:")  # TLS by default
        assert scheduler.http_server.address == "127.0.0.1"
        me = psutil.Process()
        assert listening({me.pid} | {p.pid for p in me.children(recursive=True)}) == {"127.0.0.1"}
        port = scheduler.http_server.port
        check_refusals(port, route, f"{route}/ws")
        assert get(port, "/status", f"evil.example:{port}")[0] == 403  # Dask's own pages too
    finally:
        disconnect(client)
        remove_from_dask_dashboard(route)


# --- TLS on the local cluster: other users of the node reach 127.0.0.1 too -----------------

def refused(address: str, **kwargs) -> str:
    """Connect a client to ``address``; the error's type, or fail if it connects."""
    from distributed import Client

    start = time.monotonic()
    try:
        Client(address, timeout=10, **kwargs).close()
    except Exception as err:  # noqa: BLE001 - whichever way the connection is refused
        assert time.monotonic() - start < 10, "refused only after the timeout"
        return type(err).__name__
    raise AssertionError(f"connected to {address} with {kwargs}")


def test_the_local_cluster_refuses_clients_without_its_temporary_credentials(monkeypatch):
    from distributed import Client, Security

    from orchestrator.cluster import make_cluster
    from orchestrator.cluster.preflight import check_environment, release_environment_check

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with make_cluster("local", workers=1, dashboard_address="127.0.0.1:0") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        with Client(cluster) as client:  # ours: the cluster's credentials
            client.wait_for_workers(1, timeout=60)
            assert all(w.startswith("tls://127.0.0.1:") for w in client.scheduler_info()["workers"])
            assert client.submit(sum, [1, 2]).result() == 3
            check_environment(client, "tests.orchestrator.trials:flaky")  # pre-flight over TLS
            release_environment_check(client)
            assert refused(address.replace("tls://", "tcp://")) == "CommClosedError"  # no TLS
            assert refused(address, security=Security.temporary()) == "FatalCommClosedError"
            assert refused(address) == "TypeError"  # no certificate at all: nothing is sent
            assert client.submit(sum, [3, 4]).result() == 7  # and ours still works


def test_a_search_runs_over_tls_through_the_cli_and_no_tls_turns_it_off(tmp_path, monkeypatch,
                                                                        capsys):
    from orchestrator.cli import main
    from orchestrator.cluster import api
    from orchestrator.store import DONE, read_store
    from tests.orchestrator.cli.test_cli import small_experiment

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    addresses = []
    real = api.make_cluster

    def recorded(*args, **kwargs):
        cluster = real(*args, **kwargs)
        addresses.append(cluster.scheduler_address)
        return cluster

    monkeypatch.setattr(api, "make_cluster", recorded)
    exp, store = small_experiment(tmp_path, budget=3, trials=1), tmp_path / "s.zarr"
    assert main(["run", str(exp), "--store", str(store), "--workers", "1", "--quiet"]) == 0
    assert main(["run", str(exp), "--store", str(store), "--workers", "1", "--quiet", "--no-tls",
                 "--budget", "4"]) == 0
    assert [a.split(":")[0] for a in addresses] == ["tls", "tcp"]
    assert "best architecture:" in capsys.readouterr().out
    snap = read_store(store)
    assert snap.n == 4 and (snap.status == DONE).all()


# --- escaping ------------------------------------------------------------------------------

def test_monitor_page_escapes_names_paths_errors_and_parameter_names(tmp_path):
    from orchestrator.monitor.data import StoreReader
    from orchestrator.monitor.page import Page

    page = Page(StoreReader(hostile_store(tmp_path / "a<b>c.zarr")))
    page.refresh()
    header = page.header.root.text
    assert_escaped(header)
    assert "a&lt;b&gt;c.zarr" in header
    titles = [c.title for c in page.top.root.columns]
    assert "&lt;i&gt;lr&lt;/i&gt;" in titles and PARAM not in titles
    assert ERROR in list(page.failures.source.data["error"])  # table cells are text, not HTML
    page._failed(RuntimeError(ERROR))
    assert "<img" not in page.problem.text and "&lt;img src=x onerror=alert(2)&gt;" in page.problem.text


def test_html_report_escapes_every_text(tmp_path):
    from orchestrator.analysis.html import write_report

    store = hostile_store(tmp_path / "a<b>c.zarr")
    text = write_report(str(store), tmp_path / "out").read_text()
    assert_escaped(text)
    assert "a&lt;b&gt;c.zarr" in text and "&lt;i&gt;lr&lt;/i&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


@pytest.mark.parametrize("bad", ["<script>x</script>", "a\"b"])
def test_refusal_names_nothing_from_the_request(bad):
    from tornado.httputil import HTTPHeaders

    from orchestrator.monitor.guard import refusal

    reason = refusal(HTTPHeaders({"Host": bad}), "http", allowed_hosts("127.0.0.1", 1))
    assert reason and bad not in reason
