"""A Ctrl-C while the ``ganhpo`` command is still importing: one line and exit 130, no traceback.

Imported first by ``orchestrator/__init__.py``; it acts only when this process is the ``ganhpo``
console script or ``python -m orchestrator.cli`` (other importers keep Python's behaviour).
"""

from __future__ import annotations

import os
import sys

__all__ = ["install"]


def _is_cli() -> bool:
    argv = getattr(sys, "orig_argv", sys.argv)
    if sys.argv and os.path.basename(sys.argv[0]) == "ganhpo":
        return True
    return any(a == "-m" and b.startswith("orchestrator.cli") for a, b in zip(argv, argv[1:]))


def _hook(kind, value, tb, previous=sys.excepthook) -> None:
    if issubclass(kind, KeyboardInterrupt):
        print("ganhpo: interrupted while starting; nothing was run", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)
    previous(kind, value, tb)


def install() -> None:
    """Install the quiet hook for an uncaught KeyboardInterrupt, in the CLI only."""
    if _is_cli():
        sys.excepthook = _hook


install()
