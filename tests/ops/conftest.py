"""Fixtures of the ops tests: the deployment files (compose, Dockerfile, .env.example) read.

No Docker daemon is needed: the files are parsed here, and `docker-compose config` (the
Compose binary from the dev extras, which resolves files without a daemon) reads them the
way `docker compose up` would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
COMPOSE_CLUSTER = ROOT / "docker-compose.cluster.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
HEALTH_SCRIPT = ROOT / "docker" / "health_probe.py"

# A value for the one variable the stack refuses to start without.
TEST_QDRANT_KEY = "test-qdrant-key"

# resolve(files, profiles, env) -> the model `docker-compose config` prints.
ResolveCompose = Callable[..., dict[str, Any]]


class _ComposeLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
    """SafeLoader that also reads Compose's merge tags (!reset, !override)."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


for _tag in ("!reset", "!override"):
    _ComposeLoader.add_constructor(_tag, _tagged)


def load_yaml(path: Path) -> dict[str, Any]:
    """A Compose file as plain data (merge keys applied, tags read as their values)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ComposeLoader)
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


@dataclass(frozen=True)
class EnvLine:
    """One variable of .env.example: its value and whether the line is commented out."""

    value: str
    active: bool


_ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def parse_env_example(path: Path = ENV_EXAMPLE) -> dict[str, EnvLine]:
    """Variables of an env file, including the ones shown commented out as `# NAME=value`."""
    found: dict[str, EnvLine] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            name = match.group(2)
            assert name not in found, f"{name} is listed twice in {path.name}"
            found[name] = EnvLine(value=match.group(3), active=match.group(1) is None)
    return found


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    stage: int


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions of a Dockerfile, with the index of the build stage each belongs to."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


# !reset/!override tags and optional env files need Compose 2.24 or newer.
MIN_COMPOSE = (2, 24)


def _compose_version(command: list[str]) -> tuple[int, ...] | None:
    try:
        probe = subprocess.run(
            [*command, "version", "--short"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    match = re.match(r"v?(\d+)\.(\d+)", probe.stdout.strip())
    return tuple(int(x) for x in match.groups()) if probe.returncode == 0 and match else None


def compose_command() -> list[str] | None:
    """A Compose new enough for these files: the dev extras' binary, docker's plugin, or any."""
    candidates = [[str(Path(sys.executable).with_name("docker-compose"))]]
    docker = shutil.which("docker")
    if docker:
        candidates.append([docker, "compose"])
    on_path = shutil.which("docker-compose")
    if on_path:
        candidates.append([on_path])
    for command in candidates:
        found = _compose_version(command)
        if found is not None and found >= MIN_COMPOSE:
            return command
    return None


def compose_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment to run Compose in: this one without the stack's variables, plus extra.

    Variables of the developer's shell would win over .env in interpolation, so they go.
    """
    prefixes = ("ENCODER_", "SEARCH_", "QDRANT_", "POSTER_SEARCH_", "COMPOSE_")
    stack_names = {"PUBLISH_ADDRESS", "DATASET_DIR", "BAKE_MODEL"}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in stack_names
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def compose_bin() -> list[str]:
    """The Compose command; the test is skipped where none is installed."""
    command = compose_command()
    if command is None:
        pytest.skip(
            "Docker Compose 2.24 or newer is not installed (pip install -e '.[dev]' brings it)"
        )
    return command


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The compose files and Dockerfile copied to a folder of their own with a fresh .env.

    The copy keeps a developer's own .env out of what the tests resolve.
    """
    for path in (COMPOSE, COMPOSE_CPU, COMPOSE_CLUSTER, DOCKERFILE, ENV_EXAMPLE):
        shutil.copy(path, tmp_path / path.name)
    env = ENV_EXAMPLE.read_text(encoding="utf-8")
    env = re.sub(r"(?m)^QDRANT_API_KEY=.*$", f"QDRANT_API_KEY={TEST_QDRANT_KEY}", env)
    (tmp_path / ".env").write_text(env, encoding="utf-8")
    return tmp_path


@pytest.fixture
def resolve_compose(compose_bin: list[str], project_copy: Path) -> ResolveCompose:
    """Runs `docker-compose config` on the copied project and returns the resolved model.

    The returned function takes the compose file names, the profiles to enable and extra
    environment variables.
    """

    def resolve(
        files: Sequence[str] = ("docker-compose.yml",),
        profiles: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        args = [*compose_bin, "--project-directory", str(project_copy)]
        for name in files:
            args += ["-f", str(project_copy / name)]
        for profile in profiles:
            args += ["--profile", profile]
        result = subprocess.run(
            [*args, "config", "--format", "json"],
            capture_output=True,
            text=True,
            env=compose_env(env or {}),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        resolved: dict[str, Any] = json.loads(result.stdout)
        return resolved

    return resolve


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def qdrant_test_key() -> str:
    """The QDRANT_API_KEY the resolved stack is given."""
    return TEST_QDRANT_KEY


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml as written."""
    return load_yaml(COMPOSE)


@pytest.fixture(scope="session")
def compose_cpu() -> dict[str, Any]:
    """docker-compose.cpu.yml as written."""
    return load_yaml(COMPOSE_CPU)


@pytest.fixture(scope="session")
def compose_cluster() -> dict[str, Any]:
    """docker-compose.cluster.yml as written."""
    return load_yaml(COMPOSE_CLUSTER)


@pytest.fixture(scope="session")
def env_example() -> dict[str, EnvLine]:
    """Every variable .env.example lists, commented out or not."""
    return parse_env_example()


@pytest.fixture(scope="session")
def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions."""
    return parse_dockerfile()


@pytest.fixture
def grpc_health(tmp_path: Path) -> list[str]:
    """The image's `grpc-health` command: the probe installed under that name, as in the image."""
    installed = tmp_path / "bin" / "grpc-health"
    installed.parent.mkdir()
    shutil.copy(HEALTH_SCRIPT, installed)
    return [sys.executable, str(installed)]
