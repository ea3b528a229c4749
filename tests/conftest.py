"""Fixtures every test area shares: the tiny random SigLIP and poster factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Tests never reach a model hub: a real model id must fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from postersearch.domain import Poster
from postersearch.random_siglip import TINY, TINY_768, build_random_siglip
from postersearch.random_translator import TINY_TRANSLATOR, build_random_translator


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP checkpoint (32-d vectors), saved like a downloaded one."""
    return build_random_siglip(tmp_path_factory.mktemp("tiny-siglip"), TINY)


@pytest.fixture(scope="session")
def tiny_768_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP whose vectors are 768-d, the size of the default model's."""
    return build_random_siglip(tmp_path_factory.mktemp("tiny-siglip-768"), TINY_768)


@pytest.fixture(scope="session")
def tiny_translator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MarianMT translator, saved like a downloaded one."""
    return build_random_translator(tmp_path_factory.mktemp("tiny-translator"), TINY_TRANSLATOR)


@pytest.fixture
def make_poster() -> Callable[..., Poster]:
    """Builds a Poster with sensible defaults; override any field by keyword."""
    counter = iter(range(1, 1_000_000))

    def make(**fields: object) -> Poster:
        n = next(counter)
        defaults: dict[str, object] = {
            "movie_id": str(n),
            "title": f"Movie {n}",
            "genres": ("Drama",),
            "year": 2000,
            "rating": 7.0,
            "poster": f"/posters/{n}.jpg",
        }
        defaults.update(fields)
        return Poster(**defaults)  # type: ignore[arg-type]

    return make
