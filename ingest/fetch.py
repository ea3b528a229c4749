"""Getting poster bytes: local files, or http(s) downloads with a cache.

Downloads run concurrently up to a bound, time out, retry with exponential backoff on
timeouts, connection errors and 5xx/429 answers, and land in a cache folder so a second
run reads them from disk. A missing file, a 404 or a download still failing after its
retries is a FetchFailure for that poster, never an exception for the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ingest.rows import is_url

logger = logging.getLogger(__name__)

# Posters are ~50-200 KB; anything far larger is not a poster and would only be refused
# by the encoder after being downloaded.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class FetchFailure:
    """Why a poster's bytes could not be had.

    Attributes:
        reason: Short machine-friendly reason: "missing_file", "unreadable_file",
            "empty_file", "too_large", "http_<status>", "download_failed".
        detail: What happened, for a person.
    """

    reason: str
    detail: str


@dataclass(frozen=True)
class FetchSettings:
    """How posters are fetched.

    Attributes:
        cache_dir: Folder for downloaded posters; None disables the cache.
        concurrency: Downloads in flight at once.
        timeout_s: Timeout of one download attempt.
        retries: Further attempts after the first for retryable failures.
        backoff_s: Delay before the first retry; doubled for each next one.
        max_bytes: Larger posters are refused.
    """

    cache_dir: Path | None = None
    concurrency: int = 16
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5
    max_bytes: int = DEFAULT_MAX_BYTES


class _Retryable(Exception):
    """A failure worth another attempt (timeout, 5xx, 429)."""


class _Final(Exception):
    """A failure no retry will fix (404, too large)."""

    def __init__(self, failure: FetchFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class PosterFetcher:
    """Fetches poster bytes for many posters at once; use as an async context manager."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self._client: httpx.AsyncClient | None = None
        self._limit = asyncio.Semaphore(self.settings.concurrency)
        self.downloads = 0
        self.cache_hits = 0

    async def __aenter__(self) -> PosterFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the HTTP connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch_many(self, refs: Sequence[str]) -> list[bytes | FetchFailure]:
        """Bytes or the failure for each reference, in order.

        Local files are read together in one worker thread (cheap, and the event loop
        stays free); URLs are downloaded concurrently.
        """
        results: list[bytes | FetchFailure | None] = [None] * len(refs)
        local = [i for i, ref in enumerate(refs) if not is_url(ref)]
        remote = [i for i, ref in enumerate(refs) if is_url(ref)]
        if local:
            read = await asyncio.to_thread(self._read_files, [refs[i] for i in local])
            for i, outcome in zip(local, read, strict=True):
                results[i] = outcome
        if remote:
            downloaded = await asyncio.gather(*(self.fetch_url(refs[i]) for i in remote))
            for i, outcome in zip(remote, downloaded, strict=True):
                results[i] = outcome
        return [r for r in results if r is not None]

    def _read_files(self, paths: Sequence[str]) -> list[bytes | FetchFailure]:
        return [self._read_file(Path(p)) for p in paths]

    def _read_file(self, path: Path) -> bytes | FetchFailure:
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                return FetchFailure("unreadable_file", f"{path}: not a regular file")
            size = info.st_size
            if size > self.settings.max_bytes:
                return FetchFailure("too_large", f"{path}: {size} bytes")
            data = path.read_bytes()
        except FileNotFoundError:
            return FetchFailure("missing_file", f"{path}: no such file")
        except OSError as exc:
            return FetchFailure("unreadable_file", f"{path}: {exc.strerror or exc}")
        if not data:
            return FetchFailure("empty_file", f"{path}: empty")
        return data

    def cache_path(self, url: str) -> Path | None:
        """Where the download of url is cached (None when caching is off)."""
        if self.settings.cache_dir is None:
            return None
        digest = hashlib.sha256(url.encode()).hexdigest()
        suffix = os.path.splitext(urlsplit(url).path)[1].lower()[:5]
        return self.settings.cache_dir / digest[:2] / f"{digest}{suffix}"

    async def fetch_url(self, url: str) -> bytes | FetchFailure:
        """Downloads url (or reads it from the cache), retrying transient failures."""
        cached = self.cache_path(url)
        if cached is not None:
            data = await asyncio.to_thread(_read_if_exists, cached)
            if data:
                self.cache_hits += 1
                return data
        async with self._limit:
            outcome = await self._download(url)
        if isinstance(outcome, bytes) and cached is not None:
            await asyncio.to_thread(_write_atomically, cached, outcome)
        return outcome

    async def _download(self, url: str) -> bytes | FetchFailure:
        settings = self.settings
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=settings.timeout_s,
                follow_redirects=True,
                limits=httpx.Limits(max_connections=settings.concurrency),
            )
        delay = settings.backoff_s
        last = ""
        for attempt in range(settings.retries + 1):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            try:
                return await self._get(self._client, url)
            except _Retryable as exc:
                last = str(exc)
            except httpx.HTTPError as exc:
                # Timeouts, refused connections, resets: the server may come back.
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except _Final as exc:
                return exc.failure
            logger.debug("download of %s failed (attempt %d): %s", url, attempt + 1, last)
        return FetchFailure("download_failed", f"{url}: {last} after {settings.retries + 1} tries")

    async def _get(self, client: httpx.AsyncClient, url: str) -> bytes:
        async with client.stream("GET", url) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise _Retryable(f"HTTP {status}")
            if status != 200:
                raise _Final(FetchFailure(f"http_{status}", f"{url}: HTTP {status}"))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.settings.max_bytes:
                    raise _Final(FetchFailure("too_large", f"{url}: over {size} bytes"))
                chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            raise _Final(FetchFailure("empty_file", f"{url}: empty body"))
        self.downloads += 1
        return data


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    # A run killed mid-write must not leave a truncated poster that the next run
    # would take for a cached one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
