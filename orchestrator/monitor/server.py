"""Serving the monitor: a standalone Bokeh server bound to one address (default 127.0.0.1) that
refuses any request whose Host or Origin is not one of its addresses (``guard.HostGuard``)."""

from __future__ import annotations

import socket
from pathlib import Path

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import BaseServer
from bokeh.server.tornado import BokehTornado
from bokeh.server.util import bind_sockets, create_hosts_allowlist
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.guard import HostGuard, allowed_hosts
from orchestrator.monitor.page import REFRESH_MS, document_factory
from orchestrator.monitor.quiet import quiet_closed_tabs
from orchestrator.store import store_ready

__all__ = ["build_server", "serve", "websocket_origins"]

SHARED_READ_SECONDS = 0.5  # sessions opened together share one read of the store
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_WILDCARD = {"", "0.0.0.0", "::"}


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def url_host(address: str) -> str:
    """The host to put in the printed URL for a bind address."""
    return socket.gethostname() if address in _WILDCARD else _host(address)


def websocket_origins(address: str, port: int, extra: list[str] | None = None) -> list[str]:
    """Origins allowed to open the page's websocket: the bound address (and its names) + extra.

    Bokeh's allowlist cannot hold IPv6 literals, so IPv6 binds are reached by host name.
    """
    if address in _LOOPBACK:
        hosts = ["127.0.0.1", "localhost"]
    elif address in _WILDCARD or ":" in address:
        hosts = sorted({socket.gethostname(), socket.getfqdn()})
    else:
        hosts = [_host(address)]
    return [f"{h}:{port}" for h in hosts] + list(extra or [])


def build_server(store_path: str | Path, *, port: int = 5006, address: str = "127.0.0.1",
                 allow_websocket_origin: list[str] | None = None,
                 refresh_ms: int = REFRESH_MS) -> BaseServer:
    """A started-but-not-running Bokeh server for the store (port 0: any free); validates the store.

    Requests are answered only when their Host and Origin name the bound address (for loopback:
    127.0.0.1, localhost or [::1]) or an ``allow_websocket_origin`` entry.
    """
    store_ready(store_path)  # raises StoreError for a path that is not (and will not be) a store
    sockets, port = bind_sockets(address or None, port)
    reader = StoreReader(store_path, min_interval=SHARED_READ_SECONDS)
    quiet_closed_tabs()
    app = Application(FunctionHandler(document_factory(reader, refresh_ms)))
    origins = websocket_origins(address, port, allow_websocket_origin)
    tornado_app = BokehTornado({"/": app}, extra_websocket_origins=create_hosts_allowlist(origins, port))
    http = HTTPServer(HostGuard(tornado_app, allowed_hosts(address, port, allow_websocket_origin or ())))
    http.add_sockets(sockets)
    server = BaseServer(IOLoop.current(), tornado_app, http)
    server.start()
    return server


def serve(store_path: str | Path, *, port: int = 5006, address: str = "127.0.0.1",
          allow_websocket_origin: list[str] | None = None, show: bool = False) -> None:
    """Serve the monitor for ``store_path`` until interrupted; prints the URL (port 0: any free)."""
    server = build_server(store_path, port=port, address=address,
                          allow_websocket_origin=allow_websocket_origin)
    url = f"http://{url_host(address)}:{server.port}/"
    waiting = "" if store_ready(store_path) else " (waiting for the store to appear)"
    print(f"ganhpo monitor: {url} for {store_path}{waiting}", flush=True)
    if show:
        server.io_loop.add_callback(server.show, "/")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
