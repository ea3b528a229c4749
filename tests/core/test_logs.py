"""Structured logs: JSON lines with extras, and secrets never written."""

from __future__ import annotations

import json
import logging

import pytest

from postersearch.logs import configure_logging, redact


def test_redact_masks_bearer_tokens_and_api_keys() -> None:
    assert redact("authorization: Bearer abc123") == "authorization: Bearer ***"
    assert redact("api_key=abc123 other") == "api_key=*** other"
    assert redact("{'api-key': 'abc123'}") == "{'api-key': '***'}"
    assert redact("nothing secret here") == "nothing secret here"


def test_json_lines_carry_extras_and_hide_keys(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True)
    try:
        logging.getLogger("poster.test").info(
            "called with Bearer topsecret", extra={"rpc": "Search", "ms": 1.5}
        )
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "poster.test"
    assert entry["rpc"] == "Search"
    assert entry["ms"] == 1.5
    assert "topsecret" not in line
