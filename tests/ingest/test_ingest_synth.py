"""Synthetic posters: deterministic, poster-sized, realistic metadata, readable manifest."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from ingest.readers import read_dataset
from ingest.synth import GENRES, generate_synthetic, make_metadata, render_poster
from postersearch.app.cli import main
from postersearch.domain import Poster


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "posters").rglob("*.jpg"))}


def test_same_seed_same_dataset_and_sizes(tmp_path: Path) -> None:
    a = generate_synthetic(tmp_path / "a", 12, seed=7)
    b = generate_synthetic(tmp_path / "b", 12, seed=7, workers=2)
    generate_synthetic(tmp_path / "c", 12, seed=8)
    assert a.read_text() == b.read_text()
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a == files_b, "one process or two, the same bytes"
    assert files_a != _files(tmp_path / "c")
    assert len(files_a) == 12
    for data in files_a.values():
        # Like a real poster: 500x750 JPEG of tens of kilobytes.
        assert 45_000 <= len(data) <= 140_000
        with Image.open(io.BytesIO(data)) as img:
            assert (img.format, img.size) == ("JPEG", (500, 750))

    posters = [p for p in read_dataset(a) if isinstance(p, Poster)]
    assert len(posters) == 12
    assert all(Path(p.poster).is_file() for p in posters)
    assert all(1 <= len(p.genres) <= 3 and set(p.genres) <= set(GENRES) for p in posters)


def test_existing_set_is_reused_and_interrupted_one_completed(tmp_path: Path) -> None:
    manifest = generate_synthetic(tmp_path, 5, seed=1, manifest_format="csv")
    assert manifest.name == "manifest.csv"
    first = _files(tmp_path)
    victim = next((tmp_path / "posters").rglob("*.jpg"))
    mtime = victim.stat().st_mtime_ns
    assert generate_synthetic(tmp_path, 5, seed=1, manifest_format="csv") == manifest
    assert victim.stat().st_mtime_ns == mtime, "a complete set is not rendered again"
    victim.unlink()
    (tmp_path / "synth.json").unlink()
    generate_synthetic(tmp_path, 5, seed=1, manifest_format="csv")
    assert _files(tmp_path) == first


def test_metadata_distributions() -> None:
    rows = make_metadata(20_000, seed=3)
    genres = Counter(g for _, _, gs, _, _ in rows for g in gs)
    assert set(genres) == set(GENRES)
    # Skewed like TMDB: drama dominates, TV movies are rare.
    assert genres.most_common(1)[0][0] == "Drama"
    assert genres["Drama"] > 10 * genres["TV Movie"]
    counts = Counter(len(gs) for _, _, gs, _, _ in rows)
    assert set(counts) == {1, 2, 3} and counts[1] > counts[3]
    years = np.array([y for *_, y, _ in rows])
    assert years.min() >= 1920 and years.max() <= 2025
    assert np.median(years) >= 1990, "recent years are more common"
    ratings = np.array([r for *_, r in rows])
    assert ratings.min() >= 0 and ratings.max() <= 10
    assert abs(ratings.mean() - 6.3) < 0.1 and abs(ratings.std() - 1.1) < 0.1
    assert len({m for m, *_ in rows}) == 20_000


def test_genre_sets_the_colours() -> None:
    def mean_rgb(genre: str) -> np.ndarray:
        images = [
            np.asarray(Image.open(io.BytesIO(render_poster(Poster(str(i), "T", (genre,)), i, 0))))
            for i in range(6)
        ]
        return np.mean([img.reshape(-1, 3).mean(axis=0) for img in images], axis=0)

    horror, comedy = mean_rgb("Horror"), mean_rgb("Comedy")
    assert horror.sum() < comedy.sum(), "horror posters are darker"
    assert horror[0] > horror[2] + 15, "and red rather than blue"


def test_synth_command(tmp_path: Path, capsys: object) -> None:
    assert main(["synth", "--count", "3", "--out", str(tmp_path), "--seed", "2"]) == 0
    assert len((tmp_path / "manifest.jsonl").read_text().splitlines()) == 3
