"""``poster-search ingest``, ``delete`` and ``synth``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from ingest.fetch import FetchSettings
from ingest.readers import FORMATS, DatasetFormatError, read_dataset
from ingest.retry import IngestError, RetryPolicy
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, IngestSummary, Shard, run_ingest
from poster_index.base import (
    IndexUnavailableError,
    ModelMismatchError,
    PosterIndex,
    PosterIndexError,
)
from poster_index.settings import IndexSettings
from postersearch.app.wiring import encoder_settings, open_encoder, open_index
from postersearch.domain import CollectionModel
from postersearch.encoding import Encoder, EncoderError
from postersearch.metrics import start_metrics_server
from postersearch.settings_errors import one_line_settings_errors

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "./data/poster-cache"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
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
    encoder.add_argument("--encoder", metavar="HOST:PORT", help="encoder service to call")
    encoder.add_argument(
        "--encoder-api-key",
        # From the environment by default, so the key stays out of the process list.
        default=os.environ.get("ENCODER_API_KEY") or None,
        help="API key of the encoder service (ENCODER_API_KEY)",
    )
    encoder.add_argument("--model", help="in-process model id or folder (env ENCODER_MODEL)")
    encoder.add_argument("--device", help="in-process device: auto, cpu, cuda (ENCODER_DEVICE)")
    _add_index_args(ingest)
    run = ingest.add_argument_group("run")
    run.add_argument("--batch-size", type=int, default=128, help="posters per encode and upsert")
    run.add_argument("--in-flight", type=int, default=4, help="batches processed at once")
    run.add_argument("--shard", type=_shard, help="i/N: only movies whose hash mod N is i")
    run.add_argument("--report", type=Path, help="JSONL file of skipped rows and posters")
    run.add_argument(
        "--prune",
        action="store_true",
        help="delete stored movies that the dataset no longer names (of this --shard only)",
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(DEFAULT_CACHE_DIR),
        help=f"downloaded posters (default {DEFAULT_CACHE_DIR})",
    )
    run.add_argument("--download-concurrency", type=int, default=16)
    run.add_argument("--download-timeout", type=float, default=10.0, help="seconds per try")
    run.add_argument(
        "--retries",
        type=int,
        default=6,
        help="tries for an unavailable encoder or index before giving up",
    )
    run.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="interval of progress log lines when not on a terminal",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus /metrics on this port while ingesting (0: off)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.set_defaults(func=ingest_command)

    delete = subparsers.add_parser(
        "delete",
        help="delete movies from the index by id",
        description="Deletes the named movies' posters from the collection; ids that are not "
        "stored are reported and ignored. A later ingest of a dataset that still names "
        "them stores them again.",
    )
    delete.add_argument("movie_ids", nargs="+", metavar="MOVIE_ID", help="movie ids to delete")
    _add_index_args(delete)
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


def _add_index_args(parser: argparse.ArgumentParser) -> None:
    index = parser.add_argument_group("index (defaults from QDRANT_* environment variables)")
    index.add_argument("--index-backend", choices=("edge", "server"), help="QDRANT_BACKEND")
    index.add_argument("--index-path", help="Edge shard folder (QDRANT_PATH)")
    index.add_argument("--qdrant-url", help="Qdrant server URL (QDRANT_URL); implies server")
    index.add_argument("--qdrant-api-key", help="Qdrant server API key (QDRANT_API_KEY)")
    index.add_argument("--collection", help="collection name (QDRANT_COLLECTION)")


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


def index_settings(args: argparse.Namespace) -> IndexSettings:
    """IndexSettings from the environment, overridden by the command line."""
    overrides: dict[str, Any] = {}
    if args.index_path:
        overrides["path"] = args.index_path
    if args.qdrant_url:
        overrides["url"] = args.qdrant_url
        overrides["backend"] = "server"
    if args.index_backend:
        overrides["backend"] = args.index_backend
    if args.qdrant_api_key:
        overrides["api_key"] = args.qdrant_api_key
    if args.collection:
        overrides["collection"] = args.collection
    return IndexSettings(**overrides)


def _collection_or_none(index: PosterIndex) -> CollectionModel | None:
    try:
        return index.collection_model()
    except IndexUnavailableError as exc:
        # The ingest itself waits for the index (with retries) and checks the model then.
        logger.warning("cannot read the collection's model yet (%s)", exc)
        return None


async def _open_encoder(args: argparse.Namespace, index: PosterIndex) -> Encoder:
    """A GrpcEncoder for --encoder, else the in-process encoder for the collection's model."""
    if args.encoder:
        return await open_encoder(encoder_settings(), args.encoder, args.encoder_api_key)
    collection = await asyncio.to_thread(_collection_or_none, index)
    return await open_encoder(encoder_settings(args.model, args.device, collection))


async def _ingest(args: argparse.Namespace) -> IngestSummary:
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
    options = IngestOptions(
        batch_size=args.batch_size,
        in_flight=args.in_flight,
        shard=args.shard,
        report_path=args.report,
        fetch=FetchSettings(
            cache_dir=args.cache_dir,
            concurrency=args.download_concurrency,
            timeout_s=args.download_timeout,
        ),
        retry=RetryPolicy(attempts=max(1, args.retries)),
        log_every_s=args.progress_every,
        prune=args.prune,
    )
    start_metrics_server(args.metrics_port)
    index = open_index(index_settings(args))
    try:
        encoder = await _open_encoder(args, index)
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
        return summary
    finally:
        await asyncio.to_thread(index.close)


@one_line_settings_errors
def ingest_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search ingest``; exit 0 done, 1 a dependency stayed down, 2 bad input."""
    if args.report is not None and args.report.is_dir():
        print(f"error: --report {args.report} is a folder; name a file to write", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(_ingest(args))
    except (DatasetFormatError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModelMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (IngestError, PosterIndexError, EncoderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # The report or the cache folder cannot be written (permissions, a full disk).
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the same command resumes where this run stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(summary.describe())
        if args.report and summary.skipped_total:
            print(f"skipped rows and posters are listed in {args.report}")
    return 0


@one_line_settings_errors
def delete_command(args: argparse.Namespace) -> int:
    """Runs ``poster-search delete``; exit 0 done (also when none was stored), 1 index down."""
    wanted = list(dict.fromkeys(m.strip() for m in args.movie_ids if m.strip()))
    try:
        index = open_index(index_settings(args))
        try:
            if index.collection_model() is None:
                print("error: there is no collection to delete from", file=sys.stderr)
                return 1
            deleted = index.delete(wanted)
        finally:
            index.close()
    except PosterIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    missing = [m for m in wanted if m not in deleted]
    if args.json:
        print(json.dumps({"deleted": sorted(deleted), "not_stored": missing}))
    else:
        print(f"deleted {len(deleted)} of {len(wanted)} movies")
        if missing:
            print(f"not stored: {', '.join(missing)}")
    return 0
