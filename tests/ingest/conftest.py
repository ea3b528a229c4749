"""Fixtures of the ingest tests: an encoder double and a real Qdrant Edge index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_doubles import HashEncoder

from poster_index.edge import EdgePosterIndex


@pytest.fixture
def hash_encoder() -> HashEncoder:
    """A fresh encoder double."""
    return HashEncoder()


@pytest.fixture
def edge_index(tmp_path: Path) -> Iterator[EdgePosterIndex]:
    """A real Qdrant Edge index in a temporary folder."""
    index = EdgePosterIndex(tmp_path / "index")
    yield index
    index.close()
