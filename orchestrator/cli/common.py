"""What every command's parser shares: the help formatter and how a subcommand is added."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only where there is one (not None/False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if any(action.default is x for x in (None, False, argparse.SUPPRESS)) \
                or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def add_command(sub, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand parser whose description is its one-line help."""
    return sub.add_parser(name, help=help, description=help, formatter_class=HelpFormatter, **kwargs)
