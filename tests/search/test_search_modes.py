"""Search modes hybrid, vector and text through PosterSearch, gRPC and the CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import qdrant_edge as edge
from search_fixtures import DIM, MODEL_ID, KeywordEncoder, TinyCollection, build_index, text_vector

from poster_index.base import VECTOR_NAME
from poster_index.edge import EdgePosterIndex
from poster_index.model_record import write_model_record
from postersearch.app.cli import main
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter, SearchMode
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import NO_TEXT_NOTICE, PosterSearch
from search_service.errors import InvalidRequestError
from search_service.server import create_server
from search_service.settings import SearchSettings

MOVIES = [
    Poster("p", "Parasite", ("Drama",), 2019, 8.5, "/p.jpg", original_title="기생충",
           overview="A poor family schemes its way into a rich household."),
    Poster("h", "Heat", ("Crime",), 1995, 8.0, "/h.jpg", keywords=("heist", "casino")),
    Poster("n", "Neon Alley", ("Sci-Fi",), 2020, 7.0, "/n.jpg", keywords=("네온사인", "해커")),
    *[Poster(f"x{i}", f"Movie {i}", ("Drama",), 2000, 5.0, f"/x{i}.jpg") for i in range(20)],
]  # fmt: skip


@pytest.fixture(scope="module")
def worded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgePosterIndex]:
    path = tmp_path_factory.mktemp("worded")
    vectors = {p.movie_id: text_vector(p.movie_id) for p in MOVIES}
    index = build_index(path, MOVIES, vectors)
    yield index
    index.close()


@pytest.fixture
def search(worded: EdgePosterIndex) -> PosterSearch:
    return PosterSearch(KeywordEncoder(), worded, SearchSettings())


NO_TRANSLATOR_HANGUL = "no translator runs for Hangul text, so the query was searched as typed only"


def ids(page: object) -> list[str]:
    return [hit.poster.movie_id for hit in page.hits]  # type: ignore[attr-defined]


async def test_hybrid_is_the_default_and_finds_a_title_first(search: PosterSearch) -> None:
    for query in ("Parasite", "parasite", "기생충", "a heist in a casino", "네온사인이 많은 해커"):
        page = await search.search(query, limit=5)
        assert page.mode is SearchMode.HYBRID
        # The stand-in encoder runs no translator, and a Korean query's page says so.
        assert page.notice in ("", NO_TRANSLATOR_HANGUL), query
        assert "text" in page.hits[0].found_by, query
    assert ids(await search.search("Parasite", limit=5))[0] == "p"
    assert ids(await search.search("a heist in a casino", limit=5))[0] == "h"
    assert ids(await search.search("네온사인이 많은 해커", limit=5))[0] == "n"


async def test_vector_mode_is_the_image_ranking_alone(
    search: PosterSearch, worded: EdgePosterIndex
) -> None:
    page = await search.search("Parasite", limit=5, mode="vector")
    expected = worded.search(text_vector("Parasite").tolist(), SearchFilter(), 5)
    assert ids(page) == [h.poster.movie_id for h in expected]
    assert page.mode is SearchMode.VECTOR
    assert all(h.found_by == ("vector",) for h in page.hits)


async def test_text_mode_needs_no_encoder(worded: EdgePosterIndex) -> None:
    search = PosterSearch(KeywordEncoder(down=True), worded, SearchSettings())
    page = await search.search("heist", SearchFilter(genres_any=("Crime",)), mode="text")
    assert ids(page) == ["h"]
    assert page.mode is SearchMode.TEXT
    assert page.hits[0].found_by == ("text",)
    assert (
        await search.search("heist", SearchFilter(genres_any=("Drama",)), mode="text")
    ).hits == []


async def test_bad_modes_and_wordless_text_queries_are_refused(search: PosterSearch) -> None:
    with pytest.raises(InvalidRequestError, match="unknown search mode 'fuzzy'; one of hybrid"):
        await search.search("heist", mode="fuzzy")
    with pytest.raises(InvalidRequestError, match="no word to match"):
        await search.search("the of a", mode="text")
    # Hybrid with no word to match is the vector search.
    page = await search.search("the of a", limit=3)
    assert all(h.found_by == ("vector",) for h in page.hits)


@pytest.fixture
def old_collection(tmp_path: Path) -> Iterator[EdgePosterIndex]:
    """A collection created before words were stored: no text vector, no term index."""
    shard_dir = tmp_path / "posters"
    write_model_record(shard_dir, CollectionModel(MODEL_ID, DIM))
    config = edge.EdgeConfig(
        vectors={VECTOR_NAME: edge.EdgeVectorParams(size=DIM, distance=edge.Distance.Cosine)}
    )
    edge.EdgeShard.create(str(shard_dir), config).close()
    index = EdgePosterIndex(tmp_path)
    index.upsert([PosterVector(m, text_vector(m.movie_id).tolist()) for m in MOVIES])
    yield index
    index.close()


@pytest.mark.parametrize("mode", [None, "hybrid", "text"])
async def test_a_collection_without_words_answers_in_vector_mode_and_says_so(
    old_collection: EdgePosterIndex, mode: str | None
) -> None:
    search = PosterSearch(KeywordEncoder(), old_collection, SearchSettings())
    page = await search.search("Parasite", limit=5, mode=mode)
    assert page.mode is SearchMode.VECTOR
    assert page.notice == NO_TEXT_NOTICE
    expected = old_collection.search(text_vector("Parasite").tolist(), SearchFilter(), 5)
    assert ids(page) == [h.poster.movie_id for h in expected]


@pytest.fixture
async def stub(search: PosterSearch) -> AsyncIterator[search_pb2_grpc.SearchServiceStub]:
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, search)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield search_pb2_grpc.SearchServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)


async def test_grpc_carries_the_mode_and_the_branches(
    stub: search_pb2_grpc.SearchServiceStub,
) -> None:
    response = await stub.Search(search_pb2.SearchRequest(query="Parasite", limit=3))
    assert response.mode == search_pb2.SEARCH_MODE_HYBRID
    assert response.hits[0].poster.movie_id == "p"
    assert "text" in response.hits[0].found_by
    text = await stub.Search(
        search_pb2.SearchRequest(query="casino", mode=search_pb2.SEARCH_MODE_TEXT)
    )
    assert text.mode == search_pb2.SEARCH_MODE_TEXT
    assert [(h.poster.movie_id, list(h.found_by)) for h in text.hits] == [("h", ["text"])]
    vector = await stub.Search(
        search_pb2.SearchRequest(query="casino", mode=search_pb2.SEARCH_MODE_VECTOR, limit=2)
    )
    assert [list(h.found_by) for h in vector.hits] == [["vector"], ["vector"]]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Search(search_pb2.SearchRequest(query="the", mode=search_pb2.SEARCH_MODE_TEXT))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_cli_finds_a_stored_title_first(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    """On synthetic posters ingested with the random tiny SigLIP, a title search shows
    that movie first: the words find it, whatever the random vectors say."""
    index = str(tiny_collection.index_dir)
    for poster in tiny_collection.posters[:6]:
        code = main(["--log-level", "WARNING", "search", poster.title, "--index", index, "--json"])
        assert code == 0
        out = json.loads(capsys.readouterr().out)
        assert out["mode"] == "hybrid"
        first = out["hits"][0]
        assert first["title"] == poster.title
        assert "text" in first["found_by"]
    code = main(["--log-level", "WARNING", "search", "the", "--mode", "text", "--index", index])
    assert code == 2
    assert "no word to match" in capsys.readouterr().err
