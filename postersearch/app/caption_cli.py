"""``poster-search caption``: an English caption for every stored poster that lacks one."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.caption_config import DEFAULT_CAPTION_MODEL, CaptionerConfig
from ingest.settings import IngestSettings
from postersearch.app.exits import USAGE, exit_code_of, say_error
from postersearch.app.options import (
    Flag,
    add_index_options,
    add_settings_options,
    index_settings_from,
    settings_from,
)
from postersearch.app.wiring import open_index

if TYPE_CHECKING:
    from ingest.caption import CaptionOptions, CaptionSummary
    from poster_index.base import PosterIndex

logger = logging.getLogger(__name__)


def add_commands(subparsers: Any) -> None:
    """Adds the ``caption`` subcommand."""
    p = subparsers.add_parser(
        "caption",
        help="write an English caption of each stored poster into its payload",
        description="Captions every poster of the collection that has no caption yet and "
        "stores it in the payload field 'caption'; vectors are left as they are. Safe to "
        "re-run and to kill: a re-run captions the rest.",
    )
    p.add_argument(
        "index",
        nargs="?",
        help="Edge index folder, as --index (default: QDRANT_* variables, as for search)",
    )
    add_index_options(p)
    model = p.add_argument_group("model")
    model.add_argument(
        "--model",
        default=DEFAULT_CAPTION_MODEL,
        help=f"image-to-text checkpoint, hub id or folder (default {DEFAULT_CAPTION_MODEL})",
    )
    model.add_argument("--device", default="auto", help="auto (GPU if any), cpu, cuda, mps")
    model.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "bfloat16", "float16", "float32"),
        help="auto: bfloat16 on a GPU, float32 on the CPU",
    )
    model.add_argument("--max-new-tokens", type=int, default=40, help="longest caption")
    model.add_argument(
        "--min-new-tokens", type=int, default=0, help="shortest caption (0: the model decides)"
    )
    model.add_argument("--num-beams", type=int, default=1, help="beam width (1: greedy)")
    model.add_argument(
        "--prompt",
        help='text given with each image: a prefix, or a task ("<CAPTION>" for Florence-2)',
    )
    run = p.add_argument_group("run")
    run.add_argument("--batch-size", type=int, default=32, help="posters per model batch")
    run.add_argument(
        "--poster-root",
        action="append",
        type=Path,
        help="folder relative poster paths are read from (repeatable; absolute paths and "
        "URLs are read as stored)",
    )
    run.add_argument("--report", type=Path, help="JSONL file of posters left without caption")
    # Shared with ingest: the same poster cache, downloads and retries.
    add_settings_options(
        run,
        IngestSettings,
        [
            "cache_dir",
            Flag("download_timeout_s", "--download-timeout"),
            Flag("retries", help="Tries for an unavailable index"),
            Flag("progress_every_s", "--progress-every"),
        ],
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=caption_command)


def _positive(args: argparse.Namespace) -> str | None:
    for name in ("batch_size", "max_new_tokens", "num_beams"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be at least 1"
    if not 0 <= args.min_new_tokens <= args.max_new_tokens:
        return "--min-new-tokens must be between 0 and --max-new-tokens"
    return None


async def _caption(args: argparse.Namespace) -> CaptionSummary:
    # Lazy: the captioning modules import torch and transformers (seconds), which every
    # other command would pay for at start.
    from ingest.caption import CaptionOptions

    settings = settings_from(args, IngestSettings)
    options = CaptionOptions(
        batch_size=args.batch_size,
        poster_roots=tuple(args.poster_root or ()),
        report_path=args.report,
        fetch=settings.fetch_settings(),
        retry=settings.retry_policy(),
        log_every_s=settings.progress_every_s,
    )
    config = CaptionerConfig(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.min_new_tokens,
        num_beams=args.num_beams,
        prompt=args.prompt,
    )
    index_settings = index_settings_from(args)
    if args.index:
        index_settings = index_settings.model_copy(update={"backend": "edge", "path": args.index})
    index = open_index(index_settings)
    try:
        return await caption_collection(index, config, options)
    finally:
        await asyncio.to_thread(index.close)


async def caption_collection(
    index: PosterIndex, config: CaptionerConfig, options: CaptionOptions
) -> CaptionSummary:
    """Loads the captioner and captions every stored poster without a caption.

    Shared by ``caption`` and ``ingest --caption``. The index is left open.
    """
    from ingest.caption import check_collection, run_caption
    from ingest.captioner import Captioner

    # Before the model loads: a wrong index path fails in a second, not after a download.
    await check_collection(index)
    logger.info("loading the captioning model %s", config.model)
    captioner = await asyncio.to_thread(Captioner, config)
    return await run_caption(index, captioner, options)


def caption_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search caption``; exit 0 done, 1 a dependency failed, 2 bad input."""
    problem = _positive(args)
    if problem:
        say_error(problem)
        return USAGE
    try:
        summary = asyncio.run(_caption(args))
    except KeyboardInterrupt:
        print("interrupted; the same command captions the rest", file=sys.stderr)
        return 130
    except Exception as exc:
        # No collection, a model that cannot caption, an index that stayed down: each
        # exits as the status table says.
        return exit_code_of(exc)
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(summary.describe())
        if args.report and summary.failed_total:
            print(f"posters left without a caption are listed in {args.report}")
    return 0
