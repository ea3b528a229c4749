"""The captioning run: every stored poster without a caption gets one, written to its payload.

The index is the work list. Three stages overlap: a reader pages through the posters whose
payload has no ``caption`` (Qdrant's is_empty condition) and reads and decodes their images,
the model captions each page as one batch, and a writer stores a page's captions with one
payload update (leaving the vectors alone) while the model works on the next page. A run
killed at any moment loses at most the pages in flight; the next run finds exactly the
posters still without a caption.
Posters whose image cannot be read, decoded or captioned are reported and keep no caption,
so the next run tries them again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from PIL import Image

from ingest.captioner import decode_poster
from ingest.fetch import FetchFailure, FetchSettings, PosterFetcher
from ingest.progress import Progress
from ingest.report import SkipReport
from ingest.retry import IngestError, RetryPolicy, call_with_retries
from ingest.rows import is_url
from poster_index.base import IndexUnavailableError, PosterIndex
from poster_index.payload import FIELD_CAPTION
from postersearch.domain import Poster

logger = logging.getLogger(__name__)

T = TypeVar("T")

UNDECODABLE = "undecodable"
CAPTION_FAILED = "caption_failed"
EMPTY_CAPTION = "empty_caption"


class CaptionModel(Protocol):
    """What the run needs of a captioner (``ingest.captioner.Captioner``)."""

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """One caption per image, in order."""
        ...


class NoCollectionError(IngestError):
    """There is no collection to caption."""


@dataclass(frozen=True)
class CaptionOptions:
    """How a captioning run proceeds.

    Attributes:
        batch_size: Posters per page, model batch and payload update.
        poster_roots: Folders a stored relative poster path is looked up in, first match
            wins; absolute paths and URLs are read as they are.
        report_path: JSONL file listing every poster left without a caption and why.
        fetch: How poster files and URLs are read.
        retry: How long to wait for an unavailable index.
        progress_bar: Show a bar (True), log lines (False), or decide by the terminal.
        log_every_s: Interval of progress log lines without a bar.
    """

    batch_size: int = 32
    poster_roots: tuple[Path, ...] = ()
    report_path: Path | None = None
    fetch: FetchSettings = field(default_factory=FetchSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress_bar: bool | None = None
    log_every_s: float = 10.0


@dataclass
class CaptionSummary:
    """Counts of a captioning run.

    Attributes:
        captioned: Posters captioned by this run.
        already_captioned: Posters that had a caption before the run.
        failed: Posters left without a caption, by reason.
        elapsed_s: Wall time of the run.
    """

    captioned: int = 0
    already_captioned: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def failed_total(self) -> int:
        """Posters left without a caption for any reason."""
        return sum(self.failed.values())

    @property
    def posters_per_s(self) -> float:
        """Posters captioned per second of the run."""
        return self.captioned / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def describe(self) -> str:
        """One human-readable line."""
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        return (
            f"captioned {self.captioned}, already captioned {self.already_captioned}, "
            f"failed {self.failed_total} ({reasons}); "
            f"{self.posters_per_s:.1f} posters/s, {self.elapsed_s:.1f} s"
        )

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready data."""
        return {
            "captioned": self.captioned,
            "already_captioned": self.already_captioned,
            "failed": dict(self.failed),
            "failed_total": self.failed_total,
            "posters_per_s": round(self.posters_per_s, 2),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def locate_poster(ref: str, roots: Sequence[Path]) -> str:
    """Where a stored poster reference is read from.

    URLs and absolute paths are used as stored (ingest stores manifest paths made absolute);
    a relative path is looked up under each root in turn, else taken from the first root,
    else from the working directory.
    """
    if not ref or is_url(ref) or Path(ref).is_absolute():
        return ref
    for root in roots:
        candidate = root / ref
        if candidate.exists():
            return str(candidate)
    return str(roots[0] / ref) if roots else ref


@dataclass(frozen=True)
class _Loaded:
    """A page of posters with, for each, its decoded image or why there is none."""

    posters: list[Poster]
    images: list[Image.Image | tuple[str, str]]


@dataclass(frozen=True)
class _Captioned:
    """A page's captions by movie id, and how many posters the page had."""

    handled: int
    values: dict[str, object]


class _Run:
    """The state of one run; its coroutines share one event loop, so no locks."""

    def __init__(
        self,
        index: PosterIndex,
        captioner: CaptionModel,
        options: CaptionOptions,
        report: SkipReport,
        fetcher: PosterFetcher,
        progress: Progress,
        summary: CaptionSummary,
    ) -> None:
        self.index = index
        self.captioner = captioner
        self.options = options
        self.report = report
        self.fetcher = fetcher
        self.progress = progress
        self.summary = summary

    async def _index_call(self, fn: Callable[..., T], *args: object) -> T:
        return await call_with_retries(
            lambda: asyncio.to_thread(fn, *args),
            dependency="index",
            retry_on=(IndexUnavailableError,),
            policy=self.options.retry,
        )

    async def produce(self, queue: asyncio.Queue[_Loaded | None]) -> None:
        """Pages through the posters without a caption and queues them with their images."""
        page: str | None = None
        while True:
            posters, page = await self._index_call(
                self.index.posters_missing, FIELD_CAPTION, self.options.batch_size, page
            )
            if posters:
                await queue.put(await self._load(posters))
            if page is None or not posters:
                break
        await queue.put(None)

    async def _load(self, posters: list[Poster]) -> _Loaded:
        refs = [locate_poster(p.poster, self.options.poster_roots) for p in posters]
        fetched = await self.fetcher.fetch_many(refs)
        # One thread per poster from the default pool: Pillow releases the GIL while it
        # decodes, and one core decodes only about a hundred posters a second.
        images = await asyncio.gather(*(asyncio.to_thread(_decoded, f) for f in fetched))
        return _Loaded(posters, list(images))

    async def caption(
        self, pages: asyncio.Queue[_Loaded | None], writes: asyncio.Queue[_Captioned | None]
    ) -> None:
        """Captions each queued page and queues its captions, until the end marker."""
        while (page := await pages.get()) is not None:
            await writes.put(await self._caption_page(page))
        await writes.put(None)

    async def write(self, writes: asyncio.Queue[_Captioned | None]) -> None:
        """Stores each page's captions, until the end marker."""
        while (done := await writes.get()) is not None:
            if done.values:
                await self._index_call(self.index.set_payload_field, FIELD_CAPTION, done.values)
                # The caption is one of the words lexical search matches.
                await self._index_call(self.index.refresh_text, list(done.values))
            self.summary.captioned += len(done.values)
            self.report.flush()
            self.progress.advance(done.handled, len(done.values))

    def _fail(self, poster: Poster, reason: str, detail: str) -> None:
        self.report.skipped(poster, reason, detail)
        self.summary.failed[reason] += 1

    async def _caption_page(self, page: _Loaded) -> _Captioned:
        ready: list[Poster] = []
        images: list[Image.Image] = []
        for poster, image in zip(page.posters, page.images, strict=True):
            if isinstance(image, tuple):
                self._fail(poster, *image)
            else:
                ready.append(poster)
                images.append(image)
        captions = await asyncio.to_thread(self._caption_batch, images) if images else []
        values: dict[str, object] = {}
        for poster, caption in zip(ready, captions, strict=True):
            if isinstance(caption, Exception):
                self._fail(poster, CAPTION_FAILED, f"{type(caption).__name__}: {caption}")
            elif not caption:
                self._fail(poster, EMPTY_CAPTION, "the model wrote an empty caption")
            else:
                values[poster.movie_id] = caption
        return _Captioned(len(page.posters), values)

    def _caption_batch(self, images: list[Image.Image]) -> list[str | Exception]:
        """Captions for images; a batch that fails is retried image by image.

        Raises:
            IngestError: Every image of a batch of several failed alone too, so the model
                itself is failing (the device is gone, say), not one poster.
        """
        try:
            return list(self.captioner.caption(images))
        except Exception as exc:
            logger.warning("a batch of %d failed (%s); captioning one by one", len(images), exc)
        results: list[str | Exception] = []
        for image in images:
            try:
                results.append(self.captioner.caption([image])[0])
            except Exception as exc:
                results.append(exc)
        if len(images) > 1 and all(isinstance(r, Exception) for r in results):
            raise IngestError(f"the captioning model fails on every poster: {results[0]}")
        return results


def _decoded(fetched: bytes | FetchFailure) -> Image.Image | tuple[str, str]:
    """The poster's image, or (reason, detail) of why there is none."""
    if isinstance(fetched, FetchFailure):
        return (fetched.reason, fetched.detail)
    image = decode_poster(fetched)
    return (UNDECODABLE, image) if isinstance(image, str) else image


def _first_error(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group


async def check_collection(index: PosterIndex) -> None:
    """Raises NoCollectionError when the index holds no collection."""
    if await asyncio.to_thread(index.collection_model) is None:
        raise NoCollectionError("there is no collection to caption; ingest posters first")


async def run_caption(
    index: PosterIndex, captioner: CaptionModel, options: CaptionOptions | None = None
) -> CaptionSummary:
    """Captions every stored poster that has no caption yet.

    Args:
        index: The collection to caption; its vectors are left untouched. Not closed here.
        captioner: The model.
        options: Batching, poster roots, report and retry settings.

    Returns:
        The counts of the run.

    Raises:
        NoCollectionError: The index has no collection.
        DependencyDownError: The index stayed unavailable through retries.
        IngestError: The model fails on every poster.
    """
    options = options or CaptionOptions()
    started = time.monotonic()
    summary = CaptionSummary()
    await check_collection(index)
    stored = await asyncio.to_thread(index.count)
    missing = await asyncio.to_thread(index.count_missing, FIELD_CAPTION)
    summary.already_captioned = stored - missing
    progress = Progress(
        missing, bar=options.progress_bar, log_every_s=options.log_every_s, stored_as="captioned"
    )
    # Two pages read ahead, and one page's captions being written while the model works.
    pages: asyncio.Queue[_Loaded | None] = asyncio.Queue(maxsize=2)
    writes: asyncio.Queue[_Captioned | None] = asyncio.Queue(maxsize=1)
    with SkipReport(options.report_path) as report:
        async with PosterFetcher(options.fetch) as fetcher:
            run = _Run(index, captioner, options, report, fetcher, progress, summary)
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(run.caption(pages, writes))
                    group.create_task(run.write(writes))
                    await run.produce(pages)
            except BaseExceptionGroup as errors:
                raise _first_error(errors) from None
            finally:
                progress.close()
    summary.elapsed_s = time.monotonic() - started
    logger.info("captioning done: %s", summary.describe())
    return summary
