"""The ``poster-search`` command. Each package adds its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from postersearch.logs import configure_logging

# Modules exposing ``add_commands(subparsers)``; each subcommand sets ``func`` to a
# callable taking the parsed namespace and returning an exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "encoder_service.cli",
    "ingest.cli",
    "ingest.caption_cli",
    "search_service.cli",
)


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
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, json_lines=args.log_json)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
