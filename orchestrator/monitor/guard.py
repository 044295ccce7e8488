"""Refuse HTTP and websocket requests whose Host or Origin is not an address of this server.

A page on an attacker's domain that re-resolves that domain to 127.0.0.1 (DNS rebinding) reaches a
loopback server with ``Host: evil.example:PORT`` and a matching ``Origin``; tornado accepts a
websocket whose Origin equals its Host before Bokeh's origin allowlist is asked, and Bokeh serves
any Host. ``HostGuard`` sits in front of a tornado application and answers 403, serving nothing,
unless the Host header, and the Origin header when there is one, name an allowed ``host:port``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from tornado import httputil, web
from tornado.routing import Router

__all__ = ["HostGuard", "allowed_hosts", "guard_dask_dashboard", "guard_http_server", "refusal"]

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("", "0.0.0.0", "::", "[::]")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _local_addresses() -> set[str]:
    """This machine's names and interface addresses (for a server bound to every interface)."""
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            names |= {a.address.split("%")[0] for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)}
    except (ImportError, OSError):
        pass
    return {_bracket(n.lower()) for n in names if n}


def allowed_hosts(address: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """``host:port`` values a request may carry in Host/Origin for a server bound to ``address``.

    Loopback binds allow 127.0.0.1, localhost and [::1]; a wildcard bind adds the machine's
    names and interface addresses; any other bind allows that address. ``extra`` entries are
    ``host[:port]`` (no port: this server's port).
    """
    address = _bracket(address.strip("[]").lower()) if address not in WILDCARD else address
    hosts = set(LOOPBACK)
    if address in WILDCARD:
        hosts |= _local_addresses()
    elif address.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
        hosts = {address}
    out = {f"{h}:{port}" for h in hosts}
    for entry in extra:
        entry = entry.strip().lower()
        out.add(entry if _has_port(entry) else f"{_bracket(entry)}:{port}")
    return frozenset(out)


def _has_port(hostport: str) -> bool:
    """Whether ``host:port`` / ``[v6]:port`` carries a port (a bare IPv6 literal does not)."""
    tail = hostport.rsplit("]", 1)[-1] if hostport.startswith("[") else hostport
    return tail.count(":") == 1


def _normal(hostport: str, scheme: str) -> str:
    hostport = hostport.strip().lower()
    return hostport if _has_port(hostport) else f"{hostport}:{DEFAULT_PORTS.get(scheme, 80)}"


def refusal(headers: httputil.HTTPHeaders, scheme: str, allowed: frozenset[str]) -> str | None:
    """Why a request with these headers is refused, or None when its Host and Origin are allowed."""
    host = headers.get("Host")
    if not host or _normal(host, scheme) not in allowed:
        return "the Host header is not an address of this server"
    origin = headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if not parts.netloc or _normal(parts.netloc, parts.scheme) not in allowed:
            return "the Origin header is not an address of this server"
    return None


class Refused(web.RequestHandler):
    """403 for every method, with a plain-text reason that repeats nothing from the request."""

    def initialize(self, reason: str) -> None:
        self.reason = reason

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"ganhpo: refused: {self.reason} (see docs/architecture.md, Network and "
                    "security, for how to allow another address)\n")

    def check_xsrf_cookie(self) -> None:  # the answer is 403 whatever the method
        return None


class HostGuard(Router):
    """A tornado router in front of ``application``: requests failing ``refusal`` get a 403."""

    def __init__(self, application: web.Application, allowed: frozenset[str]):
        self.application = application
        self.allowed = allowed

    def find_handler(self, request: httputil.HTTPServerRequest, **kwargs: Any):
        """The application's handler, or ``Refused`` when the Host or Origin is not allowed."""
        reason = refusal(request.headers, request.protocol, self.allowed)
        if reason is not None:
            return self.application.get_handler_delegate(request, Refused, {"reason": reason})
        return self.application.find_handler(request, **kwargs)


def guard_http_server(http_server: Any, allowed: frozenset[str]) -> HostGuard:
    """Put a HostGuard in front of a running tornado HTTPServer's application; returns it."""
    app = http_server.request_callback
    if isinstance(app, HostGuard):
        app = app.application
    guard = HostGuard(app, allowed)
    http_server.request_callback = guard
    return guard


def guard_dask_dashboard(scheduler: Any) -> HostGuard | None:
    """Guard the dashboard of a scheduler running in this process (None: it has no dashboard);
    a dashboard already guarded keeps its guard.

    Allowed: the dashboard's bound address (see ``allowed_hosts``) plus any entries of Dask's
    ``distributed.scheduler.dashboard.bokeh-application.allow_websocket_origin`` other than "*".
    """
    import dask

    http = getattr(scheduler, "http_server", None)
    if http is None or getattr(http, "port", None) is None:
        return None
    if isinstance(http.request_callback, HostGuard):
        return http.request_callback
    extra = dask.config.get("distributed.scheduler.dashboard.bokeh-application.allow_websocket_origin",
                            []) or []
    extra = [e for e in ([extra] if isinstance(extra, str) else extra) if e != "*"]
    return guard_http_server(http, allowed_hosts(str(http.address), int(http.port), extra))
