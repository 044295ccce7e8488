"""``ganhpo monitor STORE``: serve the live Bokeh monitor of a store."""

from __future__ import annotations

import argparse

from orchestrator.cli.common import add_command


def add_parser(sub) -> None:
    """Add the ``monitor`` subcommand."""
    mon = add_command(sub, "monitor", "serve the live Bokeh monitor of a store")
    mon.add_argument("store", help="results store (Zarr) of a run, finished or running")
    mon.add_argument("--port", type=int, default=5006, metavar="PORT", help="port to serve on")
    mon.add_argument("--address", default="127.0.0.1", metavar="ADDRESS",
                     help="interface to bind (0.0.0.0: every interface)")
    mon.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                     help="extra host[:port] allowed to open the page (default: only the bound one)")
    mon.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from orchestrator.monitor import serve

    serve(args.store, port=args.port, address=args.address,
          allow_websocket_origin=args.allow_websocket_origin, show=False)
    return 0
