"""The real path: the tiny SigLIP in-process and over gRPC, Qdrant Edge, synthetic posters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import pytest_asyncio
from search_fixtures import TinyCollection

from encoder_service.client import GrpcEncoder
from encoder_service.local import LocalEncoder, open_local_encoder
from encoder_service.server import create_server as create_encoder_server
from encoder_service.settings import EncoderSettings
from poster_index.edge import EdgePosterIndex
from postersearch.app.query import Ask, ask_core, ask_server
from postersearch.domain import SearchFilter
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.server import create_server
from search_service.settings import SearchSettings

pytestmark = pytest.mark.asyncio(loop_scope="module")

KOREAN = "네온사인이 많은 사이버펑크 느낌"


@dataclass
class Stack:
    encoder: LocalEncoder
    index: EdgePosterIndex
    search: PosterSearch
    collection: TinyCollection


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tiny_collection: TinyCollection) -> AsyncIterator[Stack]:
    encoder = await open_local_encoder(
        EncoderSettings(model=tiny_collection.model_id, device="cpu")
    )
    index = EdgePosterIndex(tiny_collection.index_dir)
    try:
        yield Stack(encoder, index, PosterSearch(encoder, index, SearchSettings()), tiny_collection)
    finally:
        index.close()
        await encoder.close()


def _exact(stack: Stack, vector: np.ndarray, exclude: str | None = None) -> list[str]:
    scored = []
    for poster in stack.collection.posters:
        stored = stack.index.get_vector(poster.movie_id)
        assert stored is not None
        if poster.movie_id != exclude:
            scored.append((float(np.dot(stored, vector)), poster.movie_id))
    return [movie_id for _, movie_id in sorted(scored, reverse=True)]


async def test_korean_query_end_to_end(stack: Stack) -> None:
    page = await stack.search.search(KOREAN, limit=5, mode="vector")
    vector = (await stack.encoder.encode_texts([KOREAN]))[0]
    assert [h.poster.movie_id for h in page.hits] == _exact(stack, vector)[:5]
    assert page.model_id == stack.collection.model_id
    # Hybrid: the cyberpunk stories (keywords 네온사인, 사이버펑크) come first, by their words.
    cyberpunk = {
        p.movie_id
        for p in stack.collection.posters
        if {"네온사인", "사이버펑크"} <= set(p.keywords)
    }
    hybrid = await stack.search.search(KOREAN, limit=5)
    by_words = [h.poster.movie_id for h in hybrid.hits if "text" in h.found_by]
    assert by_words == [h.poster.movie_id for h in hybrid.hits][: len(by_words)]
    assert cyberpunk, "the 24 synthetic posters hold a cyberpunk story"
    assert set(by_words) <= cyberpunk
    assert len(by_words) == min(5, len(cyberpunk))
    english = (await stack.encoder.encode_texts(["lots of neon signs, a cyberpunk feel"]))[0]
    assert not np.allclose(vector, english), "the Korean text must reach the model as Korean"


async def test_korean_query_through_the_grpc_server(stack: Stack) -> None:
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, stack.search)
    await server.start()
    try:
        assert await server.wait_serving(5)
        flt = SearchFilter(min_rating=5.0)
        remote = await ask_server(Ask(KOREAN, flt, limit=4), f"127.0.0.1:{port}")
        local = await ask_core(stack.search, Ask(KOREAN, flt, limit=4))
        assert [h.poster.movie_id for h in remote.hits] == [h.poster.movie_id for h in local.hits]
        assert [h.score for h in remote.hits] == pytest.approx([h.score for h in local.hits])
        assert all((h.poster.rating or 0) >= 5.0 for h in remote.hits)
    finally:
        await server.stop(0)


async def test_search_by_a_poster_image_finds_that_poster(stack: Stack) -> None:
    poster = stack.collection.posters[7]
    image = await asyncio.to_thread(Path(poster.poster).read_bytes)
    page = await stack.search.search_by_image(image, limit=3)
    assert page.hits[0].poster.movie_id == poster.movie_id
    assert page.hits[0].score == pytest.approx(1.0, abs=1e-3)


async def test_similar_posters_leave_the_movie_out(stack: Stack) -> None:
    movie = stack.collection.posters[2].movie_id
    vector = stack.index.get_vector(movie)
    assert vector is not None
    page = await stack.search.similar(movie, limit=6)
    ids = [h.poster.movie_id for h in page.hits]
    assert movie not in ids
    assert ids == _exact(stack, np.asarray(vector), exclude=movie)[:6]


async def test_encoder_down_then_back_on_the_same_port(stack: Stack) -> None:
    encoder_settings = EncoderSettings(host="127.0.0.1", port=0)
    encoder_server, encoder_port = create_encoder_server(encoder_settings, stack.encoder)
    await encoder_server.start()
    remote_encoder = GrpcEncoder(f"127.0.0.1:{encoder_port}", timeout_s=2.0)
    settings = SearchSettings(host="127.0.0.1", port=0)
    search = PosterSearch(remote_encoder, stack.index, settings)
    server, port = create_server(settings, search, probe_interval_s=0.2)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = search_pb2_grpc.SearchServiceStub(channel)
    try:
        assert await server.wait_serving(10)
        assert len((await stub.Search(search_pb2.SearchRequest(query="before", limit=3))).hits) == 3

        await encoder_server.stop(0)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Search(search_pb2.SearchRequest(query="while down"))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "encoder" in (caught.value.details() or "")
        for _ in range(50):
            if not server.serving:
                break
            await asyncio.sleep(0.1)
        assert not server.serving, "health must follow the encoder down"

        restarted, _ = create_encoder_server(
            encoder_settings.model_copy(update={"port": encoder_port}), stack.encoder
        )
        await restarted.start()
        try:
            # The channel reconnects with backoff; fresh texts so no cached vector answers.
            deadline = time.monotonic() + 20
            attempt, hits = 0, 0
            while time.monotonic() < deadline and not hits:
                attempt += 1
                try:
                    request = search_pb2.SearchRequest(query=f"after {attempt}", limit=3)
                    hits = len((await stub.Search(request)).hits)
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.UNAVAILABLE
                    await asyncio.sleep(0.2)
            assert hits == 3
            assert await server.wait_serving(10), "health must follow the encoder back"
        finally:
            await restarted.stop(0)
    finally:
        await channel.close()
        await server.stop(0)
        await remote_encoder.close()
