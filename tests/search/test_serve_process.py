"""`poster-search serve` as a user runs it: one process, three endpoints, a clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from search_fixtures import TinyCollection

from postersearch.v1 import encoder_pb2, encoder_pb2_grpc, search_pb2, search_pb2_grpc

STARTUP_S = 90.0


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _wait_serving(target: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"serve exited early with {process.returncode}")
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"{target} not SERVING within {STARTUP_S} s")


@contextlib.contextmanager
def _running(command: list[str], log: Path, *grpc_ports: int) -> Iterator[None]:
    """Runs command until every gRPC port is SERVING, yields, then stops it with SIGTERM and
    requires a clean exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=os.environ)
        try:
            for port in grpc_ports:
                _wait_serving(f"127.0.0.1:{port}", process)
            yield
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def served(tiny_collection: TinyCollection, tmp_path: Path) -> Iterator[list[int]]:
    encoder_port, search_port, http_port = _free_ports(3)
    command = [
        sys.executable, "-m", "postersearch.app.cli", "serve",
        "--index", str(tiny_collection.index_dir), "--model", tiny_collection.model_id,
        "--host", "127.0.0.1", "--encoder-port", str(encoder_port),
        "--port", str(search_port), "--http-port", str(http_port),
    ]  # fmt: skip
    with _running(command, tmp_path / "serve.log", search_port, encoder_port):
        yield [encoder_port, search_port, http_port]


def test_serve_answers_on_grpc_and_http_then_stops_on_sigterm(
    served: list[int], tiny_collection: TinyCollection, tmp_path: Path
) -> None:
    encoder_port, search_port, http_port = served
    # It says at start what the model runs on.
    assert "on cpu, dtype float32, backend torch" in (tmp_path / "serve.log").read_text()
    titles = {p.title for p in tiny_collection.posters}

    with grpc.insecure_channel(f"127.0.0.1:{search_port}") as channel:
        response = search_pb2_grpc.SearchServiceStub(channel).Search(
            search_pb2.SearchRequest(query="네온사인이 많은 사이버펑크 느낌", limit=5), timeout=10
        )
    assert len(response.hits) == 5
    assert {hit.poster.title for hit in response.hits} <= titles
    assert response.model_id == tiny_collection.model_id

    with grpc.insecure_channel(f"127.0.0.1:{encoder_port}") as channel:
        info = encoder_pb2_grpc.EncoderServiceStub(channel).GetInfo(
            encoder_pb2.GetInfoRequest(), timeout=10
        )
    assert info.model_id == tiny_collection.model_id
    assert info.dimension > 0

    base = f"http://127.0.0.1:{http_port}"
    page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    found = httpx.get(f"{base}/api/search", params={"query": "dark red horror"}, timeout=10)
    assert found.status_code == 200, found.text
    assert {hit["poster"]["title"] for hit in found.json()["hits"]} <= titles
    refused = httpx.get(
        f"{base}/api/search", params={"query": "x", "year_from": 2000, "year_to": 1990}, timeout=10
    )
    assert refused.status_code == 400
    assert "year" in refused.json()["error"]


@pytest.fixture
def search_server_with_page(tiny_collection: TinyCollection, tmp_path: Path) -> Iterator[list[int]]:
    search_port, http_port = _free_ports(2)
    command = [
        sys.executable, "-m", "postersearch.app.cli", "search-server",
        "--index", str(tiny_collection.index_dir), "--model", tiny_collection.model_id,
        "--host", "127.0.0.1", "--port", str(search_port), "--http-port", str(http_port),
    ]  # fmt: skip
    with _running(command, tmp_path / "search-server.log", search_port):
        yield [search_port, http_port]


def test_search_server_serves_the_web_page_when_given_a_port(
    search_server_with_page: list[int], tiny_collection: TinyCollection
) -> None:
    """The docker-compose stack's web page: search-server --http-port, one search for both."""
    _, http_port = search_server_with_page
    titles = {p.title for p in tiny_collection.posters}
    base = f"http://127.0.0.1:{http_port}"
    assert httpx.get(f"{base}/", timeout=10).status_code == 200
    found = httpx.get(f"{base}/api/search", params={"query": "blue sky", "limit": 3}, timeout=10)
    assert found.status_code == 200, found.text
    hits = found.json()["hits"]
    assert len(hits) == 3
    assert {hit["poster"]["title"] for hit in hits} <= titles
    # The posters' folder was found from the collection, so their files are served.
    image = httpx.get(base + hits[0]["poster"]["image_url"], timeout=10)
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/")


def test_search_server_stops_with_an_error_when_the_page_cannot_listen(
    tiny_collection: TinyCollection, tmp_path: Path
) -> None:
    (search_port,) = _free_ports(1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        http_port = taken.getsockname()[1]
        command = [
            sys.executable, "-m", "postersearch.app.cli", "search-server",
            "--index", str(tiny_collection.index_dir), "--model", tiny_collection.model_id,
            "--host", "127.0.0.1", "--port", str(search_port), "--http-port", str(http_port),
        ]  # fmt: skip
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=STARTUP_S,
            env=os.environ,
        )
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{http_port}" in done.stderr
