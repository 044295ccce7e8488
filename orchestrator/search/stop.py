"""A stop asked for by a signal, acted on at the loop's safe points (never inside a flush).

The CLI's signal handlers call ``request_stop``; ``check_stop`` (called by the search loop
between iterations, and by the CLI after the cluster has started) raises ``Interrupted``.
"""

from __future__ import annotations

import signal

__all__ = ["Interrupted", "check_stop", "clear_stop", "request_stop", "stop_requested"]

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
_requested: list[int] = []


class Interrupted(KeyboardInterrupt):
    """Raised at a safe point after SIGINT or SIGTERM; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 128 + self.signum)


def request_stop(signum: int) -> None:
    """Ask the run to stop at its next safe point (the first signal counts)."""
    if not _requested:
        _requested.append(signum)


def stop_requested() -> int | None:
    """The signal that asked for a stop, or None."""
    return _requested[0] if _requested else None


def check_stop() -> None:
    """Raise ``Interrupted`` if a stop was asked for (a safe point: nothing half-written)."""
    if _requested:
        raise Interrupted(_requested[0])


def clear_stop() -> None:
    """Forget a stop request (the run that it was for has ended)."""
    _requested.clear()
