"""``poster-search encoder``: runs the encoder gRPC server."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from encoder_service.settings import DEFAULT_MODEL
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
    parser.add_argument("--port", type=int, help="gRPC port (ENCODER_PORT, default 50051)")
    parser.add_argument("--host", help="interface to bind (ENCODER_HOST, default 0.0.0.0)")
    parser.add_argument(
        "--model",
        help=f"model id or local folder (ENCODER_MODEL, default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--device", help="auto, cpu, cuda, cuda:N or mps (ENCODER_DEVICE, default auto)"
    )
    parser.add_argument(
        "--dtype",
        help="auto, bfloat16, float16 or float32 (ENCODER_DTYPE, default auto: bf16 on CUDA)",
    )
    parser.set_defaults(func=run)


@one_line_settings_errors
def run(args: argparse.Namespace) -> int:
    """Builds the settings from the environment and the flags, then serves."""
    overrides = {
        name: getattr(args, name)
        for name in ("port", "host", "dtype")
        if getattr(args, name) is not None
    }
    settings = encoder_settings(args.model, args.device, **overrides)
    try:
        code = asyncio.run(run_encoder_server(settings))
    except KeyboardInterrupt:
        # Ctrl-C while the model was still loading.
        code = 130
    return exit_code_now(code, thread_prefix="encoder-")
