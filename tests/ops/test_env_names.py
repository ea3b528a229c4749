"""Compose, .env.example and the settings classes name the same variables, with the same defaults.

Each side can drift: a field renamed in a settings class, a variable misspelled in compose,
a default changed in code but not in .env.example. These tests read the real settings
classes, so any of those fails here.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

ResolveCompose = Callable[..., dict[str, Any]]

SETTINGS_CLASSES = (
    ("encoder_service.settings", "EncoderSettings"),
    ("search_service.settings", "SearchSettings"),
    ("poster_index.settings", "IndexSettings"),
)
PREFIXES = ("ENCODER_", "SEARCH_", "QDRANT_", "INGEST_")
_COMPOSE_FILES = ("docker-compose.yml", "docker-compose.cpu.yml", "docker-compose.cluster.yml")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}; $$ escapes a dollar.
_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _settings_classes() -> list[type[BaseSettings]]:
    return [getattr(importlib.import_module(m), c) for m, c in SETTINGS_CLASSES]


def _fields() -> dict[str, tuple[type[BaseSettings], str]]:
    """Environment variable name -> (settings class, field name)."""
    found: dict[str, tuple[type[BaseSettings], str]] = {}
    for cls in _settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name in cls.model_fields:
            found[f"{prefix}{name}".upper()] = (cls, name)
    return found


def _is_settings_variable(name: str) -> bool:
    # QDRANT__* (double underscore) configures the Qdrant server itself, not IndexSettings.
    return name.startswith(PREFIXES) and not name.startswith("QDRANT__")


def _environment_keys(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for service_name, service in data["services"].items():
        environment = service.get("environment", {})
        keys = (
            environment if isinstance(environment, dict) else [e.split("=")[0] for e in environment]
        )
        for key in keys:
            yield service_name, key


def _references(*paths: Path) -> list[tuple[str, str | None, str | None]]:
    return [
        (m.group(1), m.group(2), m.group(3))
        for path in paths
        for m in _REFERENCE.finditer(path.read_text(encoding="utf-8"))
    ]


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """os.environ without any variable the settings classes read."""
    for name in list(os.environ):
        if _is_settings_variable(name):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_settings_variable_in_compose_is_a_field(
    compose: dict[str, Any],
    compose_cpu: dict[str, Any],
    compose_cluster: dict[str, Any],
    repo_root: Path,
) -> None:
    fields = _fields()
    files = (compose, compose_cpu, compose_cluster)
    used = {key for data in files for _, key in _environment_keys(data)}
    used |= {name for name, _, _ in _references(*(repo_root / f for f in _COMPOSE_FILES))}
    unknown = {name for name in used if _is_settings_variable(name) and name not in fields}
    assert not unknown, f"compose sets variables no settings class reads: {sorted(unknown)}"


def test_every_settings_variable_in_env_example_is_a_field(env_example: dict[str, Any]) -> None:
    fields = _fields()
    unknown = {name for name in env_example if _is_settings_variable(name) and name not in fields}
    assert not unknown, f".env.example lists variables no settings class reads: {sorted(unknown)}"


def test_every_field_is_listed_in_env_example(env_example: dict[str, Any]) -> None:
    missing = set(_fields()) - set(env_example)
    assert not missing, f".env.example does not list: {sorted(missing)}"


def test_env_example_shows_each_default(
    env_example: dict[str, Any], clean_environ: pytest.MonkeyPatch
) -> None:
    fields = _fields()
    for cls in _settings_classes():
        own = {env: name for env, (owner, name) in fields.items() if owner is cls}
        computed = {n for n in own.values() if cls.model_fields[n].default_factory is not None}
        defaults = cls()
        with clean_environ.context() as patch:
            for env_name, field_name in own.items():
                line = env_example[env_name]
                if field_name in computed:
                    # Computed at start (e.g. the CPU count): described, left commented out.
                    assert not line.active and not line.value, env_name
                else:
                    patch.setenv(env_name, line.value)
            # Read through the class itself, so "true", "5.0" and "" parse as they would.
            shown = cls()
        for env_name, field_name in own.items():
            if field_name in computed:
                continue
            value, default = getattr(shown, field_name), getattr(defaults, field_name)
            # An empty line stands for "unset" (None) as well as for "".
            assert value == default or (not value and not default), (
                f"{env_name}: .env.example shows {value!r}, the default is {default!r}"
            )


def test_compose_references_are_documented_with_the_same_defaults(
    env_example: dict[str, Any], repo_root: Path
) -> None:
    references = _references(*(repo_root / f for f in _COMPOSE_FILES))
    assert references
    for name, operator, default in references:
        assert name in env_example, f"${{{name}}} in compose is not in .env.example"
        if operator in (":-", "-"):
            assert env_example[name].value == default, (
                f"${{{name}}}: compose falls back to {default!r}, "
                f".env.example shows {env_example[name].value!r}"
            )


def test_stack_variables_in_env_example_are_used_by_compose(
    env_example: dict[str, Any], repo_root: Path
) -> None:
    referenced = {name for name, _, _ in _references(*(repo_root / f for f in _COMPOSE_FILES))}
    for name in env_example:
        if not _is_settings_variable(name) and not name.startswith("POSTER_SEARCH_"):
            assert name in referenced, f"{name} in .env.example is used nowhere"


def test_logging_variables_are_the_ones_the_cli_reads(
    env_example: dict[str, Any], repo_root: Path
) -> None:
    cli = (repo_root / "postersearch" / "app" / "cli.py").read_text(encoding="utf-8")
    listed = {name for name in env_example if name.startswith("POSTER_SEARCH_")}
    assert listed == set(re.findall(r"\"(POSTER_SEARCH_[A-Z_]+)\"", cli))


@pytest.mark.parametrize(
    ("service", "check"),
    [
        (
            "encoder",
            lambda s: (
                s["EncoderSettings"].metrics_port == 9101 and s["EncoderSettings"].host == "0.0.0.0"
            ),
        ),
        (
            "search",
            lambda s: (
                s["SearchSettings"].encoder_target == "dns:///encoder:50051"
                and s["SearchSettings"].metrics_port == 9102
                and s["IndexSettings"].backend == "server"
                and s["IndexSettings"].url == "http://qdrant:6333"
                and s["IndexSettings"].api_key == "test-qdrant-key"
            ),
        ),
        (
            "ingest",
            lambda s: (
                s["IndexSettings"].backend == "server"
                and s["IndexSettings"].url == "http://qdrant:6333"
            ),
        ),
    ],
)
def test_each_service_reads_its_wiring_from_the_resolved_compose(
    resolve_compose: ResolveCompose,
    clean_environ: pytest.MonkeyPatch,
    service: str,
    check: Callable[[dict[str, BaseSettings]], bool],
) -> None:
    # The environment `docker compose up` would hand the container, .env included, read
    # by the real settings classes: a misspelt name would leave a default and fail here.
    environment = resolve_compose(profiles=("ingest",))["services"][service]["environment"]
    for name, value in environment.items():
        clean_environ.setenv(name, value or "")
    settings = {cls.__name__: cls() for cls in _settings_classes()}
    assert check(settings)
