"""Congruence: random filters and vectors through Qdrant Edge, qdrant-client's local mode and a
plain-Python oracle of the filter, with the answers compared; and pages that add up.

Edge runs twice: as the service builds it for a small collection (searched by scanning), and
with tiny thresholds so that the HNSW graph, quantized vectors and ACORN answer the filtered
walks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from poster_index.base import PosterIndex
from poster_index.edge import EdgePosterIndex
from poster_index.remote import ServerPosterIndex
from poster_index.tuning import IndexTuning
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter

DIM = 16
COUNT = 600
MODEL = CollectionModel("test/congruence", DIM)
GENRES = ("Drama", "Comedy", "Horror", "Romance", "Sci-Fi", "Western")
# A graph over every segment, every filtered query walking it with ACORN, and Qdrant's scan
# switched off (1 KB).
GRAPH = IndexTuning(indexing_threshold_kb=1, full_scan_kb=1, exact_max_share=0.0, page_window=8)
# A graph so sparse and walks so short that each walk's answer depends on its parameters:
# pages add up only if every page is cut from the same walks.
COARSE = IndexTuning(
    indexing_threshold_kb=1,
    full_scan_kb=1,
    exact_max_share=0.0,
    m=4,
    ef_construct=8,
    hnsw_ef=4,
    page_window=4,
)
TUNINGS = {"edge": IndexTuning(), "edge-graph": GRAPH, "edge-coarse": COARSE}


@dataclass(frozen=True)
class Collection:
    posters: list[Poster]
    vectors: np.ndarray  # normalised, one row per poster

    def passes(self, poster: Poster, flt: SearchFilter) -> bool:
        """The filter's meaning, written out for one poster."""
        genres = set(poster.genres)
        if flt.genres_any and not genres & set(flt.genres_any):
            return False
        if not set(flt.genres_all) <= genres or genres & set(flt.genres_none):
            return False
        year, rating = poster.year, poster.rating
        if flt.year_from is not None and (year is None or year < flt.year_from):
            return False
        if flt.year_to is not None and (year is None or year > flt.year_to):
            return False
        return flt.min_rating is None or (rating is not None and rating >= flt.min_rating)

    def nearest(
        self, query: np.ndarray, flt: SearchFilter, exclude: str | None = None
    ) -> list[Any]:
        """(score, movie id) of every poster passing flt, nearest first."""
        scores = self.vectors @ (query / np.linalg.norm(query))
        ranked = [
            (float(scores[i]), p.movie_id)
            for i, p in enumerate(self.posters)
            if self.passes(p, flt) and p.movie_id != exclude
        ]
        return sorted(ranked, key=lambda sm: -sm[0])


def make_collection(seed: int = 3) -> Collection:
    rng = np.random.default_rng(seed)
    posters = []
    for i in range(COUNT):
        genres = tuple(g for g in GENRES if rng.random() < 0.3)
        year = None if rng.random() < 0.1 else int(rng.integers(1950, 2026))
        # One decimal, as datasets store ratings, so thresholds land exactly on some.
        rating = None if rng.random() < 0.1 else round(float(rng.integers(0, 101)) / 10, 1)
        posters.append(Poster(f"m{i}", f"Film {i}", genres, year, rating, f"/p/{i}.jpg"))
    # Clustered vectors, with genres leaning per cluster, so filters correlate with looks.
    centres = rng.normal(size=(6, DIM))
    cluster = rng.integers(0, 6, size=COUNT)
    vectors = centres[cluster] + 0.7 * rng.normal(size=(COUNT, DIM))
    for i in range(COUNT):
        extra = (GENRES[cluster[i]],)
        p = posters[i]
        posters[i] = Poster(p.movie_id, p.title, tuple(sorted({*p.genres, *extra})), p.year,
                            p.rating, p.poster)  # fmt: skip
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Collection(posters, vectors.astype(np.float32))


def random_filter(rng: np.random.Generator) -> SearchFilter:
    def some(p: float) -> tuple[str, ...]:
        return tuple(g for g in GENRES if rng.random() < p)

    year_from = int(rng.integers(1950, 2026)) if rng.random() < 0.4 else None
    year_to = int(rng.integers(1950, 2026)) if rng.random() < 0.4 else None
    if year_from is not None and year_to is not None and year_from > year_to:
        year_from, year_to = year_to, year_from
    return SearchFilter(
        genres_any=some(0.25) if rng.random() < 0.5 else (),
        genres_all=some(0.15) if rng.random() < 0.3 else (),
        genres_none=some(0.2) if rng.random() < 0.4 else (),
        year_from=year_from,
        year_to=year_to,
        min_rating=round(float(rng.integers(0, 101)) / 10, 1) if rng.random() < 0.4 else None,
    )


FILTERS = [random_filter(np.random.default_rng(s)) for s in range(40)]


@pytest.fixture(scope="module")
def collection() -> Collection:
    return make_collection()


def open_backend(name: str, collection: Collection, folder: Path) -> PosterIndex:
    """The collection in the named backend: "local" (qdrant-client) or an Edge tuning."""
    index: PosterIndex
    if name == "local":
        index = ServerPosterIndex(QdrantClient(location=":memory:"))
    else:
        index = EdgePosterIndex(folder, tuning=TUNINGS[name])
    index.ensure_collection(MODEL)
    index.upsert(
        [PosterVector(p, collection.vectors[i].tolist()) for i, p in enumerate(collection.posters)]
    )
    index.optimize()
    return index


@pytest.fixture(scope="module", params=["edge", "edge-graph", "local"])
def backend(
    request: pytest.FixtureRequest, collection: Collection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PosterIndex]:
    index = open_backend(request.param, collection, tmp_path_factory.mktemp(request.param))
    yield index
    index.close()


@pytest.fixture(scope="module", params=["edge", "edge-coarse", "local"])
def paged_backend(
    request: pytest.FixtureRequest, collection: Collection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PosterIndex]:
    index = open_backend(request.param, collection, tmp_path_factory.mktemp(request.param))
    yield index
    index.close()


def ids(hits: list[Any]) -> list[str]:
    return [h.poster.movie_id for h in hits]


@pytest.mark.parametrize("flt", FILTERS, ids=[f"f{i}" for i in range(len(FILTERS))])
def test_search_count_and_browse_agree_with_the_oracle(
    backend: PosterIndex, collection: Collection, flt: SearchFilter
) -> None:
    rng = np.random.default_rng(hash(repr(flt)) % 2**32)
    matching = [p for p in collection.posters if collection.passes(p, flt)]
    assert backend.count(flt) == len(matching)
    for _ in range(3):
        query = rng.normal(size=DIM)
        truth = collection.nearest(query, flt)[:10]
        hits = backend.search(query.tolist(), flt, limit=10)
        assert ids(hits) == [m for _, m in truth]
        assert [h.score for h in hits] == pytest.approx([s for s, _ in truth], abs=1e-4)
    rated = sorted((p.rating for p in matching if p.rating is not None), reverse=True)
    browsed = backend.browse(flt, limit=15)
    assert [h.poster.rating for h in browsed][: len(rated)] == rated[:15]
    assert {h.poster.movie_id for h in browsed} <= {p.movie_id for p in matching}


@pytest.mark.parametrize("flt", FILTERS[:12], ids=[f"f{i}" for i in range(12)])
def test_pages_add_up_to_the_long_answer(paged_backend: PosterIndex, flt: SearchFilter) -> None:
    """Page k of size n is items k*n .. (k+1)*n-1 of one long answer: no repeats, no gaps,
    across the paging ladder's rungs, also through a graph whose walks differ by their
    parameters."""
    backend = paged_backend
    query = np.random.default_rng(5).normal(size=DIM).tolist()
    for size in (3, 7, 10):
        long_answer = ids(backend.search(query, flt, limit=size * 6))
        paged: list[str] = []
        for k in range(6):
            paged += ids(backend.search(query, flt, limit=size, offset=k * size))
        assert paged == long_answer
        assert len(set(paged)) == len(paged)
    browse_long = ids(backend.browse(flt, limit=40))
    browse_paged = [m for k in range(4) for m in ids(backend.browse(flt, limit=10, offset=10 * k))]
    assert browse_paged == browse_long


def test_a_threshold_keeps_posters_rated_exactly_that(
    backend: PosterIndex, collection: Collection
) -> None:
    for tenths in range(0, 101, 7):
        threshold = tenths / 10
        expected = sum(p.rating is not None and p.rating >= threshold for p in collection.posters)
        assert backend.count(SearchFilter(min_rating=threshold)) == expected
