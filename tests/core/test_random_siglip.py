"""Resolving a model argument that may name a random SigLIP shape."""

from __future__ import annotations

from pathlib import Path

from postersearch.random_siglip import model_or_random


def test_shape_names_are_built_once_and_other_names_pass_through(tmp_path: Path) -> None:
    folder = model_or_random("tiny", tmp_path)
    assert Path(folder) == tmp_path / "tiny"
    weights = Path(folder) / "model.safetensors"
    built_at = weights.stat().st_mtime_ns
    assert model_or_random("tiny", tmp_path) == folder
    assert weights.stat().st_mtime_ns == built_at, "a built shape is reused, not rebuilt"
    assert model_or_random("google/siglip2-base-patch16-256", tmp_path) == (
        "google/siglip2-base-patch16-256"
    )
    assert not (tmp_path / "google").exists()
