"""Steered queries on the search plan: through the HNSW graph with ACORN (tiny thresholds, a
coarse graph whose walks depend on their parameters), by Qdrant's scan, and in qdrant-client's
local mode, filters hold and pages add up to the long answer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from test_index_congruence import DIM, FILTERS, Collection, make_collection, open_backend

from poster_index.base import PosterIndex
from poster_index.steer import steer
from postersearch.domain import SearchFilter, SearchHit

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]


@pytest.fixture(scope="module")
def collection() -> Collection:
    return make_collection()


@pytest.fixture(scope="module", params=["edge", "edge-graph", "edge-coarse", "local"])
def backend(
    request: pytest.FixtureRequest, collection: Collection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PosterIndex]:
    index = open_backend(request.param, collection, tmp_path_factory.mktemp(request.param))
    yield index
    index.close()


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.poster.movie_id for h in hits]


@pytest.mark.parametrize("kind", ["negatives", "diverse", "both"])
@pytest.mark.parametrize("flt", FILTERS[:6], ids=[f"f{i}" for i in range(6)])
def test_steered_pages_add_up_and_keep_the_filter(
    backend: PosterIndex, collection: Collection, flt: SearchFilter, kind: str
) -> None:
    rng = np.random.default_rng(11)
    query = rng.normal(size=DIM).tolist()
    negatives = [rng.normal(size=DIM).tolist()] if kind != "diverse" else []
    steered = steer(query, negatives, diverse=kind != "negatives")
    by_id = {p.movie_id: p for p in collection.posters}
    for size in (4, 9):
        long_answer = ids(backend.steered_search(steered, flt, size * 5))
        pages = [ids(backend.steered_search(steered, flt, size, k * size)) for k in range(5)]
        assert [m for page in pages for m in page] == long_answer
        assert len(set(long_answer)) == len(long_answer)
        assert all(collection.passes(by_id[m], flt) for m in long_answer)
        matching = sum(collection.passes(p, flt) for p in collection.posters)
        assert len(long_answer) == min(size * 5, matching)


def test_through_the_graph_a_poster_nearer_the_negative_drops(
    backend: PosterIndex, collection: Collection
) -> None:
    flt = SearchFilter(genres_any=("Drama", "Horror"))
    query = collection.vectors[0]
    plain = ids(backend.search(query.tolist(), flt, 10))
    # The negative: the plain answer's second poster; it and its look-alikes drop.
    second = collection.vectors[[p.movie_id for p in collection.posters].index(plain[1])]
    hits = backend.steered_search(steer(query.tolist(), [second.tolist()]), flt, 10)
    assert plain[1] not in ids(hits)
    for hit in hits:
        v = collection.vectors[[p.movie_id for p in collection.posters].index(hit.poster.movie_id)]
        assert float(v @ query) > float(v @ second), "each poster shown is nearer the query"
