"""``python -m orchestrator.monitor STORE [--port P] [--address A]``: same as ``ganhpo monitor``."""

from __future__ import annotations

import argparse
import sys

from orchestrator.monitor.server import serve
from orchestrator.store import StoreError


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve; a bad store is a one-line error and exit status 2."""
    parser = argparse.ArgumentParser(prog="python -m orchestrator.monitor", description=__doc__)
    parser.add_argument("store")
    parser.add_argument("--port", type=int, default=5006, help="0: any free port")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--allow-websocket-origin", action="append", default=None)
    parser.add_argument("--show", action="store_true", help="open a browser tab")
    args = parser.parse_args(argv)
    try:
        serve(args.store, port=args.port, address=args.address,
              allow_websocket_origin=args.allow_websocket_origin, show=args.show)
    except StoreError as err:
        print(f"ganhpo monitor: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
