"""``poster-search caption`` as a user runs it: killed mid-run and resumed, and its exits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from caption_samples import store, write_posters

from poster_index.edge import EdgePosterIndex
from poster_index.payload import FIELD_CAPTION
from postersearch.app.cli import main
from postersearch.domain import Poster

COUNT = 120


def _command(index: Path, model: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "postersearch.app.cli", "caption", str(index),
        "--model", str(model), "--device", "cpu", "--batch-size", "2",
        "--progress-every", "0", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _stored_index(tmp_path: Path, count: int) -> Path:
    index_dir = tmp_path / "index"
    index = EdgePosterIndex(index_dir)
    try:
        store(index, write_posters(tmp_path / "posters", count))
    finally:
        index.close()
    return index_dir


@pytest.mark.slow
def test_killed_run_resumes_and_captions_the_rest(tmp_path: Path, tiny_captioner_dir: Path) -> None:
    index_dir = _stored_index(tmp_path, COUNT)
    command = _command(index_dir, tiny_captioner_dir, "--json")
    victim = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )
    assert victim.stderr is not None
    captioned_at_kill = 0
    for line in victim.stderr:
        match = re.search(r"(\d+) captioned", line)
        if match and int(match.group(1)) >= 10:
            captioned_at_kill = int(match.group(1))
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    index = EdgePosterIndex(index_dir)
    try:
        # Every page whose captions were written before the kill is on disk.
        left = index.count_missing(FIELD_CAPTION)
        assert 0 < left <= COUNT - captioned_at_kill
        kept = {p.movie_id: p.caption for p in _captioned(index)}
    finally:
        index.close()

    resumed = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["already_captioned"] == COUNT - left
    assert summary["captioned"] == left and summary["failed_total"] == 0

    index = EdgePosterIndex(index_dir)
    try:
        assert index.count_missing(FIELD_CAPTION) == 0
        assert index.count() == COUNT
        after = {p.movie_id: p.caption for p in _captioned(index)}
        assert {m: after[m] for m in kept} == kept
    finally:
        index.close()


def _captioned(index: EdgePosterIndex) -> list[Poster]:
    found: list[Poster] = []
    for i in range(COUNT):
        poster = index.get_poster(f"m{i:04d}")
        if poster is not None and poster.caption:
            found.append(poster)
    return found


def test_summary_and_report_of_a_run(
    tmp_path: Path, tiny_captioner_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = _stored_index(tmp_path, 3)
    (tmp_path / "posters" / "p0001.jpg").write_bytes(b"corrupt")
    report = tmp_path / "report.jsonl"
    argv = _command(index_dir, tiny_captioner_dir, "--report", str(report))[3:]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "captioned 2" in out and "undecodable 1" in out and str(report) in out
    assert json.loads(report.read_text())["movie_id"] == "m0001"


def test_no_collection_exits_2(
    tmp_path: Path, tiny_captioner_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_command(tmp_path / "nothing", tiny_captioner_dir)[3:]) == 2
    assert "ingest posters first" in capsys.readouterr().err


def test_a_model_that_is_not_there_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = _stored_index(tmp_path, 1)
    assert main(_command(index_dir, tmp_path / "no-model")[3:]) == 2
    assert "cannot load the captioning model" in capsys.readouterr().err


def test_batch_size_below_one_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["caption", str(tmp_path), "--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err
