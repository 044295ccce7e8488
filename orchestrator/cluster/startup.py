"""Cluster start-up that a Ctrl-C can end at any instant, with workers that never see it.

A terminal's Ctrl-C reaches the whole process group: the driver and every worker process. The
driver must act on it (at once while a cluster starts, at its safe points afterwards), the
workers must not (a KeyboardInterrupt in a worker is a traceback and a lost trial). A signal
mask is per thread and inherited by the threads and processes a thread starts, so the cluster is
built in a starter thread that blocks SIGINT: distributed's event loop thread, the threads that
spawn worker processes (also when a nanny restarts a worker later) and the worker processes all
inherit the block, and a SIGINT stays pending there forever. The main thread keeps SIGINT
unblocked and waits in short steps, so the driver's handler runs at once.

multiprocessing's resource tracker is started first, from the main thread: starting it unblocks
SIGINT and SIGTERM in the thread that starts it (``pthread_sigmask(SIG_UNBLOCK, ...)`` after the
spawn), which, done by distributed's event loop thread, undid the block for every worker after.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

__all__ = ["abandon_start", "kill_children", "release_semaphores", "start_shielded"]

T = TypeVar("T")
POLL_S = 0.05


def start_shielded(start: Callable[[], T], *, stopped: Callable[[], bool] = lambda: False,
                   abandon: Callable[[], NoReturn] | None = None) -> T:
    """``start()`` run in a thread that blocks SIGINT (inherited by all it starts); its result.

    While it runs, ``abandon()`` is called as soon as ``stopped()`` is true (it must not return:
    the half-started cluster cannot be handed back). ``start``'s exception is raised here.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # here: it unblocks SIGINT in the thread that starts it
    done: dict[str, object] = {}

    def target() -> None:
        try:
            done["value"] = start()
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            done["error"] = err

    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        thread = threading.Thread(target=target, name="ganhpo cluster start-up", daemon=True)
        thread.start()  # the thread's mask is this thread's now: SIGINT blocked
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    while thread.is_alive():
        if abandon is not None and stopped():
            abandon()
        thread.join(POLL_S)
    if "error" in done:
        raise done["error"]  # type: ignore[misc]
    return done["value"]  # type: ignore[return-value]


def kill_children(timeout: float = 3.0) -> None:
    """SIGKILL every process this one started, directly or not (not multiprocessing's resource
    tracker, which exits by itself with this process), and wait up to ``timeout`` s for them."""
    from multiprocessing import resource_tracker

    import psutil

    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    killed: list[psutil.Process] = []
    for _ in range(3):  # again: a thread may have spawned one meanwhile
        children = [p for p in psutil.Process().children(recursive=True)
                    if p.pid != tracker and p not in killed]
        if not children:
            break
        for child in children:
            try:
                child.kill()
            except psutil.Error:
                pass
        killed += children
    psutil.wait_procs(killed, timeout=timeout)


def release_semaphores() -> None:
    """Unlink this process's multiprocessing semaphores (the nannies' queues) now, as its exit
    would: after ``os._exit`` the resource tracker would unlink them with a leak warning."""
    from multiprocessing import synchronize, util

    for final in list(util._finalizer_registry.values()):
        if getattr(final, "_callback", None) is synchronize.SemLock._cleanup:
            try:
                final()
            except OSError:
                pass


def abandon_start(message: str, code: int) -> NoReturn:
    """Give up a cluster that is still starting: kill its processes, print ``message``, exit
    with ``code`` (at once: nothing was submitted, no store is open for writing)."""
    kill_children()
    release_semaphores()
    print(message, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
