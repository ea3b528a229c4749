"""The search server and the state of its Edge collection: not there yet, then damaged.

A server started before the first ingest becomes ready once the collection exists; a
damaged collection keeps it NOT_SERVING, and every call says what is wrong and how to
repair it.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from search_fixtures import KeywordEncoder, build_index, seeded_posters

from poster_index.settings import IndexSettings
from postersearch.app.wiring import open_index
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.server import create_server
from search_service.settings import SearchSettings


async def _health(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int((await stub.Check(health_pb2.HealthCheckRequest())).status)


async def test_a_collection_ingested_after_start_is_served(tmp_path: Path) -> None:
    index = open_index(IndexSettings(backend="edge", path=str(tmp_path)), open_now=False)
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(KeywordEncoder(), index, settings), 0.1)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            assert not await server.check_now()
            assert await _health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Search(search_pb2.SearchRequest(query="a"))
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "does not exist yet" in (err.value.details() or "")

            posters, vectors = seeded_posters(30)
            build_index(tmp_path, posters, vectors).close()  # an ingest in another process

            assert await server.wait_serving(5), "the new collection must be found"
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
            response = await stub.Search(search_pb2.SearchRequest(query="a", limit=30))
            assert len(response.hits) == 30
    finally:
        await server.stop(0)
        index.close()


async def test_a_damaged_collection_is_not_served(tmp_path: Path) -> None:
    posters, vectors = seeded_posters(60)
    build_index(tmp_path, posters, vectors).close()
    (segment,) = [p for p in (tmp_path / "posters" / "segments").iterdir() if p.is_dir()]
    with (segment / "vector_storage-image" / "vectors" / "chunk_0.mmap").open("r+b") as f:
        f.truncate(100)
    index = open_index(IndexSettings(backend="edge", path=str(tmp_path)), open_now=False)
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(KeywordEncoder(), index, settings), 0.1)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert not await server.check_now()
            assert await _health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = search_pb2_grpc.SearchServiceStub(channel)
            for request in (search_pb2.SearchRequest(query="a"), search_pb2.SearchRequest()):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.Search(request) if request.query else await stub.ListGenres(
                        search_pb2.ListGenresRequest()
                    )
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
                details = err.value.details() or ""
                assert "damaged" in details and "re-ingest" in details and "\n" not in details
    finally:
        await server.stop(0)
        index.close()
