"""Payload fields written after ingest (captions), on Qdrant Edge and qdrant-client's local mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from index_samples import KNOWN, MODEL, IndexFactory, unit_vector

from poster_index.base import PosterIndex
from poster_index.payload import FIELD_CAPTION
from postersearch.domain import Poster, PosterVector

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]


def _all_missing(index: PosterIndex, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    page: str | None = None
    while True:
        posters, page = index.posters_missing(FIELD_CAPTION, limit, page)
        pages.append([p.movie_id for p in posters])
        if page is None:
            return pages


def test_pages_list_every_poster_without_the_field_once(known_index: PosterIndex) -> None:
    pages = _all_missing(known_index, 3)
    assert [len(p) for p in pages] == [3, 3, 2]
    assert sorted(m for page in pages for m in page) == sorted(KNOWN)
    assert known_index.count_missing(FIELD_CAPTION) == len(KNOWN)


def test_set_field_keeps_vectors_and_other_fields(known_index: PosterIndex) -> None:
    before = known_index.get_poster("4")
    known_index.set_payload_field(FIELD_CAPTION, {"4": "a red poster", "6": "a blue one"})

    after = known_index.get_poster("4")
    assert after is not None and before is not None
    assert after.caption == "a red poster"
    assert (after.title, after.genres, after.year, after.rating) == (
        before.title,
        before.genres,
        before.year,
        before.rating,
    )
    assert known_index.get_vector("4") == pytest.approx(unit_vector(4), abs=1e-6)
    assert known_index.count_missing(FIELD_CAPTION) == len(KNOWN) - 2
    remaining = {m for page in _all_missing(known_index, 100) for m in page}
    assert remaining == set(KNOWN) - {"4", "6"}


def test_set_field_ignores_movies_not_stored(known_index: PosterIndex) -> None:
    known_index.set_payload_field(FIELD_CAPTION, {"no-such-movie": "x", "1": "kept"})
    assert known_index.get_poster("no-such-movie") is None
    assert known_index.count() == len(KNOWN)
    stored = known_index.get_poster("1")
    assert stored is not None and stored.caption == "kept"


def test_a_reopened_index_keeps_the_field(
    open_backend: IndexFactory, make_poster: Callable[..., Poster]
) -> None:
    first = open_backend()
    first.ensure_collection(MODEL)
    first.upsert([PosterVector(make_poster(movie_id="1"), unit_vector(1))])
    first.set_payload_field(FIELD_CAPTION, {"1": "a poster"})
    again = open_backend()
    stored = again.get_poster("1")
    assert stored is not None and stored.caption == "a poster"
    assert again.count_missing(FIELD_CAPTION) == 0
