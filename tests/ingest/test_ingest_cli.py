"""``poster-search ingest`` as a user runs it: killed mid-run and resumed, errors and exits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.synth import generate_synthetic
from poster_index.edge import EdgePosterIndex
from poster_index.lexical import lexical_query
from poster_index.payload import FIELD_CAPTION
from postersearch.app.cli import main
from postersearch.domain import CollectionModel, SearchFilter

COUNT = 120


def _command(manifest: Path, model: Path, index: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "postersearch.app.cli", "ingest", str(manifest),
        "--model", str(model), "--device", "cpu", "--index-path", str(index),
        "--batch-size", "8", "--in-flight", "2", "--progress-every", "0", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.mark.slow
def test_killed_run_resumes_with_one_point_per_movie(tmp_path: Path, tiny_model_dir: Path) -> None:
    manifest = generate_synthetic(tmp_path / "data", COUNT, seed=3)
    index_dir = tmp_path / "index"
    command = _command(manifest, tiny_model_dir, index_dir, "--json")
    victim = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )
    assert victim.stderr is not None
    ingested_at_kill = 0
    for line in victim.stderr:
        match = re.search(r"(\d+) ingested", line)
        if match and int(match.group(1)) >= 24:
            ingested_at_kill = int(match.group(1))
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    resumed = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    # Only the remainder is encoded: whatever the killed run stored is found and kept.
    assert summary["already_stored"] >= ingested_at_kill
    assert summary["ingested"] == COUNT - summary["already_stored"]
    assert summary["ingested"] > 0

    index = EdgePosterIndex(index_dir)
    try:
        assert index.count() == COUNT
        ids = {f"synth-{i:06d}" for i in range(COUNT)}
        assert index.existing_ids(ids) == ids
    finally:
        index.close()


def test_model_mismatch_exits_with_a_clear_error(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = generate_synthetic(tmp_path / "data", 3, seed=1)
    index = EdgePosterIndex(tmp_path / "index")
    index.ensure_collection(CollectionModel("some-other-model", 768))
    index.close()
    argv = _command(manifest, tiny_model_dir, tmp_path / "index")[3:]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "some-other-model" in err


def test_a_later_ingest_without_model_uses_the_collections_model(
    tmp_path: Path,
    tiny_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENCODER_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    first = generate_synthetic(tmp_path / "first", 3, seed=1)
    more = generate_synthetic(tmp_path / "more", 5, seed=1)
    argv = _command(first, tiny_model_dir, tmp_path / "index", "--json")[3:]
    assert main(argv) == 0
    capsys.readouterr()

    # No --model: the default checkpoint cannot be had here, the collection's model can.
    without_model = [a for a in argv if a not in ("--model", str(tiny_model_dir))]
    assert main([without_model[0], str(more), *without_model[2:]]) == 0
    assert json.loads(capsys.readouterr().out)["ingested"] == 2


def test_encoder_that_stays_down_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = generate_synthetic(tmp_path / "data", 3, seed=1)
    argv = [
        "ingest", str(manifest), "--encoder", "127.0.0.1:1", "--retries", "2",
        "--index-path", str(tmp_path / "index"),
    ]  # fmt: skip
    assert main(argv) == 1
    assert "encoder is unavailable" in capsys.readouterr().err


def test_unknown_dataset_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(tmp_path / "nothing"), "--index-path", str(tmp_path / "i")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_report_pointing_at_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = generate_synthetic(tmp_path / "data", 2, seed=1)
    argv = ["ingest", str(manifest), "--index-path", str(tmp_path / "i"), "--report", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is a folder" in err and "Traceback" not in err


def test_delete_by_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from postersearch.domain import Poster, PosterVector

    index = EdgePosterIndex(tmp_path / "index")
    index.ensure_collection(CollectionModel("m", 4))
    index.upsert([PosterVector(Poster(str(i), f"T{i}"), [1.0, 0, 0, float(i)]) for i in range(3)])
    index.close()
    argv = ["delete", "1", "404", "--index-path", str(tmp_path / "index"), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": ["1"], "not_stored": ["404"]}
    index = EdgePosterIndex(tmp_path / "index")
    try:
        assert index.movie_ids() == {"0", "2"}
    finally:
        index.close()
    assert main(["delete", "x", "--index-path", str(tmp_path / "nothing")]) == 1
    assert "no collection" in capsys.readouterr().err


def test_a_wrong_encoder_key_stops_at_once(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused key is no outage: retrying for seconds cannot fix it."""
    import socket
    import time

    import grpc

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**_env(), "ENCODER_API_KEY": "s3cret", "ENCODER_HOST": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "postersearch.app.cli", "encoder", "--model", str(tiny_model_dir),
         "--port", str(port), "--device", "cpu"],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
        manifest = generate_synthetic(tmp_path / "data", 3, seed=1)
        argv = [
            "ingest", str(manifest), "--encoder", f"127.0.0.1:{port}",
            "--encoder-api-key", "wrong", "--index-path", str(tmp_path / "index"),
        ]  # fmt: skip
        started = time.monotonic()
        assert main(argv) == 1
        assert time.monotonic() - started < 5
        err = capsys.readouterr().err
        assert "refused the API key" in err and "Traceback" not in err
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ingest_with_caption_captions_the_posters_in_the_same_run(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_captioner_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--caption captions what the run stored (and any earlier poster still without a
    caption) with the captioner, and the captions' words are searchable at once."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    index_dir = tmp_path / "index"
    first = generate_synthetic(tmp_path / "first", 3, seed=1)
    more = generate_synthetic(tmp_path / "more", 5, seed=1)
    assert main(_command(first, tiny_model_dir, index_dir, "--json")[3:]) == 0
    assert "captions" not in json.loads(capsys.readouterr().out)
    captioning = (
        "--caption", "--caption-model", str(tiny_captioner_dir), "--caption-device", "cpu",
        "--caption-batch-size", "2", "--json",
    )  # fmt: skip
    assert main(_command(more, tiny_model_dir, index_dir, *captioning)[3:]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ingested"] == 2
    assert summary["captions"]["captioned"] == 5
    assert summary["captions"]["failed_total"] == 0

    index = EdgePosterIndex(index_dir)
    try:
        assert index.count_missing(FIELD_CAPTION) == 0
        poster = index.get_poster("synth-000004")
        assert poster is not None and poster.caption
        found = index.text_search(lexical_query(poster.caption), SearchFilter(), 5)
        assert "synth-000004" in [h.poster.movie_id for h in found]
    finally:
        index.close()

    # A re-run finds every poster captioned.
    assert main(_command(more, tiny_model_dir, index_dir, *captioning)[3:]) == 0
    again = json.loads(capsys.readouterr().out)["captions"]
    assert again["captioned"] == 0 and again["already_captioned"] == 5


def test_caption_batch_size_below_one_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ingest", str(tmp_path), "--caption", "--caption-batch-size", "0"]
    assert main(argv) == 2
    assert "--caption-batch-size" in capsys.readouterr().err


def test_a_captioner_that_is_not_there_exits_2_and_keeps_the_ingest(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = generate_synthetic(tmp_path / "data", 2, seed=1)
    index_dir = tmp_path / "index"
    argv = _command(manifest, tiny_model_dir, index_dir, "--caption")[3:]
    assert main([*argv, "--caption-model", str(tmp_path / "no-model")]) == 2
    assert "cannot load the captioning model" in capsys.readouterr().err
    index = EdgePosterIndex(index_dir)
    try:
        assert index.count() == 2 and index.count_missing(FIELD_CAPTION) == 2
    finally:
        index.close()
