"""The ``poster-search`` command: the subcommands of the application's command modules."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from postersearch.app import caption_cli, encoder_cli, ingest_cli, search_cli
from postersearch.logs import configure_logging

# Each exposes ``add_commands(subparsers)``; each subcommand sets ``func`` to a callable
# taking the parsed namespace and returning an exit code.
COMMAND_MODULES = (encoder_cli, ingest_cli, caption_cli, search_cli)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every package's subcommands."""
    parser = argparse.ArgumentParser(
        prog="poster-search",
        description="Find movie posters described in words (Korean or English).",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("POSTER_SEARCH_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (env POSTER_SEARCH_LOG_LEVEL)",
    )
    parser.add_argument(
        "--log-json",
        action="store_true",
        default=os.environ.get("POSTER_SEARCH_LOG_JSON", "") not in ("", "0", "false"),
        help="log one JSON object per line (env POSTER_SEARCH_LOG_JSON=1)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, json_lines=args.log_json)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
