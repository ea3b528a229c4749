"""Fixtures of the ingest tests: an encoder double, a real Qdrant Edge index, a captioner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_doubles import HashEncoder

from poster_index.edge import EdgePosterIndex
from postersearch.random_captioner import build_random_captioner


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


@pytest.fixture(scope="session")
def tiny_captioner_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BLIP captioner, saved like a downloaded checkpoint."""
    return build_random_captioner(tmp_path_factory.mktemp("tiny-captioner"))
