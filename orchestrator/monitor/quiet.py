"""Silence Bokeh's closed-tab race: a browser tab that closes (or reloads) while the page is being
updated makes Bokeh log an AssertionError traceback from ``bokeh/server/connection.py`` (the
connection's session is already gone) and one warning per update it could not send. Both are
Bokeh's own bookkeeping of a tab that is gone, not a fault of the page; every other record passes."""

from __future__ import annotations

import logging
import traceback

__all__ = ["ClosedTabFilter", "quiet_closed_tabs"]

LOGGERS = ("bokeh.server.protocol_handler", "bokeh.server.views.ws", "tornado.application")
CLOSED_SEND = "Failed sending message as connection was closed"


def _raised_in_bokeh_connection(exc_info: object) -> bool:
    if not (isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None):
        return False
    _, error, tb = exc_info
    if not isinstance(error, AssertionError) or tb is None:
        return False
    frames = traceback.extract_tb(tb)
    return bool(frames) and frames[-1].filename.replace("\\", "/").endswith(
        "bokeh/server/connection.py")


class ClosedTabFilter(logging.Filter):
    """Drops the records of a tab that closed mid-update; passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "bokeh.server.views.ws" and record.getMessage() == CLOSED_SEND:
            return False
        return not _raised_in_bokeh_connection(record.exc_info)


_FILTER = ClosedTabFilter()


def quiet_closed_tabs() -> None:
    """Install the filter on the loggers Bokeh and tornado report the race on (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
