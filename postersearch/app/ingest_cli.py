"""``poster-search ingest``, ``delete`` and ``synth``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.caption_config import DEFAULT_CAPTION_MODEL, CaptionerConfig
from ingest.readers import FORMATS, read_dataset
from ingest.settings import IngestSettings
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, IngestSummary, Shard, run_ingest
from poster_index.base import (
    IndexUnavailableError,
    PosterIndex,
    PosterIndexError,
)
from postersearch.app.caption_cli import caption_collection
from postersearch.app.exits import USAGE, exit_code_of, say_error
from postersearch.app.options import (
    Flag,
    add_index_options,
    add_model_options,
    add_settings_options,
    index_settings_from,
    settings_from,
)
from postersearch.app.wiring import encoder_settings, open_encoder, open_index
from postersearch.domain import CollectionModel
from postersearch.encoding import Encoder
from postersearch.metrics import start_metrics_server
from postersearch.settings_errors import one_line_settings_errors
from postersearch.status import Outcome

if TYPE_CHECKING:
    from ingest.caption import CaptionSummary

logger = logging.getLogger(__name__)


def add_commands(subparsers: Any) -> None:
    """Adds the ``ingest`` and ``synth`` subcommands."""
    ingest = subparsers.add_parser(
        "ingest",
        help="encode a dataset's posters into the index",
        description="Syncs the index with a dataset (manifest CSV/JSONL, MovieLens or TMDB): "
        "new posters and posters whose image changed are encoded and stored, changed "
        "metadata is rewritten without encoding, unchanged posters are left alone; with "
        "--prune, movies no longer in the dataset are deleted. Safe to re-run and to kill.",
    )
    ingest.add_argument("dataset", type=Path, help="manifest file, MovieLens folder or TMDB CSV")
    ingest.add_argument("--format", default="auto", choices=FORMATS, help="dataset format")
    ingest.add_argument("--posters", type=Path, help="folder of poster images (MovieLens, TMDB)")
    ingest.add_argument("--poster-base-url", help="TMDB: base URL for poster_path")
    encoder = ingest.add_argument_group("encoder (in-process unless --encoder is given)")
    add_settings_options(
        encoder,
        IngestSettings,
        [
            Flag("encoder_target", "--encoder"),
            # From the environment by default, so the key stays out of the process list.
            Flag("encoder_api_key", help="API key of the encoder service"),
        ],
    )
    add_model_options(encoder)
    add_index_options(ingest)
    run = ingest.add_argument_group("run")
    add_settings_options(run, IngestSettings, ["batch_size", "in_flight"])
    run.add_argument("--shard", type=_shard, help="i/N: only movies whose hash mod N is i")
    run.add_argument("--report", type=Path, help="JSONL file of skipped rows and posters")
    run.add_argument(
        "--prune",
        action="store_true",
        help="delete stored movies that the dataset no longer names (of this --shard only)",
    )
    add_settings_options(
        run,
        IngestSettings,
        [
            "cache_dir",
            "download_concurrency",
            Flag("download_timeout_s", "--download-timeout"),
            "retries",
            Flag("progress_every_s", "--progress-every"),
            "metrics_port",
        ],
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    captions = ingest.add_argument_group("captions (as `poster-search caption`)")
    captions.add_argument(
        "--caption",
        action="store_true",
        help="after the ingest, caption every stored poster that has no caption yet (the "
        "new ones among them) in the same run",
    )
    captions.add_argument(
        "--caption-model",
        default=DEFAULT_CAPTION_MODEL,
        help=f"image-to-text checkpoint, hub id or folder (default {DEFAULT_CAPTION_MODEL})",
    )
    captions.add_argument(
        "--caption-device", default="auto", help="auto (GPU if any), cpu, cuda, mps"
    )
    captions.add_argument(
        "--caption-batch-size", type=int, default=32, help="posters per captioning batch"
    )
    ingest.set_defaults(func=ingest_command)

    delete = subparsers.add_parser(
        "delete",
        help="delete movies from the index by id",
        description="Deletes the named movies' posters from the collection; ids that are not "
        "stored are reported and ignored. A later ingest of a dataset that still names "
        "them stores them again.",
    )
    delete.add_argument("movie_ids", nargs="+", metavar="MOVIE_ID", help="movie ids to delete")
    add_index_options(delete)
    delete.add_argument("--json", action="store_true", help="print the outcome as JSON")
    delete.set_defaults(func=delete_command)

    synth = subparsers.add_parser(
        "synth",
        help="generate a synthetic poster dataset",
        description="Writes COUNT poster-like JPEGs and a manifest, the same for the same seed.",
    )
    synth.add_argument("--count", type=int, default=1000, help="number of movies")
    synth.add_argument("--out", type=Path, required=True, help="folder to write")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--manifest-format", choices=("jsonl", "csv"), default="jsonl")
    synth.add_argument("--workers", type=int, help="rendering processes (default: CPU count)")
    synth.set_defaults(func=synth_command)


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def synth_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search synth``."""
    started = time.monotonic()
    manifest = generate_synthetic(
        args.out, args.count, args.seed, manifest_format=args.manifest_format, workers=args.workers
    )
    print(f"{args.count} posters and {manifest} in {time.monotonic() - started:.1f} s")
    return 0


def _collection_or_none(index: PosterIndex) -> CollectionModel | None:
    try:
        return index.collection_model()
    except IndexUnavailableError as exc:
        # The ingest itself waits for the index (with retries) and checks the model then.
        logger.warning("cannot read the collection's model yet (%s)", exc)
        return None


async def _open_encoder(
    args: argparse.Namespace, settings: IngestSettings, index: PosterIndex
) -> Encoder:
    """A GrpcEncoder for --encoder, else the in-process encoder for the collection's model."""
    if settings.encoder_target:
        # The ingest worker retries an unavailable encoder (--retries), so the channel
        # does not: one batch is tried --retries times, not three times as often.
        return await open_encoder(
            encoder_settings(),
            settings.encoder_target,
            settings.encoder_api_key,
            channel_retries=False,
        )
    collection = await asyncio.to_thread(_collection_or_none, index)
    return await open_encoder(encoder_settings(args.model, args.device, collection))


async def _ingest(args: argparse.Namespace) -> tuple[IngestSummary, CaptionSummary | None]:
    rows = await asyncio.to_thread(
        lambda: list(
            read_dataset(
                args.dataset,
                args.format,
                posters=args.posters,
                poster_base_url=args.poster_base_url,
            )
        )
    )
    settings = settings_from(args, IngestSettings)
    options = IngestOptions(
        batch_size=settings.batch_size,
        in_flight=settings.in_flight,
        shard=args.shard,
        report_path=args.report,
        fetch=settings.fetch_settings(),
        retry=settings.retry_policy(),
        log_every_s=settings.progress_every_s,
        prune=args.prune,
    )
    start_metrics_server(settings.metrics_port)
    index = open_index(index_settings_from(args))
    try:
        encoder = await _open_encoder(args, settings, index)
        try:
            summary = await run_ingest(rows, encoder, index, options)
        finally:
            await encoder.close()
        if summary.wrote:
            # Searchable already (exactly, segment by segment); the graph makes it fast.
            logger.info("building the search index (HNSW) over the new posters")
            started = time.monotonic()
            await asyncio.to_thread(index.optimize)
            logger.info("search index built in %.1f s", time.monotonic() - started)
        if not args.caption:
            return summary, None
        return summary, await _caption(args, settings, index)
    finally:
        await asyncio.to_thread(index.close)


async def _caption(
    args: argparse.Namespace, settings: IngestSettings, index: PosterIndex
) -> CaptionSummary:
    """``--caption``: the posters still without a caption, captioned as ``caption`` does.

    The posters are read again from the paths and URLs the ingest stored (the cache keeps
    the downloaded ones), with the ingest's download and retry settings.
    """
    # Lazy: the captioning modules import torch and transformers (seconds).
    from ingest.caption import CaptionOptions

    options = CaptionOptions(
        batch_size=args.caption_batch_size,
        fetch=settings.fetch_settings(),
        retry=settings.retry_policy(),
        log_every_s=settings.progress_every_s,
    )
    config = CaptionerConfig(model=args.caption_model, device=args.caption_device)
    return await caption_collection(index, config, options)


@one_line_settings_errors
def ingest_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search ingest``; exit 0 done, 1 a dependency stayed down, 2 bad input."""
    if args.report is not None and args.report.is_dir():
        say_error(f"--report {args.report} is a folder; name a file to write")
        return USAGE
    if args.caption_batch_size < 1:
        say_error("--caption-batch-size must be at least 1")
        return USAGE
    try:
        summary, captions = asyncio.run(_ingest(args))
    except KeyboardInterrupt:
        print("interrupted; the same command resumes where this run stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        # A bad dataset, a model mismatch, a dependency that stayed down, a report or
        # cache folder that cannot be written: each exits as the status table says.
        return exit_code_of(exc)
    if args.json:
        outcome = summary.as_dict()
        if captions is not None:
            outcome["captions"] = captions.as_dict()
        print(json.dumps(outcome))
    else:
        print(summary.describe())
        if args.report and summary.skipped_total:
            print(f"skipped rows and posters are listed in {args.report}")
        if captions is not None:
            print(captions.describe())
    return 0


@one_line_settings_errors
def delete_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search delete``; exit 0 done (also when none was stored), 1 index down."""
    wanted = list(dict.fromkeys(m.strip() for m in args.movie_ids if m.strip()))
    try:
        index = open_index(index_settings_from(args))
        try:
            if index.collection_model() is None:
                say_error("there is no collection to delete from")
                # As search says of a missing collection: the index is not there.
                return Outcome.UNAVAILABLE.exit_code
            deleted = index.delete(wanted)
        finally:
            index.close()
    except PosterIndexError as exc:
        return exit_code_of(exc)
    missing = [m for m in wanted if m not in deleted]
    if args.json:
        print(json.dumps({"deleted": sorted(deleted), "not_stored": missing}))
    else:
        print(f"deleted {len(deleted)} of {len(wanted)} movies")
        if missing:
            print(f"not stored: {', '.join(missing)}")
    return 0
