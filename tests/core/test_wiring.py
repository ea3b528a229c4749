"""The one model rule every command follows: --model, else ENCODER_MODEL, else the
collection's model, else the default."""

from __future__ import annotations

import pytest

from encoder_service.settings import DEFAULT_MODEL
from postersearch.app.wiring import encoder_settings
from postersearch.domain import CollectionModel

BUILT_WITH = CollectionModel("the/collection-model", 16)


@pytest.mark.parametrize(
    ("flag", "env", "collection", "chosen"),
    [
        ("the/flag-model", "the/env-model", BUILT_WITH, "the/flag-model"),
        (None, "the/env-model", BUILT_WITH, "the/env-model"),
        (None, None, BUILT_WITH, "the/collection-model"),
        (None, None, None, DEFAULT_MODEL),
    ],
)
def test_the_collection_model_wins_unless_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    env: str | None,
    collection: CollectionModel | None,
    chosen: str,
) -> None:
    monkeypatch.delenv("ENCODER_MODEL", raising=False)
    if env is not None:
        monkeypatch.setenv("ENCODER_MODEL", env)

    assert encoder_settings(flag, None, collection).model == chosen


def test_the_command_line_device_and_fields_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENCODER_DEVICE", "cuda")
    monkeypatch.setenv("ENCODER_PORT", "6000")

    settings = encoder_settings(None, "cpu", None, port=7000)

    assert (settings.device, settings.port) == ("cpu", 7000)
