"""``poster-search ingest --prune`` killed with SIGKILL mid-sync, then run again.

The dataset changed between runs (new posters, changed images, corrected metadata, movies
gone); after the killed run and one more, the collection must equal the dataset exactly:
the same movies, each with the dataset's metadata and the vector of its current poster.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from poster_index.edge import EdgePosterIndex
from postersearch.domain import Poster

COUNT = 120


def _command(manifest: Path, model: Path, index: Path) -> list[str]:
    return [
        sys.executable, "-m", "postersearch.app.cli", "ingest", str(manifest),
        "--model", str(model), "--device", "cpu", "--index-path", str(index),
        "--batch-size", "8", "--in-flight", "2", "--progress-every", "0", "--prune", "--json",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _run(command: list[str]) -> dict[str, object]:
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _changed_dataset(root: Path) -> Path:
    """The dataset of the second run: every kind of change a sync must apply."""
    manifest = root / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for i, row in enumerate(rows[:40]):  # new poster images under the same names
        (root / row["poster"]).write_bytes((root / rows[-1 - i]["poster"]).read_bytes())
    for row in rows[40:70]:  # corrected metadata
        row["rating"] = 9.9
        row["genres"] = ["Documentary"]
    kept = rows[: COUNT - 20]  # 20 movies left the dataset
    for i in range(15):  # new movies
        shutil.copy(root / rows[i]["poster"], root / "posters" / f"new-{i}.jpg")
        kept.append(
            {**rows[i], "id": f"new-{i}", "title": f"New {i}", "poster": f"posters/new-{i}.jpg"}
        )
    manifest.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return manifest


@pytest.mark.slow
def test_sync_killed_mid_run_ends_with_exactly_the_dataset(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    manifest = generate_synthetic(tmp_path / "data", COUNT, seed=5)
    index_dir = tmp_path / "index"
    _run(_command(manifest, tiny_model_dir, index_dir))
    manifest = _changed_dataset(tmp_path / "data")

    victim = subprocess.Popen(
        _command(manifest, tiny_model_dir, index_dir),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    assert victim.stderr is not None
    for line in victim.stderr:
        match = re.search(r"(\d+) ingested", line)
        if match and int(match.group(1)) >= 16:
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    summary = _run(_command(manifest, tiny_model_dir, index_dir))
    assert summary["skipped_total"] == 0
    # A fresh ingest of the changed dataset is what the synced collection must equal.
    _run(_command(manifest, tiny_model_dir, tmp_path / "fresh"))

    posters = [r for r in read_dataset(manifest) if isinstance(r, Poster)]
    synced, fresh = EdgePosterIndex(index_dir), EdgePosterIndex(tmp_path / "fresh")
    try:
        assert synced.movie_ids() == fresh.movie_ids() == {p.movie_id for p in posters}
        assert synced.count() == len(posters)
        for poster in posters:
            assert synced.get_poster(poster.movie_id) == poster
            got, want = synced.get_vector(poster.movie_id), fresh.get_vector(poster.movie_id)
            assert got is not None and want is not None
            np.testing.assert_allclose(got, want, atol=1e-5)
    finally:
        synced.close()
        fresh.close()
