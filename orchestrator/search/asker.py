"""The optimiser in its own thread, so that the driver's loop never waits on a surrogate fit.

``OptimizerThread`` wraps an optimiser (which is not thread-safe): every call runs in one
daemon thread, in the order it was made. ``tell`` and ``add_pending`` return at once (queued,
so tells keep completion order); ``ask_async`` returns a Future; any other attribute is a
synchronous call through the same thread. An exception raised by a queued call is kept and
re-raised in the caller's thread by ``check`` (and by every later call).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

__all__ = ["OptimizerThread"]

_STOP = object()


class OptimizerThread:
    """Serialises every call to ``optimizer`` in one background thread (see the module doc)."""

    def __init__(self, optimizer: Any):
        self.optimizer = optimizer
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self.ask_seconds: float | None = None  # wall time of the last ask
        self.busy_seconds = 0.0
        self._thread = threading.Thread(target=self._work, name="ganhpo-optimizer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fn, args, future = job
            if future is not None and not future.set_running_or_notify_cancel():
                continue
            start = time.perf_counter()
            try:
                out = fn(*args)
            except BaseException as err:  # noqa: BLE001 - handed to the loop's thread
                if future is None:
                    self._error = self._error or err
                else:
                    future.set_exception(err)
            else:
                if future is not None:
                    future.set_result(out)
            finally:
                self.busy_seconds += time.perf_counter() - start

    def _call(self, fn: Callable, *args: Any, wait: bool) -> Future | None:
        self.check()
        future = Future() if wait else None
        self._jobs.put((fn, args, future))
        return future

    def check(self) -> None:
        """Re-raise, in the calling thread, the first error of a queued call."""
        if self._error is not None:
            raise self._error

    def tell(self, points, means, stds=None) -> None:
        """Queue a tell; returns at once."""
        self._call(self.optimizer.tell, points, means, stds, wait=False)

    def add_pending(self, points) -> None:
        """Queue marking points pending; returns at once."""
        self._call(self.optimizer.add_pending, points, wait=False)

    def ask_async(self, n: int) -> Future:
        """A Future of ``optimizer.ask(n)``, run after every call queued before it."""
        def timed_ask(k: int) -> list[dict]:
            start = time.perf_counter()
            try:
                return self.optimizer.ask(k)
            finally:
                self.ask_seconds = time.perf_counter() - start
        return self._call(timed_ask, n, wait=True)

    def ask(self, n: int = 1) -> list[dict]:
        """Synchronous ask (waits for every queued call first)."""
        return self.ask_async(n).result()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.optimizer, name)
        if not callable(value):
            return self._call(getattr, self.optimizer, name, wait=True).result()
        return lambda *args, **kwargs: self._call(partial(value, *args, **kwargs), wait=True).result()

    def close(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop the thread after the queued calls (wait) or abandon them; re-raise their error."""
        self._jobs.put(_STOP)
        if wait:
            self._thread.join(timeout)
            self.check()
