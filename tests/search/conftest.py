"""Fixtures of the search tests: the seeded Edge collection and the keyword encoder."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from search_fixtures import KeywordEncoder, Seeded, build_index, seeded_posters

from poster_index.edge import EdgePosterIndex


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A seeded Edge collection on disk (closed again; each test opens its own handle)."""
    path = tmp_path_factory.mktemp("search-index")
    posters, vectors = seeded_posters()
    build_index(path, posters, vectors).close()
    yield Seeded(path, posters, vectors)


@pytest.fixture(scope="module")
def index(seeded: Seeded) -> Iterator[EdgePosterIndex]:
    """The seeded collection, opened once per module (searches do not change it)."""
    opened = EdgePosterIndex(seeded.path)
    yield opened
    opened.close()


@pytest.fixture
def encoder() -> KeywordEncoder:
    """A fresh keyword encoder (its call log starts empty)."""
    return KeywordEncoder()


@pytest.fixture
def ids() -> Callable[[object], list[str]]:
    """Movie ids of a page's hits, in order."""

    def get(page: object) -> list[str]:
        return [hit.poster.movie_id for hit in page.hits]  # type: ignore[attr-defined]

    return get
