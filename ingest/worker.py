"""The ingest worker: a sync of the dataset into the index.

Batches flow through a small pipeline. One task reads rows (in a thread, since readers
do file I/O) and cuts batches; ``in_flight`` tasks each take a batch, read what the index
recorded for those movies, fetch the posters' bytes, encode what needs it and write.
Several batches are therefore being fetched and encoded at once, which keeps a
dynamic-batching encoder busy while the next posters are read.

Each stored point carries a hash of its metadata and of the poster file its vector came
from. A movie the index lacks, or whose poster bytes changed, is encoded and written; one
whose metadata alone changed gets its payload replaced and keeps its vector; an unchanged
one is left alone. Points written before hashes were recorded keep their vector and get
their payload and hashes. With ``prune``, movies no longer in the dataset are deleted
once every row was processed.

Every write is idempotent (point ids derive from movie ids; a point's hashes are written
in the same operation as what they describe), so a run killed at any moment is finished
by the next run, which ends with exactly the dataset.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ingest.fetch import FetchFailure, FetchSettings, PosterFetcher
from ingest.progress import Progress
from ingest.report import BAD_METADATA, IngestSummary, SkipReport
from ingest.retry import DependencyDownError, IngestError, RetryPolicy, call_with_retries
from ingest.rows import RejectedRow
from poster_index.base import IndexUnavailableError, PayloadUpdate, PosterIndex
from poster_index.payload import image_hash, metadata_hash
from postersearch.domain import CollectionModel, Poster, PosterVector
from postersearch.encoding import (
    Encoder,
    EncoderInfo,
    EncoderUnavailableError,
    ImageFailure,
    ImageOutcome,
    InvalidInputError,
    OverloadedError,
)
from postersearch.metrics import INGEST_POSTERS

__all__ = [
    "DependencyDownError",
    "IngestError",
    "IngestOptions",
    "IngestSummary",
    "Shard",
    "run_ingest",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Batches of posters from the reader to the workers; None marks the end.
_Batches = asyncio.Queue[list[Poster] | None]

_ENCODER_TRANSIENT = (EncoderUnavailableError, OverloadedError)
_INDEX_TRANSIENT = (IndexUnavailableError,)
# Room left in a gRPC message for the framing around the image bytes.
_MESSAGE_OVERHEAD = 64 * 1024
_READ_CHUNK = 512
_DELETE_CHUNK = 1000


def shard_of(movie_id: str, count: int) -> int:
    """The shard (0..count-1) a movie belongs to, the same in every process and run."""
    digest = hashlib.blake2b(movie_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True)
class Shard:
    """This worker's share of the dataset: movies whose stable hash mod count == index."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= i < N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parses "i/N".

        Raises:
            ValueError: Not of the form i/N with 0 <= i < N.
        """
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"shard {text!r}: expected i/N, e.g. 0/4")
        return cls(int(index), int(count))

    def owns(self, movie_id: str) -> bool:
        """True when the movie is this shard's to ingest."""
        return self.count == 1 or shard_of(movie_id, self.count) == self.index


@dataclass(frozen=True)
class IngestOptions:
    """How an ingest run proceeds.

    Attributes:
        batch_size: Posters per existence check, encode request and upsert.
        in_flight: Batches processed at once (so encode requests in flight).
        shard: Ingest only this shard's movies; None for all.
        report_path: JSONL file listing every skipped row and poster; None for none.
        fetch: How poster files and URLs are read.
        retry: How long to wait for an unavailable encoder or index.
        progress_bar: Show a bar (True), log lines (False), or decide by the terminal.
        log_every_s: Interval of progress log lines without a bar.
        total: Rows expected in this shard, for the ETA; counted when rows is a Sequence.
        prune: Delete stored movies (of this shard) that are not in the dataset.
    """

    batch_size: int = 128
    in_flight: int = 4
    shard: Shard | None = None
    report_path: Path | None = None
    fetch: FetchSettings = field(default_factory=FetchSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress_bar: bool | None = None
    log_every_s: float = 10.0
    total: int | None = None
    prune: bool = False


def _take(rows: Iterator[T], n: int) -> list[T]:
    return list(itertools.islice(rows, n))


class _Run:
    """The state of one run; its coroutines all run on one event loop, so no locks."""

    def __init__(
        self,
        encoder: Encoder,
        index: PosterIndex,
        info: EncoderInfo,
        options: IngestOptions,
        report: SkipReport,
        fetcher: PosterFetcher,
        progress: Progress,
    ) -> None:
        self.encoder = encoder
        self.index = index
        self.info = info
        self.options = options
        self.report = report
        self.fetcher = fetcher
        self.progress = progress
        self.summary = IngestSummary()
        # Every id the dataset names in this shard, rejected rows included: a movie whose
        # row is broken this time is still the dataset's, so pruning keeps it.
        self.dataset_ids: set[str] = set()

    def _owns(self, movie_id: str | None) -> bool:
        shard = self.options.shard
        # A rejected row without an id is reported by shard 0 only, not by every worker.
        return shard is None or shard.owns(movie_id or "")

    async def produce(self, rows: Iterable[Poster | RejectedRow], queue: _Batches) -> None:
        """Reads rows, reports rejected ones and queues batches of posters."""
        source = iter(rows)
        batch: list[Poster] = []
        while chunk := await asyncio.to_thread(_take, source, _READ_CHUNK):
            rejected = 0
            for row in chunk:
                movie_id = row.raw_id if isinstance(row, RejectedRow) else row.movie_id
                if not self._owns(movie_id):
                    self.summary.other_shards += 1
                    continue
                self.summary.read += 1
                if movie_id:
                    self.dataset_ids.add(movie_id)
                if isinstance(row, RejectedRow):
                    self.report.rejected(row)
                    self.summary.skipped[BAD_METADATA] += 1
                    rejected += 1
                    continue
                batch.append(row)
                if len(batch) >= self.options.batch_size:
                    await queue.put(batch)
                    batch = []
            if rejected:
                INGEST_POSTERS.labels(outcome="skipped").inc(rejected)
                self.progress.advance(rejected, 0)
        if batch:
            await queue.put(batch)

    async def consume(self, queue: _Batches) -> None:
        """Processes batches until the end marker."""
        while (batch := await queue.get()) is not None:
            await self.process(batch)

    async def _index_call(self, fn: Callable[..., T], *args: object) -> T:
        return await call_with_retries(
            lambda: asyncio.to_thread(fn, *args),
            dependency="index",
            retry_on=_INDEX_TRANSIENT,
            policy=self.options.retry,
        )

    def _skip(self, poster: Poster, reason: str, detail: str) -> None:
        self.report.skipped(poster, reason, detail)
        self.summary.skipped[reason] += 1

    async def process(self, batch: list[Poster]) -> None:
        """Brings one batch's movies in the index up to date with the dataset."""
        stored = await self._index_call(self.index.stored_content, [p.movie_id for p in batch])
        fetched = await self.fetcher.fetch_many([p.poster for p in batch])
        posters: list[Poster] = []
        images: list[bytes] = []
        digests: dict[str, str] = {}
        updates: list[PayloadUpdate] = []
        unchanged = 0
        for poster, outcome in zip(batch, fetched, strict=True):
            if isinstance(outcome, FetchFailure):
                self._skip(poster, outcome.reason, outcome.detail)
                continue
            if len(outcome) > self.info.max_image_bytes:
                self._skip(
                    poster,
                    "too_many_bytes",
                    f"{len(outcome)} bytes; the encoder takes at most {self.info.max_image_bytes}",
                )
                continue
            digest = image_hash(outcome)
            was = stored.get(poster.movie_id)
            # A point without hashes predates them: its vector is kept, its payload redone.
            if was is not None and was.image_hash in (None, digest):
                if was.image_hash == digest and was.metadata_hash == metadata_hash(poster):
                    unchanged += 1
                else:
                    updates.append(PayloadUpdate(poster, digest))
                continue
            posters.append(poster)
            images.append(outcome)
            digests[poster.movie_id] = digest
        items: list[PosterVector] = []
        start = 0
        for chunk in self._encode_chunks(images):
            outcomes = await self._encode(chunk)
            for poster, result in zip(posters[start : start + len(chunk)], outcomes, strict=True):
                if isinstance(result, ImageFailure):
                    self._skip(poster, result.code.value, _named(poster, result))
                else:
                    items.append(PosterVector(poster, result.tolist()))
            start += len(chunk)
        if items:
            await self._index_call(self.index.upsert, items, digests)
        if updates:
            await self._index_call(self.index.update_payloads, updates)
        re_encoded = sum(1 for item in items if item.poster.movie_id in stored)
        skipped = len(batch) - len(items) - len(updates) - unchanged
        self.summary.already_stored += unchanged
        self.summary.ingested += len(items) - re_encoded
        self.summary.re_encoded += re_encoded
        self.summary.updated += len(updates)
        INGEST_POSTERS.labels(outcome="already_stored").inc(unchanged)
        INGEST_POSTERS.labels(outcome="ingested").inc(len(items) - re_encoded)
        INGEST_POSTERS.labels(outcome="re_encoded").inc(re_encoded)
        INGEST_POSTERS.labels(outcome="updated").inc(len(updates))
        INGEST_POSTERS.labels(outcome="skipped").inc(skipped)
        self.report.flush()
        self.progress.advance(len(batch), len(items))

    async def prune(self) -> None:
        """Deletes the stored movies of this shard that the dataset no longer names.

        Raises:
            IngestError: The dataset named no movie at all, which is far likelier a wrong
                path or format than a wish to empty the collection.
        """
        if not self.dataset_ids:
            raise IngestError(
                "refusing to prune: the dataset names no movie, so every stored poster "
                "would be deleted; check the dataset path and format"
            )
        stored: set[str] = await self._index_call(self.index.movie_ids)
        gone = sorted(m for m in stored - self.dataset_ids if self._owns(m))
        for start in range(0, len(gone), _DELETE_CHUNK):
            deleted = await self._index_call(self.index.delete, gone[start : start + _DELETE_CHUNK])
            self.summary.pruned += len(deleted)
        INGEST_POSTERS.labels(outcome="pruned").inc(self.summary.pruned)
        if gone:
            logger.info("pruned %d movies that left the dataset", self.summary.pruned)

    def _encode_chunks(self, images: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
        """Splits images into requests within the encoder's batch and message limits."""
        max_items = max(1, self.info.max_batch_size)
        max_bytes = max(1, self.info.max_message_bytes - _MESSAGE_OVERHEAD)
        start = 0
        while start < len(images):
            end, size = start, 0
            while end < len(images) and end - start < max_items:
                if end > start and size + len(images[end]) > max_bytes:
                    break
                size += len(images[end])
                end += 1
            yield images[start:end]
            start = end

    async def _encode(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        try:
            outcomes = await call_with_retries(
                lambda: self.encoder.encode_images(images),
                dependency="encoder",
                retry_on=_ENCODER_TRANSIENT,
                policy=self.options.retry,
            )
        except InvalidInputError as exc:
            if len(images) > 1:
                # Over a limit the worker cannot see beforehand (the decode cost of
                # large images): halves go through, down to single images if need be.
                half = len(images) // 2
                return [*await self._encode(images[:half]), *await self._encode(images[half:])]
            raise IngestError(f"the encoder refused an image: {exc}") from exc
        if len(outcomes) != len(images):
            raise IngestError(
                f"the encoder answered {len(outcomes)} results for {len(images)} images"
            )
        return list(outcomes)


def _named(poster: Poster, failure: ImageFailure) -> str:
    """The encoder's per-image message with the poster named instead of its batch position."""
    reason = failure.message.removeprefix(f"image {failure.index}: ")
    return f"poster {poster.poster} {reason}"


def _first_error(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group


async def run_ingest(
    rows: Iterable[Poster | RejectedRow],
    encoder: Encoder,
    index: PosterIndex,
    options: IngestOptions | None = None,
) -> IngestSummary:
    """Syncs the index with rows: new and changed posters written, unchanged ones left.

    See the module's docstring for what is re-encoded and what only re-written.

    The collection is created (or checked against the encoder's model) before anything
    else, so a model mismatch is refused before a single poster is encoded.

    Args:
        rows: Posters and rejected rows, e.g. from ``read_dataset``.
        encoder: Where poster images become vectors.
        index: Where vectors are stored. Not closed here (closing builds the HNSW graph).
        options: Batching, concurrency, sharding, report and retry settings.

    Returns:
        The counts of the run.

    Raises:
        ModelMismatchError: The collection holds another model's vectors.
        DependencyDownError: The encoder or the index stayed unavailable through retries.
        IngestError: The encoder refused a request the worker built within its limits.
    """
    options = options or IngestOptions()
    started = time.monotonic()
    policy = options.retry
    info = await call_with_retries(
        encoder.info, dependency="encoder", retry_on=_ENCODER_TRANSIENT, policy=policy
    )
    model = CollectionModel(info.model_id, info.dimension)
    await call_with_retries(
        lambda: asyncio.to_thread(index.ensure_collection, model),
        dependency="index",
        retry_on=_INDEX_TRANSIENT,
        policy=policy,
    )
    total = options.total
    if total is None and isinstance(rows, Sequence):
        shard = options.shard
        total = sum(
            1
            for r in rows
            if shard is None
            or shard.owns((r.raw_id if isinstance(r, RejectedRow) else r.movie_id) or "")
        )
    progress = Progress(total, bar=options.progress_bar, log_every_s=options.log_every_s)
    queue: asyncio.Queue[list[Poster] | None] = asyncio.Queue(maxsize=2 * options.in_flight)
    workers = max(1, options.in_flight)
    with SkipReport(options.report_path) as report:
        async with PosterFetcher(options.fetch) as fetcher:
            run = _Run(encoder, index, info, options, report, fetcher, progress)
            try:
                async with asyncio.TaskGroup() as group:
                    consumers = [group.create_task(run.consume(queue)) for _ in range(workers)]
                    await run.produce(rows, queue)
                    for _ in consumers:
                        await queue.put(None)
                if options.prune:
                    await run.prune()
            except BaseExceptionGroup as errors:
                raise _first_error(errors) from None
            finally:
                progress.close()
    run.summary.elapsed_s = time.monotonic() - started
    logger.info("ingest done: %s", run.summary.describe())
    return run.summary
