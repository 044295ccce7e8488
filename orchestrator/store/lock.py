"""One writer per store: a lock file in the store directory, held for the life of the driver.

The lock file (``ganhpo.lock``, JSON: host, pid, start time, heartbeat, a random token) is
created atomically (``O_CREAT | O_EXCL``). A second driver is refused in one line naming the
holder. A stale lock is taken over with a line saying so: its holder ran on this host and its
process is gone, or its heartbeat (refreshed at the writer's flushes) is older than
``STALE_SECONDS`` on another host. Readers never look at the lock.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from orchestrator.store.layout import StoreError

__all__ = ["LOCK_NAME", "STALE_SECONDS", "StoreLocked", "WriterLock", "read_lock"]

log = logging.getLogger("ganhpo")
LOCK_NAME = "ganhpo.lock"
STALE_SECONDS = 600.0  # a lock of another host whose heartbeat is older than this is stale
BEAT_SECONDS = 30.0  # the heartbeat is rewritten at most this often


class StoreLocked(StoreError):
    """The store is being written by another driver; the message names it and the fix."""


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def read_lock(path: str | Path) -> dict | None:
    """The holder recorded in a store's lock file, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(path) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _stale(holder: dict, now: float) -> str | None:
    """Why ``holder`` no longer holds the lock, or None if it still may."""
    if holder.get("host") == socket.gethostname():
        if not _alive(int(holder.get("pid", -1))):
            return f"its process {holder.get('pid')} is gone"
        return None
    age = now - float(holder.get("heartbeat", 0.0))
    if age > STALE_SECONDS:
        return f"its heartbeat is {age / 60:.0f} min old"
    return None


@dataclass
class WriterLock:
    """The lock of one store held by this process; ``beat`` refreshes it, ``release`` drops it."""

    path: Path  # the store directory
    token: str
    started: float
    last_beat: float = 0.0

    @property
    def file(self) -> Path:
        return self.path / LOCK_NAME

    @classmethod
    def acquire(cls, path: str | Path) -> WriterLock:
        """Take the lock of the store at ``path`` (a directory); StoreLocked if a live driver holds it."""
        path = Path(path)
        lock = cls(path, uuid.uuid4().hex, time.time())
        for _ in range(3):  # a takeover races another process at most a couple of times
            if lock._create():
                atexit.register(lock.release)
                return lock
            holder = read_lock(path)
            if holder is None:  # vanished or half-written: look again
                time.sleep(0.05)
                continue
            if holder.get("host") == socket.gethostname() and holder.get("pid") == os.getpid():
                lock.token = str(holder.get("token"))  # this process re-opens its own store
                lock.last_beat = time.monotonic()
                return lock
            why = _stale(holder, time.time())
            if why is None:
                raise StoreLocked(
                    f"store {path} is being written by another driver (host {holder.get('host')}, "
                    f"pid {holder.get('pid')}, since {_when(float(holder.get('started', 0)))}); "
                    f"wait for it to finish or stop it, or use another --store; if that driver is "
                    f"gone, delete {path / LOCK_NAME}")
            if lock._take_over(holder):
                log.warning("ganhpo: took over the stale lock of store %s (host %s, pid %s, since "
                            "%s: %s)", path, holder.get("host"), holder.get("pid"),
                            _when(float(holder.get("started", 0))), why)
                atexit.register(lock.release)
                return lock
        raise StoreLocked(f"store {path}: could not take its lock {path / LOCK_NAME} (another "
                          "driver is starting on it); try again, or use another --store")

    def _record(self) -> bytes:
        now = time.time()
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": self.started,
                           "heartbeat": now, "token": self.token}).encode()

    def _create(self) -> bool:
        """Create the lock file atomically; False if one exists."""
        try:
            fd = os.open(self.file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(self._record())
        self.last_beat = time.monotonic()
        return True

    def _write(self) -> None:
        """Rewrite the lock file (heartbeat) atomically: a temporary file renamed over it."""
        tmp = self.path / f".{LOCK_NAME}.{self.token}"
        tmp.write_bytes(self._record())
        os.replace(tmp, self.file)
        self.last_beat = time.monotonic()

    def _take_over(self, holder: dict) -> bool:
        """Replace a stale lock; only one of several racing processes wins (False for the others)."""
        guard = self.path / f"{LOCK_NAME}.takeover"
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if time.time() - guard.stat().st_mtime > 60:  # a takeover that died half-way
                guard.unlink(missing_ok=True)
            time.sleep(0.1)
            return False
        os.close(fd)
        try:
            if read_lock(self.path) != holder:  # someone else got there first
                return False
            self.file.unlink(missing_ok=True)
            return self._create()
        finally:
            guard.unlink(missing_ok=True)

    def held(self) -> bool:
        """True while the lock file is still ours."""
        holder = read_lock(self.path)
        return holder is not None and holder.get("token") == self.token

    def beat(self) -> None:
        """Refresh the heartbeat (at most every BEAT_SECONDS); StoreLocked if the lock was lost."""
        if time.monotonic() - self.last_beat < BEAT_SECONDS:
            return
        if not self.held():
            raise StoreLocked(f"store {self.path}: this driver lost its lock {self.file} (taken "
                              "over by another driver?); stop the other one and resume")
        self._write()

    def release(self) -> None:
        """Remove the lock file if it is still ours (idempotent)."""
        atexit.unregister(self.release)
        if self.held():
            self.file.unlink(missing_ok=True)
