"""SearchService through a real server on port 0 and a real channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from search_fixtures import (
    IMAGE_PREFIX,
    MODEL_ID,
    KeywordEncoder,
    Seeded,
    build_index,
    text_vector,
)

from poster_index.edge import EdgePosterIndex
from postersearch.app.wiring import LoadingEncoder
from postersearch.domain import Poster, SearchFilter
from postersearch.encoding import OverloadedError
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.mapping import filter_to_pb
from search_service.server import SearchServer, create_server
from search_service.servicer import SERVICE_NAME
from search_service.settings import SearchSettings

KEY = "s3cret-key"
AUTH = (("authorization", f"Bearer {KEY}"),)


@dataclass
class Running:
    server: SearchServer
    stub: search_pb2_grpc.SearchServiceStub
    channel: grpc.aio.Channel
    encoder: KeywordEncoder


@pytest.fixture
async def running(
    encoder: KeywordEncoder, index: EdgePosterIndex, request: pytest.FixtureRequest
) -> AsyncIterator[Running]:
    api_key = getattr(request, "param", None)
    settings = SearchSettings(host="127.0.0.1", port=0, api_key=api_key)
    server, port = create_server(settings, PosterSearch(encoder, index, settings))
    await server.start()
    assert await server.wait_serving(5)
    encoder.text_calls.clear()  # the readiness probe's call is not the tests' business
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(server, search_pb2_grpc.SearchServiceStub(channel), channel, encoder)
    finally:
        await channel.close()
        await server.stop(0)


def hit_ids(response: search_pb2.SearchResponse) -> list[str]:
    return [hit.poster.movie_id for hit in response.hits]


FILTERS = [
    SearchFilter(),
    SearchFilter(genres_any=("Horror", "Thriller")),
    SearchFilter(genres_all=("Drama", "Comedy")),
    SearchFilter(genres_none=("Horror", "Drama")),
    SearchFilter(year_from=2000),
    SearchFilter(year_to=1985),
    SearchFilter(year_from=1980, year_to=1989),
    SearchFilter(min_rating=6.0),
    SearchFilter(genres_any=("Sci-Fi",), genres_none=("Comedy",), year_from=1975, min_rating=3),
]


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: repr(f).replace(" ", ""))
async def test_search_with_every_filter_kind(
    running: Running, seeded: Seeded, flt: SearchFilter
) -> None:
    query = "dark red horror movie poster with a single face"
    response = await running.stub.Search(
        search_pb2.SearchRequest(query=query, filter=filter_to_pb(flt), limit=20)
    )
    assert hit_ids(response) == seeded.expected(text_vector(query), flt)[:20]
    assert response.model_id == MODEL_ID


async def test_hits_carry_payload_and_unset_fields_stay_unset(
    running: Running, seeded: Seeded
) -> None:
    response = await running.stub.Search(search_pb2.SearchRequest(query="q", limit=100))
    by_id = {p.movie_id: p for p in seeded.posters}
    assert len(response.hits) == 100
    for hit in response.hits:
        stored = by_id[hit.poster.movie_id]
        assert (hit.poster.title, tuple(hit.poster.genres), hit.poster.poster) == (
            stored.title, stored.genres, stored.poster,
        )  # fmt: skip
        assert hit.poster.HasField("year") == (stored.year is not None)
        assert hit.poster.HasField("rating") == (stored.rating is not None)


async def test_default_limit_and_paging(running: Running, seeded: Seeded) -> None:
    expected = seeded.expected(text_vector("paging"), SearchFilter())
    first = await running.stub.Search(search_pb2.SearchRequest(query="paging"))
    assert hit_ids(first) == expected[:10]
    second = await running.stub.Search(search_pb2.SearchRequest(query="paging", offset=10))
    assert hit_ids(second) == expected[10:20]


async def test_filter_only_request_browses_by_rating(running: Running, seeded: Seeded) -> None:
    flt = SearchFilter(genres_any=("Horror",))
    response = await running.stub.Search(
        search_pb2.SearchRequest(filter=filter_to_pb(flt), limit=5)
    )
    expected = seeded.by_rating(flt)[:5]
    assert hit_ids(response) == [p.movie_id for p in expected]
    assert [h.score for h in response.hits] == pytest.approx([p.rating for p in expected])
    assert running.encoder.text_calls == []


async def test_search_by_image_and_similar(running: Running, seeded: Seeded) -> None:
    by_image = await running.stub.SearchByImage(
        search_pb2.SearchByImageRequest(image=IMAGE_PREFIX + b"poster", limit=5)
    )
    assert hit_ids(by_image) == seeded.expected(text_vector("poster"), SearchFilter())[:5]
    movie = seeded.posters[3].movie_id
    similar = await running.stub.SimilarPosters(
        search_pb2.SimilarPostersRequest(movie_id=movie, limit=5)
    )
    assert movie not in hit_ids(similar)
    assert hit_ids(similar) == seeded.expected(seeded.vectors[movie], SearchFilter(), movie)[:5]


async def test_list_genres(running: Running, seeded: Seeded) -> None:
    response = await running.stub.ListGenres(search_pb2.ListGenresRequest())
    counts = [(g.genre, g.count) for g in response.genres]
    assert sorted(counts) == sorted(
        (g, sum(g in p.genres for p in seeded.posters))
        for g in {g for p in seeded.posters for g in p.genres}
    )
    assert [c for _, c in counts] == sorted((c for _, c in counts), reverse=True)


BAD = [
    (search_pb2.SearchRequest(query="x", filter=search_pb2.Filter(genres_any=["Western"])),
     grpc.StatusCode.INVALID_ARGUMENT,
     "unknown genre 'Western'; known genres: Action, Comedy, Drama, Family, Horror, Romance, "
     "Sci-Fi, Thriller"),
    (search_pb2.SearchRequest(query="x", filter=search_pb2.Filter(year_from=2000, year_to=1990)),
     grpc.StatusCode.INVALID_ARGUMENT, "year_from (2000) is after year_to (1990)"),
    (search_pb2.SearchRequest(query="x", filter=search_pb2.Filter(min_rating=11)),
     grpc.StatusCode.INVALID_ARGUMENT, "min_rating must be between 0 and 10"),
    (search_pb2.SearchRequest(query="x", limit=0),
     grpc.StatusCode.INVALID_ARGUMENT, "limit must be between 1 and 100, got 0"),
    (search_pb2.SearchRequest(query="x", limit=1000),
     grpc.StatusCode.INVALID_ARGUMENT, "limit must be between 1 and 100, got 1000"),
    (search_pb2.SearchRequest(query="x", limit=-1),
     grpc.StatusCode.INVALID_ARGUMENT, "limit must be between 1 and 100, got -1"),
    (search_pb2.SearchRequest(query="x", offset=-5),
     grpc.StatusCode.INVALID_ARGUMENT, "offset must be 0 or more, got -5"),
    (search_pb2.SearchRequest(query="   "),
     grpc.StatusCode.INVALID_ARGUMENT, "the query is empty and no filter is set"),
    (search_pb2.SearchRequest(query="y" * 1200),
     grpc.StatusCode.INVALID_ARGUMENT, "query is 1200 characters long; at most 1000"),
    (search_pb2.SearchByImageRequest(image=b"\x89PNG broken"),
     grpc.StatusCode.INVALID_ARGUMENT, "cannot identify image file"),
    (search_pb2.SimilarPostersRequest(movie_id="no-such-movie"),
     grpc.StatusCode.NOT_FOUND, "no movie with id 'no-such-movie' in the collection"),
]  # fmt: skip


def _call(
    stub: search_pb2_grpc.SearchServiceStub, request: object
) -> Callable[..., Awaitable[Any]]:
    if isinstance(request, search_pb2.SearchByImageRequest):
        return stub.SearchByImage
    if isinstance(request, search_pb2.SimilarPostersRequest):
        return stub.SimilarPosters
    return stub.Search


@pytest.mark.parametrize(("request_", "code", "message"), BAD, ids=[b[2][:30] for b in BAD])
async def test_bad_input_gets_a_status_and_a_readable_message(
    running: Running, request_: object, code: grpc.StatusCode, message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(running.stub, request_)(request_)
    assert caught.value.code() == code
    assert message in (caught.value.details() or "")


async def test_encoder_overloaded_is_resource_exhausted(running: Running) -> None:
    running.encoder.fail = OverloadedError("4096 items queued")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.Search(search_pb2.SearchRequest(query="busy"))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "overloaded" in (caught.value.details() or "")


async def test_a_passed_deadline_ends_the_call_and_the_encoder_request(running: Running) -> None:
    running.encoder.delay_s = 5.0
    started = time.perf_counter()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.Search(search_pb2.SearchRequest(query="slow"), timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.perf_counter() - started < 2.0
    # The servicer gave up on the encoder call too, rather than leaving it running.
    for _ in range(50):
        if running.encoder.cancelled:
            break
        await asyncio.sleep(0.02)
    assert running.encoder.cancelled == 1


@pytest.mark.parametrize("running", [KEY], indirect=True)
async def test_api_key_is_required_except_for_health(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.Search(search_pb2.SearchRequest(query="x"))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await running.stub.Search(
            search_pb2.SearchRequest(query="x"), metadata=(("authorization", "Bearer nope"),)
        )
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    response = await running.stub.Search(search_pb2.SearchRequest(query="x"), metadata=AUTH)
    assert len(response.hits) == 10
    health = health_pb2_grpc.HealthStub(running.channel)
    check = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    assert check.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_search_service(running: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names: list[str] = []
    async for response in stub.ServerReflectionInfo(iter([request])):
        names = [s.name for s in response.list_services_response.service]
        break
    assert SERVICE_NAME in names


async def test_health_follows_the_encoder(encoder: KeywordEncoder, index: EdgePosterIndex) -> None:
    encoder.down = True
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(encoder, index, settings), 0.1)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            stub = search_pb2_grpc.SearchServiceStub(channel)
            request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
            assert (
                await health.Check(request)
            ).status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Search(search_pb2.SearchRequest(query="x"))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "encoder" in (caught.value.details() or "")
            encoder.down = False
            assert await server.wait_serving(5)
            assert (await health.Check(request)).status == health_pb2.HealthCheckResponse.SERVING
            assert len((await stub.Search(search_pb2.SearchRequest(query="x"))).hits) == 10
    finally:
        await server.stop(0)


async def test_health_waits_for_a_loading_model(index: EdgePosterIndex) -> None:
    loading = LoadingEncoder("tiny")
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(loading, index, settings), 0.1)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Search(search_pb2.SearchRequest(query="x"))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "the model tiny is still loading" in (caught.value.details() or "")
            assert not server.serving
            loading.attach(KeywordEncoder())
            assert await server.wait_serving(5)
            assert len((await stub.Search(search_pb2.SearchRequest(query="x"))).hits) == 10
    finally:
        await server.stop(0)


async def test_an_unexpected_failure_is_internal_without_its_details(running: Running) -> None:
    running.encoder.fail = RuntimeError("secret path /srv/models/x exploded")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.Search(search_pb2.SearchRequest(query="boom"))
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (caught.value.details() or "")


@pytest.fixture
async def rated_tenths(
    encoder: KeywordEncoder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[search_pb2_grpc.SearchServiceStub]:
    """A search server over 101 posters rated 0.0, 0.1, ..., 10.0 (as datasets store them)."""
    posters = [
        Poster(f"r{t}", f"Rated {t / 10}", ("Drama",), 2000, t / 10, f"/p/r{t}.jpg")
        for t in range(101)
    ]
    vectors = {p.movie_id: text_vector(p.movie_id) for p in posters}
    index = build_index(tmp_path_factory.mktemp("tenths"), posters, vectors)
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(encoder, index, settings))
    await server.start()
    assert await server.wait_serving(5)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield search_pb2_grpc.SearchServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)
        index.close()


async def test_min_rating_keeps_posters_rated_exactly_the_threshold(
    rated_tenths: search_pb2_grpc.SearchServiceStub,
) -> None:
    """Every one-decimal threshold, sent through gRPC, keeps the posters rated exactly that
    (a 32-bit float turned 7.3 into 7.300000190734863 and dropped them), and ratings come
    back as stored."""
    for tenths in range(1, 101):
        threshold = tenths / 10
        for query in ("", "a rated poster"):
            response = await rated_tenths.Search(
                search_pb2.SearchRequest(
                    query=query, filter=filter_to_pb(SearchFilter(min_rating=threshold)), limit=100
                )
            )
            ratings = sorted(hit.poster.rating for hit in response.hits)
            assert ratings == [t / 10 for t in range(tenths, 101)], threshold
