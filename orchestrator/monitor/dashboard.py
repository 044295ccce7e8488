"""The monitor page on the Dask dashboard of a scheduler that runs in this process.

LocalCluster and the dask-jobqueue clusters start their scheduler in the client process, so a
page registered before the cluster starts is served by its dashboard at ``/ganhpo``. A remote
scheduler (``--cluster tcp://...``) cannot be given a page this way; use ``ganhpo monitor``.

``make_cluster`` guards the dashboards of the schedulers it starts (``guard.HostGuard``: requests
whose Host or Origin is not the dashboard's address are refused); a scheduler started some other
way is guarded when the page is first asked for, and the page is never built for a refused Host.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from bokeh.document import Document

from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.guard import guard_dask_dashboard, refusal
from orchestrator.monitor.page import make_document
from orchestrator.monitor.quiet import quiet_closed_tabs

__all__ = ["DASHBOARD_ROUTE", "add_to_dask_dashboard", "remove_from_dask_dashboard"]

DASHBOARD_ROUTE = "/ganhpo"
DASHBOARD_REFRESH_MS = 2000  # the page shares the scheduler's event loop: reads run in a thread


def _page(reader: StoreReader, scheduler: object, extra: dict, doc: Document) -> None:
    guard = guard_dask_dashboard(scheduler)
    context = doc.session_context
    request = getattr(context, "request", None) if context is not None else None
    if guard is not None and request is not None:
        reason = refusal(request.headers, "http", guard.allowed)
        if reason is not None:
            raise PermissionError(f"ganhpo page refused: {reason}")
    make_document(doc, reader=reader, refresh_ms=DASHBOARD_REFRESH_MS)


def add_to_dask_dashboard(store_path: str | Path, route: str = DASHBOARD_ROUTE) -> str:
    """Register the page for schedulers started later in this process; returns its route."""
    from distributed.dashboard import scheduler as dashboard

    reader = StoreReader(store_path, min_interval=1.0)
    quiet_closed_tabs()
    dashboard.applications[route] = partial(_page, reader)
    return route


def remove_from_dask_dashboard(route: str = DASHBOARD_ROUTE) -> None:
    """Undo ``add_to_dask_dashboard`` (schedulers already started keep serving it)."""
    from distributed.dashboard import scheduler as dashboard

    dashboard.applications.pop(route, None)
