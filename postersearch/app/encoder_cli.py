"""``poster-search encoder``: runs the encoder gRPC server."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from encoder_service.settings import EncoderSettings
from postersearch.app.options import add_settings_options, given
from postersearch.app.servers import run_encoder_server
from postersearch.app.wiring import encoder_settings
from postersearch.grpc_server import exit_code_now
from postersearch.settings_errors import one_line_settings_errors


def add_commands(subparsers: Any) -> None:
    """Adds the ``encoder`` subcommand."""
    parser = subparsers.add_parser(
        "encoder",
        help="run the encoder gRPC server (text and images to vectors)",
        description=(
            "Serve a SigLIP-family model over gRPC. Every setting can also come from an "
            "ENCODER_* environment variable (ENCODER_PORT, ENCODER_MODEL, ENCODER_API_KEY, "
            "ENCODER_MAX_BATCH_SIZE, ENCODER_METRICS_PORT...); flags win over the environment."
        ),
    )
    add_settings_options(parser, EncoderSettings, ["port", "host", "model", "device", "dtype"])
    parser.set_defaults(func=run)


@one_line_settings_errors
def run(args: argparse.Namespace) -> int:
    """Builds the settings from the environment and the flags, then serves."""
    fields = given(args, EncoderSettings)
    settings = encoder_settings(fields.pop("model", None), fields.pop("device", None), **fields)
    try:
        code = asyncio.run(run_encoder_server(settings))
    except KeyboardInterrupt:
        # Ctrl-C while the model was still loading.
        code = 130
    return exit_code_now(code, thread_prefix="encoder-")
