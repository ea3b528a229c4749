"""docs/operations.md says what the files and the code do: its tables and its script are checked."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ResolveCompose = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def doc(repo_root: Path) -> str:
    return (repo_root / "docs" / "operations.md").read_text(encoding="utf-8")


def _table_names(doc: str) -> set[str]:
    return set(re.findall(r"(?m)^\| `([A-Z][A-Z0-9_]+)` \|", doc))


def test_every_variable_is_in_the_configuration_table(
    doc: str, env_example: dict[str, Any]
) -> None:
    assert _table_names(doc) == set(env_example)


def test_documented_image_tags_are_the_pinned_ones(
    doc: str, compose: dict[str, Any], compose_cpu: dict[str, Any]
) -> None:
    for data in (compose, compose_cpu):
        for service in data["services"].values():
            if "image" in service:
                assert f"`{service['image']}`" in doc or service["image"] in doc
