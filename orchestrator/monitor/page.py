"""The monitor page: builds the components, fills them once, refreshes them periodically."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable

from bokeh.document import Document
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div

from orchestrator.monitor.base import Component
from orchestrator.monitor.convergence import Convergence
from orchestrator.monitor.curves import EpochCurves
from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.marginals import Marginals
from orchestrator.monitor.scatter import ArchitectureScatter
from orchestrator.monitor.status import StatusHeader
from orchestrator.monitor.tables import FailureTable, TopArchitectures
from orchestrator.monitor.timeline import WorkerTimeline
from orchestrator.store.integrity import StoreDamaged

__all__ = ["REFRESH_MS", "make_document", "monitor_page"]

log = logging.getLogger("ganhpo.monitor")
REFRESH_MS = 1000


class Page:
    """The components of one browser session and the refresh that feeds them one shared read."""

    def __init__(self, reader: StoreReader):
        self.reader = reader
        self.header = StatusHeader(reader)
        self.convergence = Convergence(reader)
        self.scatter = ArchitectureScatter(reader)
        self.marginals = Marginals(reader)
        self.curves = EpochCurves(reader)
        self.timeline = WorkerTimeline(reader)
        self.top = TopArchitectures(reader)
        self.failures = FailureTable(reader)
        self.problem = Div(text="", styles={"color": "#c0392b"}, sizing_mode="stretch_width")
        self.body = None  # every figure and table: hidden while the store is damaged
        self._failing = False
        self._damage = ""
        self._busy = False

    @property
    def components(self) -> list[Component]:
        return [self.header, self.convergence, self.scatter, self.marginals, self.curves,
                self.timeline, self.top, self.failures]

    def layout(self):
        def titled(text: str, model):
            return column(Div(text=f"<b>{text}</b>"), model, sizing_mode="stretch_width")

        self.body = column(
            row(self.convergence.root, self.scatter.root, sizing_mode="stretch_width"),
            self.marginals.root,
            row(self.curves.root, self.timeline.root, sizing_mode="stretch_width"),
            titled("Top architectures</b> (ranked within stage, the latest stage first: stages "
                   "train for different epochs)<b>", self.top.root),  # full width: a column per parameter
            titled("Recent failed trials", self.failures.root),
            sizing_mode="stretch_width")
        return column(self.header.root, self.problem, self.body, sizing_mode="stretch_width")

    def refresh(self) -> None:
        """One read of the store's committed rows, rendered into every component (blocking)."""
        try:
            data = self.reader.read()
        except Exception as err:  # noqa: BLE001 - keep the page alive, say what went wrong
            self._failed(err)
            return
        self.render(data)

    async def refresh_async(self) -> None:
        """``refresh`` with the read in a thread, so the server's event loop never blocks on Zarr."""
        if self._busy:  # a slow file system: skip a tick rather than queue reads
            return
        self._busy = True
        try:
            data = await asyncio.get_running_loop().run_in_executor(None, self.reader.read)
        except Exception as err:  # noqa: BLE001
            self._failed(err)
            return
        finally:
            self._busy = False
        self.render(data)

    def render(self, data) -> None:
        """Render one snapshot into every component; a failure is shown on the page."""
        try:
            for component in self.components:
                component.render(data)
        except Exception as err:  # noqa: BLE001
            self._failed(err)
            return
        if self._damage:
            self._damage = ""
            self._show(True)
        if self._failing:
            self._failing, self.problem.text = False, ""

    def _show(self, visible: bool) -> None:
        for model in (self.header.root, self.body):
            if model is not None:
                model.visible = visible

    def _damaged(self, err: StoreDamaged) -> None:
        """A damaged store: no data on the page (every component emptied, hidden), one banner
        line saying what is damaged and the repair command."""
        text = str(err)
        if text != self._damage:
            log.warning("monitor: %s", text)
            self._clear()
            self._show(False)
        self._damage, self._failing = text, True
        self.problem.text = ("<div style='background:#fdecea;padding:6px 10px;font-weight:bold'>"
                             f"{html.escape(text)}</div>")

    def _clear(self) -> None:
        """Empty every data source and the header (the next good read sends them anew)."""
        roots = [c.root for c in self.components]
        sources = {id(m): m for root in roots for m in root.select({"type": ColumnDataSource})}
        for source in [*sources.values(), *(c.source for c in self.components)]:
            source.data = {key: [] for key in source.data}
        self.header.root.text = ""

    def _failed(self, err: Exception) -> None:
        if isinstance(err, StoreDamaged):
            self._damaged(err)
            return
        if not self._failing:
            log.warning("monitor refresh failed: %s", err, exc_info=True)
        self._failing = True
        self.problem.text = html.escape(f"refresh failed, retrying: {type(err).__name__}: {err}")


def monitor_page(doc: Document, reader: StoreReader, refresh_ms: int = REFRESH_MS) -> Page:
    """Build fresh models into ``doc`` (one page per session), fill and refresh them every
    ``refresh_ms``; store reads run in a thread, never on the server's event loop."""
    page = Page(reader)
    doc.title = "ganhpo monitor"
    doc.add_root(page.layout())
    doc.add_next_tick_callback(page.refresh_async)
    doc.add_periodic_callback(page.refresh_async, refresh_ms)
    return page


def make_document(doc: Document, store_path: str | None = None, *,
                  reader: StoreReader | None = None, refresh_ms: int = REFRESH_MS) -> Page:
    """Bokeh application entry point: the monitor page for one store (or a shared reader)."""
    if reader is None:
        if store_path is None:
            raise TypeError("make_document needs store_path or reader")
        reader = StoreReader(store_path)
    return monitor_page(doc, reader, refresh_ms)


def document_factory(reader: StoreReader, refresh_ms: int = REFRESH_MS) -> Callable[[Document], None]:
    """A FunctionHandler callback sharing one rate-limited reader between browser sessions."""
    def build(doc: Document) -> None:
        make_document(doc, reader=reader, refresh_ms=refresh_ms)
    return build
