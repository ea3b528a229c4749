"""The PosterIndex contract, run against Qdrant Edge and qdrant-client's local mode alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from index_samples import DIM, KNOWN, MODEL, IndexFactory, descending_query, unit_vector

from poster_index.base import ModelMismatchError, PosterIndex
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter

# qdrant-client's local mode says, rightly, that it ignores payload indexes and HNSW settings.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]


def ids(hits: list[Any]) -> list[str]:
    return [h.poster.movie_id for h in hits]


def test_no_collection_before_ensure(open_backend: IndexFactory) -> None:
    assert open_backend().collection_model() is None


def test_ensure_creates_and_reopens(open_backend: IndexFactory) -> None:
    first = open_backend()
    first.ensure_collection(MODEL)
    assert first.collection_model() == MODEL
    first.ensure_collection(MODEL)  # a second call checks and keeps it

    again = open_backend()
    assert again.collection_model() == MODEL
    again.ensure_collection(MODEL)
    assert again.count() == 0


@pytest.mark.parametrize(
    "other",
    [CollectionModel("google/siglip2-base-patch16-256", DIM), CollectionModel(MODEL.model_id, 16)],
    ids=["model-id", "dimension"],
)
def test_other_model_is_refused(open_backend: IndexFactory, other: CollectionModel) -> None:
    open_backend().ensure_collection(MODEL)
    with pytest.raises(ModelMismatchError) as err:
        open_backend().ensure_collection(other)
    message = str(err.value)
    assert MODEL.model_id in message and other.model_id in message
    assert f"{MODEL.dimension}-d" in message and f"{other.dimension}-d" in message


def test_upsert_is_idempotent_by_movie_id(
    index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    index.upsert([PosterVector(make_poster(movie_id="tt1", title="Old"), unit_vector(1))])
    index.upsert([PosterVector(make_poster(movie_id="tt1", title="New"), unit_vector(2))])
    assert index.count() == 1
    poster = index.get_poster("tt1")
    assert poster is not None and poster.title == "New"
    assert index.get_vector("tt1") == pytest.approx(unit_vector(2), abs=1e-5)


def test_existing_ids(known_index: PosterIndex) -> None:
    assert known_index.existing_ids(["1", "4", "nope", "8", "9"]) == {"1", "4", "8"}
    assert known_index.existing_ids([]) == set()


FILTER_CASES: list[tuple[SearchFilter, set[str]]] = [
    (SearchFilter(), set(KNOWN)),
    (SearchFilter(genres_any=("Comedy",)), {"2", "4", "7"}),
    (SearchFilter(genres_any=("Horror", "Action")), {"3", "5"}),
    (SearchFilter(genres_all=("Comedy", "Romance")), {"2"}),
    (SearchFilter(genres_all=("Drama", "Comedy")), {"4"}),
    (SearchFilter(genres_none=("Drama", "Comedy")), {"3", "5", "6", "8"}),
    (SearchFilter(year_from=1995, year_to=2005), {"1", "2", "7", "8"}),
    (SearchFilter(year_from=2010), {"4", "5"}),
    (SearchFilter(year_to=1990), {"3"}),
    (SearchFilter(min_rating=7.5), {"1", "4", "6"}),
    (SearchFilter(genres_any=("Comedy",), year_from=2000), {"2", "4"}),
    (SearchFilter(genres_none=("Drama",), min_rating=6.0), {"2", "6", "7"}),
    (SearchFilter(genres_any=("Western",)), set()),
]


@pytest.mark.parametrize(("flt", "expected"), FILTER_CASES, ids=lambda x: repr(x)[:60])
def test_every_filter_kind(known_index: PosterIndex, flt: SearchFilter, expected: set[str]) -> None:
    hits = known_index.search(descending_query(), flt, limit=20)
    assert ids(hits) == sorted(expected, key=int)  # nearest first: the vectors order by id
    assert set(ids(known_index.browse(flt, limit=20))) == expected
    assert known_index.count(flt) == len(expected)


def test_search_scores_and_exclude(known_index: PosterIndex) -> None:
    hits = known_index.search(descending_query(), SearchFilter(), limit=3, exclude_movie_id="1")
    assert ids(hits) == ["2", "3", "4"]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and 0.0 < scores[-1] < 1.0
    exact = known_index.search(unit_vector(5), SearchFilter(), limit=1)
    assert ids(exact) == ["5"] and exact[0].score == pytest.approx(1.0, abs=1e-5)


def test_search_offset_pages(known_index: PosterIndex) -> None:
    q = descending_query()
    pages = [ids(known_index.search(q, SearchFilter(), limit=3, offset=o)) for o in (0, 3, 6)]
    assert pages == [["1", "2", "3"], ["4", "5", "6"], ["7", "8"]]


def test_browse_orders_by_rating_then_unrated(known_index: PosterIndex) -> None:
    hits = known_index.browse(SearchFilter(), limit=20)
    assert ids(hits) == ["6", "4", "1", "7", "2", "3", "8", "5"]
    assert [h.score for h in hits] == [9.0, 8.2, 7.5, 6.5, 6.0, 5.5, 4.0, 0.0]
    assert ids(known_index.browse(SearchFilter(), limit=3, offset=3)) == ["7", "2", "3"]
    assert ids(known_index.browse(SearchFilter(), limit=3, offset=6)) == ["8", "5"]
    assert ids(known_index.browse(SearchFilter(genres_any=("Romance",)), limit=5)) == ["6", "2"]


def test_get_vector_and_poster(known_index: PosterIndex) -> None:
    vector = known_index.get_vector("3")
    assert vector is not None and vector == pytest.approx(unit_vector(3), abs=1e-5)
    poster = known_index.get_poster("5")
    assert poster is not None
    assert (poster.title, poster.genres, poster.year, poster.rating) == (
        "Film 5",
        ("Action", "Sci-Fi"),
        2015,
        None,
    )
    assert poster.poster.endswith(".jpg")
    assert known_index.get_vector("missing") is None
    assert known_index.get_poster("missing") is None


def test_get_vectors_reads_the_stored_ones_by_movie_id(known_index: PosterIndex) -> None:
    found = known_index.get_vectors(["3", "missing", "5"])
    assert set(found) == {"3", "5"}
    for movie_id in ("3", "5"):
        assert found[movie_id] == pytest.approx(unit_vector(int(movie_id)), abs=1e-5)
    assert known_index.get_vectors([]) == {}


def test_genre_counts(known_index: PosterIndex) -> None:
    assert known_index.genre_counts() == {
        "Drama": 2,
        "Comedy": 3,
        "Romance": 2,
        "Horror": 1,
        "Action": 1,
        "Sci-Fi": 1,
    }


def test_count(known_index: PosterIndex) -> None:
    assert known_index.count() == len(KNOWN)
    assert known_index.count(SearchFilter(min_rating=9.5)) == 0
