"""Poster downloads from a real HTTP server on 127.0.0.1: 404s, retries, the cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ingest_doubles import HashEncoder, jpeg_bytes

from ingest.fetch import FetchFailure, FetchSettings, PosterFetcher
from ingest.retry import RetryPolicy
from ingest.worker import IngestOptions, run_ingest
from poster_index.edge import EdgePosterIndex
from postersearch.domain import Poster


@dataclass
class PosterServer:
    """Serves /p/<name> from a dict; can fail the first requests of a path with 503."""

    files: dict[str, bytes]
    fail_first: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def poster_server() -> Iterator[PosterServer]:
    state = PosterServer(files={f"{i}.jpg": jpeg_bytes((i * 40, 10, 200)) for i in range(6)})
    stop_hanging = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            name = self.path.removeprefix("/p/")
            if name in state.hang:
                stop_hanging.wait(5)
                return
            if state.fail_first.get(name, 0) > 0:
                state.fail_first[name] -= 1
                self.send_error(503)
                return
            data = state.files.get(name)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/p/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    stop_hanging.set()
    server.shutdown()
    server.server_close()
    thread.join()


def _settings(cache: Path | None, **kwargs: object) -> FetchSettings:
    values: dict[str, object] = {"cache_dir": cache, "retries": 2, "backoff_s": 0.01}
    values.update(kwargs)
    return FetchSettings(**values)  # type: ignore[arg-type]


async def test_download_404_retry_and_cache(tmp_path: Path, poster_server: PosterServer) -> None:
    url = poster_server.url
    poster_server.fail_first["1.jpg"] = 2
    refs = [url + "0.jpg", url + "1.jpg", url + "missing.jpg"]
    async with PosterFetcher(_settings(tmp_path / "cache")) as fetcher:
        first = await fetcher.fetch_many(refs)
    assert first[0] == poster_server.files["0.jpg"]
    assert first[1] == poster_server.files["1.jpg"], "two 503s then success within 2 retries"
    assert first[2] == FetchFailure("http_404", f"{url}missing.jpg: HTTP 404")
    assert poster_server.requests.count("/p/1.jpg") == 3
    assert poster_server.requests.count("/p/missing.jpg") == 1, "a 404 is not retried"

    poster_server.requests.clear()
    async with PosterFetcher(_settings(tmp_path / "cache")) as fetcher:
        second = await fetcher.fetch_many(refs)
        assert fetcher.cache_hits == 2
    assert second == first
    assert poster_server.requests == ["/p/missing.jpg"], "cached posters are not downloaded"


async def test_server_errors_and_timeouts_give_up(
    tmp_path: Path, poster_server: PosterServer
) -> None:
    poster_server.fail_first["2.jpg"] = 100
    poster_server.hang.add("3.jpg")
    refs = [poster_server.url + "2.jpg", poster_server.url + "3.jpg"]
    async with PosterFetcher(_settings(None, retries=1, timeout_s=0.3)) as fetcher:
        failed, hung = await fetcher.fetch_many(refs)
    assert isinstance(failed, FetchFailure) and failed.reason == "download_failed"
    assert "HTTP 503" in failed.detail and "2 tries" in failed.detail
    assert isinstance(hung, FetchFailure) and hung.reason == "download_failed"
    assert "Timeout" in hung.detail


async def test_unreachable_host_is_a_failure_not_an_exception() -> None:
    async with PosterFetcher(_settings(None, retries=0, timeout_s=1)) as fetcher:
        (outcome,) = await fetcher.fetch_many(["http://127.0.0.1:9/none.jpg"])
    assert isinstance(outcome, FetchFailure) and outcome.reason == "download_failed"


async def test_ingest_of_url_posters(
    tmp_path: Path, poster_server: PosterServer, edge_index: EdgePosterIndex
) -> None:
    url = poster_server.url
    posters = [Poster(f"u{i}", f"Movie {i}", poster=f"{url}{i}.jpg") for i in range(6)]
    posters.append(Poster("gone", "Gone", poster=url + "gone.jpg"))
    options = IngestOptions(
        batch_size=4,
        report_path=tmp_path / "report.jsonl",
        fetch=_settings(tmp_path / "cache"),
        retry=RetryPolicy(attempts=2, base_delay_s=0.01),
        progress_bar=False,
    )
    summary = await run_ingest(posters, HashEncoder(), edge_index, options)
    assert (summary.ingested, dict(summary.skipped)) == (6, {"http_404": 1})
    (line,) = [json.loads(x) for x in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert line["movie_id"] == "gone" and line["reason"] == "http_404"
    assert line["poster"] == url + "gone.jpg"

    # A fresh index re-ingests everything from the cache; only the 404 is asked again.
    poster_server.requests.clear()
    fresh = EdgePosterIndex(tmp_path / "index2")
    again = await run_ingest(posters, HashEncoder(), fresh, options)
    fresh.close()
    assert again.ingested == 6
    assert poster_server.requests == ["/p/gone.jpg"]


async def test_local_files(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"abc")
    (tmp_path / "big.jpg").write_bytes(b"x" * 100)
    (tmp_path / "dir.jpg").mkdir()
    refs = [str(tmp_path / n) for n in ("a.jpg", "none.jpg", "big.jpg", "dir.jpg")]
    async with PosterFetcher(_settings(None, max_bytes=50)) as fetcher:
        results = await fetcher.fetch_many(refs)
    assert results[0] == b"abc"
    assert [r.reason for r in results[1:] if isinstance(r, FetchFailure)] == [
        "missing_file",
        "too_large",
        "unreadable_file",
    ]
