"""Fixtures of the index contract suite: both backends, and a small collection of known posters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from index_samples import KNOWN, MODEL, IndexFactory, unit_vector
from qdrant_client import QdrantClient

from poster_index.base import PosterIndex
from poster_index.edge import EdgePosterIndex
from poster_index.remote import ServerPosterIndex
from postersearch.domain import Poster, PosterVector


@pytest.fixture(params=["edge", "server"])
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """Opens the same collection again on each call, for the Edge shard or the local client.

    An Edge shard is open in one place at a time (its WAL is locked), so opening it again
    closes the earlier handle first, as a restarted process would find it.
    """
    opened: list[PosterIndex] = []
    client = QdrantClient(location=":memory:") if request.param == "server" else None

    def open_index() -> PosterIndex:
        index: PosterIndex
        if client is not None:
            index = ServerPosterIndex(client)
        else:
            for earlier in opened:
                earlier.close()
            index = EdgePosterIndex(tmp_path / "index")
        opened.append(index)
        return index

    yield open_index
    for index in opened:
        # The server backend's close closes the shared client; only close it once, at the end.
        if isinstance(index, EdgePosterIndex):
            index.close()
    if client is not None:
        client.close()


@pytest.fixture
def index(open_backend: IndexFactory) -> PosterIndex:
    """An empty collection of MODEL."""
    idx: PosterIndex = open_backend()
    idx.ensure_collection(MODEL)
    return idx


@pytest.fixture
def known_index(index: PosterIndex, make_poster: Callable[..., Poster]) -> PosterIndex:
    """The collection holding the KNOWN posters."""
    index.upsert(
        [
            PosterVector(
                make_poster(movie_id=mid, title=f"Film {mid}", genres=g, year=y, rating=r),
                unit_vector(int(mid)),
            )
            for mid, (g, y, r) in KNOWN.items()
        ]
    )
    return index
