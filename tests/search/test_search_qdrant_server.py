"""The same searches through the Qdrant server backend (qdrant-client's local mode), and
a Qdrant server that cannot be reached."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
from qdrant_client import QdrantClient
from search_fixtures import DIM, MODEL_ID, KeywordEncoder, Seeded, text_vector

from poster_index.remote import ServerPosterIndex
from postersearch.domain import CollectionModel, PosterVector, SearchFilter
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.errors import DependencyUnavailableError
from search_service.server import create_server
from search_service.settings import SearchSettings

Ids = Callable[[object], list[str]]


@pytest.fixture(scope="module")
def server_index(seeded: Seeded) -> Iterator[ServerPosterIndex]:
    index = ServerPosterIndex(QdrantClient(location=":memory:"))
    index.ensure_collection(CollectionModel(MODEL_ID, DIM))
    index.upsert([PosterVector(p, seeded.vectors[p.movie_id].tolist()) for p in seeded.posters])
    yield index
    index.close()


@pytest.mark.parametrize(
    "flt",
    [
        SearchFilter(genres_any=("Horror", "Comedy")),
        SearchFilter(genres_all=("Drama", "Comedy"), genres_none=("Horror",)),
        SearchFilter(year_from=1980, year_to=1999, min_rating=4.5),
    ],
    ids=["any", "all-none", "years-rating"],
)
async def test_filters_through_the_server_backend(
    server_index: ServerPosterIndex, seeded: Seeded, ids: Ids, flt: SearchFilter
) -> None:
    search = PosterSearch(KeywordEncoder(), server_index, SearchSettings())
    page = await search.search("rainy neon street", flt, limit=15)
    assert ids(page) == seeded.expected(text_vector("rainy neon street"), flt)[:15]
    browse = await search.search("", flt, limit=5, offset=2)
    assert ids(browse) == [p.movie_id for p in seeded.by_rating(flt)[2:7]]
    movie = seeded.posters[0].movie_id
    similar = await search.similar(movie, flt, limit=5)
    assert ids(similar) == seeded.expected(seeded.vectors[movie], flt, exclude=movie)[:5]


async def test_an_unreachable_qdrant_is_unavailable_naming_qdrant() -> None:
    client = QdrantClient(
        url="http://127.0.0.1:9", prefer_grpc=False, timeout=1, check_compatibility=False
    )
    index = ServerPosterIndex(client)
    settings = SearchSettings(host="127.0.0.1", port=0)
    search = PosterSearch(KeywordEncoder(), index, settings)
    with pytest.raises(DependencyUnavailableError, match="Qdrant") as caught:
        await search.search("anything")
    assert caught.value.dependency == "qdrant"

    server, port = create_server(settings, search, probe_interval_s=0.2)
    await server.start()
    try:
        assert not await server.wait_serving(0.5), "health must say NOT_SERVING"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as rpc_error:
                await stub.Search(search_pb2.SearchRequest(query="anything"))
        assert rpc_error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "Qdrant" in (rpc_error.value.details() or "")
    finally:
        await server.stop(0)
        index.close()
