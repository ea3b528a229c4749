"""``poster-search caption``: an English caption for every stored poster that lacks one."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.caption_config import DEFAULT_CAPTION_MODEL, CaptionerConfig, CaptionerError
from ingest.fetch import FetchSettings
from ingest.retry import IngestError, RetryPolicy
from poster_index.base import PosterIndexError
from postersearch.app.ingest_cli import DEFAULT_CACHE_DIR
from postersearch.app.search_cli import index_settings_from
from postersearch.app.wiring import open_index

if TYPE_CHECKING:
    from ingest.caption import CaptionSummary

logger = logging.getLogger(__name__)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
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
        help="Edge index folder (default: QDRANT_* variables, as for search)",
    )
    p.add_argument("--qdrant-url", help="use a Qdrant server instead (QDRANT_URL)")
    p.add_argument("--collection", help="collection name (QDRANT_COLLECTION, posters)")
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
    run.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(DEFAULT_CACHE_DIR),
        help=f"downloaded posters (default {DEFAULT_CACHE_DIR}, shared with ingest)",
    )
    run.add_argument("--download-timeout", type=float, default=10.0, help="seconds per try")
    run.add_argument("--retries", type=int, default=6, help="tries for an unavailable index")
    run.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="interval of progress log lines when not on a terminal",
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
    from ingest.caption import CaptionOptions, check_collection, run_caption
    from ingest.captioner import Captioner

    options = CaptionOptions(
        batch_size=args.batch_size,
        poster_roots=tuple(args.poster_root or ()),
        report_path=args.report,
        fetch=FetchSettings(cache_dir=args.cache_dir, timeout_s=args.download_timeout),
        retry=RetryPolicy(attempts=max(1, args.retries)),
        log_every_s=args.progress_every,
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
    index = open_index(index_settings_from(args))
    try:
        # Before the model loads: a wrong index path fails in a second, not after a download.
        await check_collection(index)
        logger.info("loading the captioning model %s", config.model)
        captioner = await asyncio.to_thread(Captioner, config)
        return await run_caption(index, captioner, options)
    finally:
        await asyncio.to_thread(index.close)


def caption_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search caption``; exit 0 done, 1 a dependency failed, 2 bad input."""
    # Lazy, as in _caption: the captioning modules import torch and transformers (seconds),
    # which every other command would pay for at start.
    from ingest.caption import NoCollectionError

    problem = _positive(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(_caption(args))
    except (NoCollectionError, CaptionerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (IngestError, PosterIndexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the same command captions the rest", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(summary.describe())
        if args.report and summary.failed_total:
            print(f"posters left without a caption are listed in {args.report}")
    return 0
