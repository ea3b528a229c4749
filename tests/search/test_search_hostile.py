"""The search service driven from outside as a hostile or careless client would.

A real server on port 0 over the seeded Edge collection, called through real channels
with bytes no generated stub would send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from search_fixtures import KeywordEncoder

from poster_index.edge import EdgePosterIndex
from postersearch.grpc_server import MAX_DETAILS_CHARS
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.server import SearchServer, create_server
from search_service.settings import SearchSettings

SEARCH = "/postersearch.v1.SearchService/Search"


@dataclass
class Served:
    server: SearchServer
    channel: grpc.aio.Channel
    stub: search_pb2_grpc.SearchServiceStub
    encoder: KeywordEncoder


@pytest.fixture
async def served(encoder: KeywordEncoder, index: EdgePosterIndex) -> AsyncIterator[Served]:
    settings = SearchSettings(host="127.0.0.1", port=0, max_message_bytes=64 * 1024, grace_s=3)
    server, port = create_server(settings, PosterSearch(encoder, index, settings))
    await server.start()
    assert await server.wait_serving(5)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Served(server, channel, search_pb2_grpc.SearchServiceStub(channel), encoder)
    finally:
        await channel.close()
        await server.stop(0)


async def test_malformed_protobuf_is_invalid_argument_without_internals(served: Served) -> None:
    raw = served.channel.unary_unary(SEARCH)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await raw(b"\xff\xff\xff\xff garbage")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.value.details() or ""
    assert "not a valid protobuf message" in details
    assert "Error" not in details and "Traceback" not in details


async def test_a_message_over_the_limit_is_invalid_argument(served: Served) -> None:
    """RESOURCE_EXHAUSTED would tell a client to retry what can never succeed."""
    request = search_pb2.SearchByImageRequest(image=b"x" * 100_000)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await served.stub.SearchByImage(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "too large" in (err.value.details() or "")
    assert "65,536" in (err.value.details() or "")


async def test_a_huge_unknown_genre_filter_gets_a_short_answer(served: Served) -> None:
    names = [f"genre-{i}" for i in range(5_000)]
    request = search_pb2.SearchRequest(query="a", filter=search_pb2.Filter(genres_any=names))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await served.stub.Search(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.value.details() or ""
    assert "at most 100" in details and len(details) <= MAX_DETAILS_CHARS + 40
    # Under the cap, every unknown name is echoed, but the answer stays bounded.
    request = search_pb2.SearchRequest(
        query="a", filter=search_pb2.Filter(genres_any=["x" * 99 + str(i) for i in range(90)])
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await served.stub.Search(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(err.value.details() or "") <= MAX_DETAILS_CHARS + 40


@pytest.mark.parametrize(
    "query", ["\x00\x00\x00", "\u200b\u200b", "\u200d \ufeff\u2060", "\x00 \t"]
)
async def test_text_with_nothing_visible_is_an_empty_query(served: Served, query: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await served.stub.Search(search_pb2.SearchRequest(query=query))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "empty" in (err.value.details() or "")
    assert served.encoder.text_calls == [] or all(
        t == "poster" for call in served.encoder.text_calls for t in call
    ), "nothing invisible may reach the encoder"
    # With a filter it browses, as an empty query does.
    browse = search_pb2.SearchRequest(query=query, filter=search_pb2.Filter(min_rating=5))
    assert len((await served.stub.Search(browse)).hits) > 0


async def test_shutdown_drains_with_unavailable_and_finishes_calls_in_flight(
    served: Served,
) -> None:
    served.encoder.delay_s = 0.6

    async def slow() -> search_pb2.SearchResponse:
        response: search_pb2.SearchResponse = await served.stub.Search(
            search_pb2.SearchRequest(query="slow")
        )
        return response

    in_flight = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    stopping = asyncio.create_task(served.server.stop(3.0))
    await asyncio.sleep(0.1)
    served.encoder.delay_s = 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await served.stub.Search(search_pb2.SearchRequest(query="late"))
    # UNAVAILABLE, which clients retry elsewhere; not CANCELLED.
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in (err.value.details() or "")
    health = health_pb2_grpc.HealthStub(served.channel)
    status = (await health.Check(health_pb2.HealthCheckRequest())).status
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert len((await in_flight).hits) > 0, "the call in flight finishes"
    started = asyncio.get_running_loop().time()
    await stopping
    assert asyncio.get_running_loop().time() - started < 3.0
