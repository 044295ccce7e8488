"""The live Bokeh monitor over a results store (committed rows only; never writes).

    from orchestrator.monitor import serve
    serve("runs/quickstart.zarr", port=5006)      # blocks; prints the URL

Components follow distributed's dashboard: a ColumnDataSource, a figure and ``update()``.
"""

from __future__ import annotations

from orchestrator.monitor.dashboard import add_to_dask_dashboard, remove_from_dask_dashboard
from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.page import make_document, monitor_page
from orchestrator.monitor.server import build_server, serve, websocket_origins

__all__ = ["StoreReader", "add_to_dask_dashboard", "build_server", "make_document", "monitor_page",
           "remove_from_dask_dashboard", "serve", "websocket_origins"]
