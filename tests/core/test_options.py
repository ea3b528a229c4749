"""Options made from the settings classes: flag, environment variable and default from one
field, and the index options every command shares."""

from __future__ import annotations

import argparse

import pytest

from ingest.settings import IngestSettings
from poster_index.settings import IndexSettings
from postersearch.app.cli import build_parser
from postersearch.app.options import (
    Flag,
    add_index_options,
    add_settings_options,
    index_settings_from,
    settings_from,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_settings_options(parser, IngestSettings, ["batch_size", Flag("retries", "--tries")])
    add_index_options(parser)
    return parser


def test_a_flag_wins_and_the_environment_fills_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_BATCH_SIZE", "64")
    monkeypatch.setenv("INGEST_RETRIES", "3")

    settings = settings_from(_parser().parse_args(["--tries", "9"]), IngestSettings)

    assert (settings.batch_size, settings.retries) == (64, 9)


def test_the_help_names_the_variable_and_the_default() -> None:
    text = " ".join(_parser().format_help().split())
    assert "INGEST_BATCH_SIZE, default 128" in text
    assert "Posters per encode and upsert" in text, "the field's docstring line"


@pytest.mark.parametrize(
    ("argv", "backend", "path"),
    [
        (["--index", "/x"], "edge", "/x"),
        (["--index-path", "/x"], "edge", "/x"),
        (["--qdrant-url", "http://q:6333"], "server", "./data/index"),
        (["--index-path", "/x", "--index-backend", "server"], "server", "/x"),
    ],
)
def test_one_index_option_group_with_the_old_spellings(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], backend: str, path: str
) -> None:
    monkeypatch.delenv("QDRANT_BACKEND", raising=False)
    monkeypatch.delenv("QDRANT_PATH", raising=False)

    settings = index_settings_from(_parser().parse_args(argv))

    assert isinstance(settings, IndexSettings)
    assert (settings.backend, settings.path) == (backend, path)


@pytest.mark.parametrize("command", ["search", "search-server", "serve", "ingest", "delete"])
def test_every_command_that_opens_the_index_takes_index(command: str) -> None:
    extra = {"ingest": ["data.jsonl"], "delete": ["42"]}.get(command, [])
    args = build_parser().parse_args([command, *extra, "--index", "/somewhere"])
    assert index_settings_from(args).path == "/somewhere"
