"""PosterSearch over a real Edge collection with exactly known answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from search_fixtures import IMAGE_PREFIX, MODEL_ID, KeywordEncoder, Seeded, build_index, text_vector

from poster_index.edge import EdgePosterIndex
from postersearch.domain import SearchFilter
from search_service.core import PosterSearch
from search_service.errors import DependencyUnavailableError, InvalidRequestError, NotFoundError
from search_service.settings import SearchSettings

Ids = Callable[[object], list[str]]

FILTERS = {
    "none": SearchFilter(),
    "any": SearchFilter(genres_any=("Horror", "Thriller")),
    "all": SearchFilter(genres_all=("Drama", "Comedy")),
    "none_of": SearchFilter(genres_none=("Horror", "Drama")),
    "year_from": SearchFilter(year_from=2000),
    "year_to": SearchFilter(year_to=1985),
    "year_range": SearchFilter(year_from=1980, year_to=1989),
    "min_rating": SearchFilter(min_rating=6.0),
    "combined": SearchFilter(
        genres_any=("Sci-Fi", "Action"), genres_none=("Comedy",), year_from=1975, min_rating=3
    ),
}


@pytest.fixture
def search(encoder: KeywordEncoder, index: EdgePosterIndex) -> PosterSearch:
    return PosterSearch(encoder, index, SearchSettings())


@pytest.mark.parametrize("name", FILTERS)
async def test_every_filter_kind_gives_the_exact_ranking(
    search: PosterSearch, seeded: Seeded, ids: Ids, name: str
) -> None:
    flt = FILTERS[name]
    query = "dark red horror movie poster with a single face"
    expected = seeded.expected(text_vector(query), flt)
    assert expected, "the seeded data must give each filter some matches"
    page = await search.search(query, flt, limit=100, mode="vector")
    assert ids(page) == expected[:100]
    assert page.model_id == MODEL_ID
    scores = [hit.score for hit in page.hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(
        float(seeded.vectors[expected[0]] @ text_vector(query)), abs=1e-5
    )


async def test_hits_carry_the_stored_payload(search: PosterSearch, seeded: Seeded) -> None:
    page = await search.search("neon city", limit=3)
    by_id = {p.movie_id: p for p in seeded.posters}
    for hit in page.hits:
        assert hit.poster == by_id[hit.poster.movie_id]


async def test_paging_walks_the_same_ranking(
    search: PosterSearch, seeded: Seeded, ids: Ids
) -> None:
    flt = FILTERS["min_rating"]
    expected = seeded.expected(text_vector("rainy night"), flt)
    pages = [await search.search("rainy night", flt, limit=7, offset=o) for o in (0, 7, 14)]
    assert [i for page in pages for i in ids(page)] == expected[:21]
    assert len(ids(await search.search("rainy night", flt, limit=10))) == 10
    beyond = await search.search("rainy night", flt, limit=5, offset=len(expected))
    assert beyond.hits == []


async def test_filters_alone_browse_by_rating(search: PosterSearch, seeded: Seeded) -> None:
    flt = SearchFilter(genres_any=("Comedy",), year_from=1980)
    expected = seeded.by_rating(flt)
    page = await search.search("   ", flt, limit=100)
    assert [h.poster.movie_id for h in page.hits] == [p.movie_id for p in expected]
    assert [h.score for h in page.hits if h.poster.rating is not None] == [
        pytest.approx(p.rating) for p in expected if p.rating is not None
    ]
    second = await search.search("", flt, limit=3, offset=3)
    assert [h.poster.movie_id for h in second.hits] == [p.movie_id for p in expected[3:6]]


async def test_genres_match_whatever_the_case(
    search: PosterSearch, seeded: Seeded, ids: Ids
) -> None:
    lower = await search.search("x", SearchFilter(genres_any=("horror", "SCI-FI")), limit=50)
    proper = seeded.expected(text_vector("x"), SearchFilter(genres_any=("Horror", "Sci-Fi")))
    assert ids(lower) == proper[:50]


async def test_a_repeated_query_costs_no_model_call(
    search: PosterSearch, encoder: KeywordEncoder, ids: Ids
) -> None:
    first = await search.search("neon  city at night ", limit=5)
    again = await search.search("neon city at night", limit=5)
    assert ids(first) == ids(again)
    assert encoder.text_calls == [["neon city at night"]]
    await search.search("Neon city at night", limit=5)
    assert len(encoder.text_calls) == 2


async def test_cache_drops_the_least_recently_used(
    encoder: KeywordEncoder, index: EdgePosterIndex
) -> None:
    search = PosterSearch(encoder, index, SearchSettings(cache_size=2))
    for text in ("a", "b", "a", "c", "a", "b"):
        await search.search(text, limit=1)
    # "b" was dropped when "c" arrived ("a" had just been used), so it is encoded twice.
    assert [call[0] for call in encoder.text_calls] == ["a", "b", "c", "b"]


async def test_korean_and_english_queries_go_through_the_same_encoder(
    search: PosterSearch, seeded: Seeded, ids: Ids, encoder: KeywordEncoder
) -> None:
    query = "네온사인이 많은 사이버펑크 느낌"
    page = await search.search(query, limit=5)
    assert ids(page) == seeded.expected(text_vector(query), SearchFilter())[:5]
    assert encoder.text_calls == [[query]]


async def test_search_by_image(search: PosterSearch, seeded: Seeded, ids: Ids) -> None:
    flt = FILTERS["year_range"]
    page = await search.search_by_image(IMAGE_PREFIX + b"a poster", flt, limit=5)
    assert ids(page) == seeded.expected(text_vector("a poster"), flt)[:5]


async def test_an_undecodable_image_is_a_bad_request(search: PosterSearch) -> None:
    with pytest.raises(InvalidRequestError, match="cannot identify image file"):
        await search.search_by_image(b"not an image")
    with pytest.raises(InvalidRequestError, match="empty"):
        await search.search_by_image(b"")


async def test_similar_leaves_the_movie_out(search: PosterSearch, seeded: Seeded, ids: Ids) -> None:
    movie = seeded.posters[10].movie_id
    flt = FILTERS["none"]
    page = await search.similar(movie, flt, limit=10)
    assert movie not in ids(page)
    assert ids(page) == seeded.expected(seeded.vectors[movie], flt, exclude=movie)[:10]
    filtered = await search.similar(movie, FILTERS["any"], limit=10)
    assert (
        ids(filtered) == seeded.expected(seeded.vectors[movie], FILTERS["any"], exclude=movie)[:10]
    )


async def test_similar_to_an_unknown_movie_is_not_found(search: PosterSearch) -> None:
    with pytest.raises(NotFoundError, match="no movie with id 'nope'"):
        await search.similar("nope")


async def test_genre_counts_are_faceted_from_the_index(
    search: PosterSearch, seeded: Seeded
) -> None:
    counts = await search.genre_counts()
    expected: dict[str, int] = {}
    for p in seeded.posters:
        for g in p.genres:
            expected[g] = expected.get(g, 0) + 1
    assert counts == expected


BAD_REQUESTS = [
    (
        {"query": "x", "flt": SearchFilter(genres_any=("Westernn",))},
        "unknown genre 'Westernn'; known genres: Action, Comedy",
    ),
    ({"query": "x", "flt": SearchFilter(genres_none=("Nope",))}, "known genres:"),
    (
        {"query": "x", "flt": SearchFilter(year_from=1990, year_to=1980)},
        "year_from \\(1990\\) is after year_to",
    ),
    ({"query": "x", "flt": SearchFilter(min_rating=10.5)}, "min_rating must be between 0 and 10"),
    ({"query": "x", "flt": SearchFilter(min_rating=-1)}, "min_rating must be between 0 and 10"),
    ({"query": "x", "flt": SearchFilter(min_rating=float("nan"))}, "min_rating"),
    ({"query": "x", "limit": 0}, "limit must be between 1 and 100, got 0"),
    ({"query": "x", "limit": 101}, "limit must be between 1 and 100"),
    ({"query": "x", "limit": -3}, "limit must be between 1 and 100"),
    ({"query": "x", "offset": -1}, "offset must be 0 or more"),
    ({"query": ""}, "the query is empty and no filter is set"),
    ({"query": " \t\n "}, "the query is empty and no filter is set"),
    ({"query": "x" * 1001}, "query is 1001 characters long; at most 1000"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_REQUESTS)
async def test_bad_requests_are_refused_readably(
    search: PosterSearch, encoder: KeywordEncoder, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        await search.search(**kwargs)
    assert encoder.text_calls == []


async def test_encoder_down_then_back(
    search: PosterSearch, encoder: KeywordEncoder, ids: Ids
) -> None:
    encoder.down = True
    with pytest.raises(DependencyUnavailableError, match="encoder") as caught:
        await search.search("a query nobody asked yet")
    assert caught.value.dependency == "encoder"
    # Browsing needs no encoder and keeps working meanwhile.
    assert (await search.search("", SearchFilter(min_rating=5), limit=3)).hits
    encoder.down = False
    page = await search.search("a query nobody asked yet", limit=3)
    assert len(ids(page)) == 3


async def test_a_closed_index_is_unavailable_qdrant(
    encoder: KeywordEncoder, seeded: Seeded, tmp_path: Path
) -> None:
    index = build_index(tmp_path, seeded.posters[:5], seeded.vectors)
    search = PosterSearch(encoder, index, SearchSettings())
    await search.search("warm up", limit=1)
    index.close()
    with pytest.raises(DependencyUnavailableError, match="Qdrant") as caught:
        await search.search("anything", limit=1)
    assert caught.value.dependency == "qdrant"


async def test_an_encoder_of_another_model_is_refused(index: EdgePosterIndex) -> None:
    search = PosterSearch(KeywordEncoder(model_id="other-model"), index, SearchSettings())
    with pytest.raises(DependencyUnavailableError, match="other-model"):
        await search.search("x")
    with pytest.raises(DependencyUnavailableError, match="other-model"):
        await search.check_ready()


async def test_an_empty_index_says_to_ingest(encoder: KeywordEncoder, tmp_path: Path) -> None:
    index = EdgePosterIndex(tmp_path)
    search = PosterSearch(encoder, index, SearchSettings())
    with pytest.raises(DependencyUnavailableError, match="ingest posters first"):
        await search.search("x")
    with pytest.raises(DependencyUnavailableError, match="does not exist yet"):
        await search.search("", SearchFilter(genres_any=("Horror",)))
    # Not ready: every query would be refused, so health must say NOT_SERVING.
    with pytest.raises(DependencyUnavailableError, match="does not exist yet"):
        await search.check_ready()
    index.close()


def test_vectors_are_unit_length() -> None:
    assert np.linalg.norm(text_vector("x")) == pytest.approx(1.0)


async def test_check_filter_spells_genres_as_stored_and_refuses_unknown(
    search: PosterSearch, encoder: KeywordEncoder
) -> None:
    checked = await search.check_filter(
        SearchFilter(genres_any=("sci-fi",), genres_none=("DRAMA",))
    )
    assert (checked.genres_any, checked.genres_none) == (("Sci-Fi",), ("Drama",))
    with pytest.raises(InvalidRequestError, match="unknown genres 'Noir', 'Kaiju'; known genres"):
        await search.check_filter(SearchFilter(genres_all=("Noir", "Kaiju")))
    assert encoder.text_calls == []


async def test_cache_hits_and_misses_are_counted_for_metrics(search: PosterSearch) -> None:
    from prometheus_client import REGISTRY

    def count(result: str) -> float:
        name = "postersearch_search_query_cache_total"
        return REGISTRY.get_sample_value(name, {"result": result}) or 0.0

    hits, misses = count("hit"), count("miss")
    await search.search("counted once", limit=1)
    await search.search("counted once", limit=1)
    assert (count("hit") - hits, count("miss") - misses) == (1, 1)
    assert (search.cache.hits, search.cache.misses) >= (1, 1)
