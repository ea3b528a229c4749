"""docker-compose.yml and its CPU override: valid, pinned, healthy-gated, GPU where meant."""

from __future__ import annotations

import argparse
import re
import subprocess
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

APP_SERVICES = ("encoder", "search", "ingest")
PROJECT_VERSION = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
)["project"]["version"]

ResolveCompose = Callable[..., dict[str, Any]]


def test_the_stack_has_its_four_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"qdrant", "encoder", "search", "ingest"}


@pytest.mark.parametrize(
    ("files", "profiles"),
    [
        (("docker-compose.yml",), ()),
        (("docker-compose.yml",), ("ingest",)),
        (("docker-compose.yml", "docker-compose.cpu.yml"), ()),
        (("docker-compose.yml", "docker-compose.cpu.yml"), ("ingest",)),
    ],
)
def test_compose_validates(
    resolve_compose: ResolveCompose, files: tuple[str, ...], profiles: tuple[str, ...]
) -> None:
    resolved = resolve_compose(files, profiles)
    expected = {"qdrant", "encoder", "search"} | ({"ingest"} if profiles else set())
    assert set(resolved["services"]) == expected


def test_the_stack_refuses_to_start_without_a_qdrant_key(
    compose_bin: list[str], project_copy: Path
) -> None:
    (project_copy / ".env").unlink()
    result = subprocess.run(
        [*compose_bin, "--project-directory", str(project_copy), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode != 0
    assert "QDRANT_API_KEY" in result.stderr


def _images(*files: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, service["image"])
        for data in files
        for name, service in data["services"].items()
        if "image" in service
    ]


def test_every_image_is_pinned_to_an_exact_version(
    compose: dict[str, Any], compose_cpu: dict[str, Any]
) -> None:
    images = _images(compose, compose_cpu)
    assert {name for name, _ in images} >= {"qdrant", *APP_SERVICES}
    for name, image in images:
        repository, _, tag = image.partition(":")
        assert tag, f"{name}: {image} has no tag"
        if repository == "qdrant/qdrant":
            assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"{name}: {image} is not an exact release"
        else:
            # The project's own image carries the project version and its torch flavour.
            assert repository == "poster-search"
            assert re.fullmatch(rf"{re.escape(PROJECT_VERSION)}-(gpu|cpu)", tag), image


def test_qdrant_server_is_compatible_with_the_installed_client(compose: dict[str, Any]) -> None:
    # qdrant-client warns unless the major versions match and the minors differ by at most 1.
    server = compose["services"]["qdrant"]["image"].partition(":v")[2]
    server_major, server_minor = (int(x) for x in server.split(".")[:2])
    client_major, client_minor = (int(x) for x in version("qdrant-client").split(".")[:2])
    assert server_major == client_major
    assert abs(server_minor - client_minor) <= 1


def test_long_running_services_have_healthchecks(resolve_compose: ResolveCompose) -> None:
    services = resolve_compose()["services"]
    for name in ("qdrant", "encoder", "search"):
        check = services[name].get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), f"{name} has its health check disabled"
        assert services[name].get("restart") == "unless-stopped", name


def test_app_healthchecks_ask_grpc_health_on_the_service_port(
    resolve_compose: ResolveCompose,
) -> None:
    services = resolve_compose(env={"ENCODER_PORT": "6001", "SEARCH_PORT": "6002"})["services"]
    assert services["encoder"]["healthcheck"]["test"] == ["CMD", "grpc-health", "6001"]
    assert services["search"]["healthcheck"]["test"] == ["CMD", "grpc-health", "6002"]


def test_encoder_reserves_an_nvidia_gpu(resolve_compose: ResolveCompose) -> None:
    encoder = resolve_compose()["services"]["encoder"]
    devices = encoder["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert encoder["image"].endswith("-gpu")


def test_cpu_override_drops_the_gpu_and_builds_cpu_torch(resolve_compose: ResolveCompose) -> None:
    services = resolve_compose(("docker-compose.yml", "docker-compose.cpu.yml"), ("ingest",))[
        "services"
    ]
    assert "deploy" not in services["encoder"] or not services["encoder"]["deploy"].get(
        "resources", {}
    ).get("reservations")
    assert services["encoder"]["environment"]["ENCODER_DEVICE"] == "cpu"
    for name in APP_SERVICES:
        service = services[name]
        assert service["image"] == f"poster-search:{PROJECT_VERSION}-cpu", name
        args = service["build"]["args"]
        assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu", name
        assert args["TORCHVISION_SPEC"] == "", name


def test_search_waits_for_healthy_encoder_and_qdrant(resolve_compose: ResolveCompose) -> None:
    depends = resolve_compose()["services"]["search"]["depends_on"]
    assert depends["encoder"]["condition"] == "service_healthy"
    assert depends["qdrant"]["condition"] == "service_healthy"


def test_search_reaches_every_encoder_replica(
    resolve_compose: ResolveCompose, qdrant_test_key: str
) -> None:
    env = resolve_compose(env={"ENCODER_PORT": "6001"})["services"]["search"]["environment"]
    # dns:/// lets gRPC resolve every replica's address and balance round-robin over them.
    assert env["SEARCH_ENCODER_TARGET"] == "dns:///encoder:6001"
    assert env["QDRANT_BACKEND"] == "server"
    assert env["QDRANT_URL"] == "http://qdrant:6333"
    assert env["QDRANT_API_KEY"] == qdrant_test_key


def test_qdrant_key_is_shared_by_server_and_clients(
    resolve_compose: ResolveCompose, qdrant_test_key: str
) -> None:
    services = resolve_compose(profiles=("ingest",))["services"]
    assert services["qdrant"]["environment"]["QDRANT__SERVICE__API_KEY"] == qdrant_test_key
    assert services["ingest"]["environment"]["QDRANT_API_KEY"] == qdrant_test_key


def test_encoder_publishes_no_host_port_so_it_can_scale(compose: dict[str, Any]) -> None:
    # A fixed host port would make `--scale encoder=N` fail on the second replica.
    assert "ports" not in compose["services"]["encoder"]


def _published(services: dict[str, Any]) -> dict[int, str]:
    return {int(p["target"]): p["host_ip"] for s in services.values() for p in s.get("ports", [])}


def test_published_ports_bind_to_localhost_unless_told(resolve_compose: ResolveCompose) -> None:
    published = _published(resolve_compose()["services"])
    assert set(published) == {6333, 6334, 50052, 8080}
    assert set(published.values()) == {"127.0.0.1"}
    published = _published(resolve_compose(env={"PUBLISH_ADDRESS": "0.0.0.0"})["services"])
    # The web page has no API key: opening the keyed APIs to the network leaves it local.
    assert published.pop(8080) == "127.0.0.1"
    assert set(published.values()) == {"0.0.0.0"}
    published = _published(resolve_compose(env={"WEB_PUBLISH_ADDRESS": "0.0.0.0"})["services"])
    assert published[8080] == "0.0.0.0"


def test_search_serves_the_web_page_with_the_dataset_posters(
    resolve_compose: ResolveCompose,
) -> None:
    search = resolve_compose(env={"DATASET_DIR": "/srv/posters", "WEB_PORT": "9000"})["services"][
        "search"
    ]
    args = _parse(["poster-search", *search["command"]])
    assert args.http_port == 8080
    assert args.poster_root == [Path("/dataset")]
    assert any(p["target"] == 8080 and p["published"] == "9000" for p in search["ports"])
    # The ingest job stores the posters' paths under /dataset; the page finds them there.
    (volume,) = [v for v in search["volumes"] if v["target"] == "/dataset"]
    assert (volume["source"], volume["read_only"]) == ("/srv/posters", True)


def test_ingest_is_a_one_shot_job_under_a_profile(resolve_compose: ResolveCompose) -> None:
    ingest = resolve_compose(profiles=("ingest",), env={"DATASET_DIR": "/srv/posters"})["services"][
        "ingest"
    ]
    assert ingest["profiles"] == ["ingest"]
    assert ingest["restart"] == "no"
    assert ingest["healthcheck"]["disable"] is True
    mounts = {v["target"]: v for v in ingest["volumes"]}
    assert mounts["/dataset"]["source"] == "/srv/posters"
    assert mounts["/dataset"]["read_only"] is True
    assert mounts["/data/poster-cache"]["type"] == "volume"
    for dependency in ("encoder", "qdrant"):
        assert ingest["depends_on"][dependency]["condition"] == "service_healthy"


def _parse(argv: list[str]) -> argparse.Namespace:
    from postersearch.app.cli import build_parser

    assert argv[0] == "poster-search", "the image's entrypoint is poster-search"
    return build_parser().parse_args(argv[1:])


def test_service_commands_are_real_cli_commands(resolve_compose: ResolveCompose) -> None:
    # What the container runs (the image's entrypoint plus the service's command), parsed by
    # the real `poster-search` parser.
    services = resolve_compose(
        profiles=("ingest",), env={"ENCODER_PORT": "6001", "ENCODER_API_KEY": "k"}
    )["services"]
    assert _parse(["poster-search", *services["encoder"]["command"]]).command == "encoder"
    assert _parse(["poster-search", *services["search"]["command"]]).command == "search-server"
    ingest = services["ingest"]
    args = _parse([*ingest["entrypoint"], *ingest["command"]])
    assert args.command == "ingest"
    assert args.dataset == Path("/dataset")
    assert args.encoder == "dns:///encoder:6001"
    # The key travels in the environment, never in the process arguments.
    assert ingest["environment"]["ENCODER_API_KEY"] == "k"
    assert not any(part.rsplit("=", 1)[-1] == "k" for part in ingest["entrypoint"])
    assert args.cache_dir == Path("/data/poster-cache")
    # `docker compose run --rm ingest DATASET OPTIONS` keeps the wiring and adds the rest.
    args = _parse([*ingest["entrypoint"], "/dataset/movies.jsonl", "--shard", "1/3"])
    assert (args.dataset, args.encoder) == (Path("/dataset/movies.jsonl"), "dns:///encoder:6001")
    assert (args.shard.index, args.shard.count) == (1, 3)


def test_ingest_reads_the_encoder_key_from_its_environment(
    resolve_compose: ResolveCompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = resolve_compose(profiles=("ingest",))["services"]["ingest"]
    argv = [*ingest["entrypoint"], *ingest["command"]]
    monkeypatch.setenv("ENCODER_API_KEY", ingest["environment"]["ENCODER_API_KEY"])
    assert not _parse(argv).encoder_api_key, "no key when the encoder has none"
    monkeypatch.setenv("ENCODER_API_KEY", "s3cret")
    assert _parse(argv).encoder_api_key == "s3cret"


def test_state_lives_in_named_volumes(resolve_compose: ResolveCompose) -> None:
    services = resolve_compose()["services"]
    qdrant = {v["target"]: v for v in services["qdrant"]["volumes"]}
    assert qdrant["/qdrant/storage"]["type"] == "volume"
    assert qdrant["/qdrant/snapshots"]["type"] == "volume"
    encoder = {v["target"]: v for v in services["encoder"]["volumes"]}
    # The image sets HF_HOME=/models/huggingface, inside this volume.
    assert encoder["/models"]["type"] == "volume"


def test_app_services_log_json_with_rotation(resolve_compose: ResolveCompose) -> None:
    services = resolve_compose(profiles=("ingest",))["services"]
    for name, service in services.items():
        options = service["logging"]["options"]
        assert options["max-size"] and options["max-file"], name
    for name in APP_SERVICES:
        assert services[name]["environment"]["POSTER_SEARCH_LOG_JSON"] == "1", name


def test_cluster_ingest_creates_a_sharded_replicated_collection(
    resolve_compose: ResolveCompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poster_index.settings import IndexSettings

    files = ("docker-compose.yml", "docker-compose.cluster.yml")
    environment = resolve_compose(files, ("ingest",))["services"]["ingest"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = IndexSettings()
    # Six shards over three nodes, each on two of them: losing a node loses no poster.
    assert (settings.backend, settings.shard_number, settings.replication_factor) == (
        "server",
        6,
        2,
    )
    # Outside the cluster override the server's defaults stay (.env lists them empty).
    plain = resolve_compose(profiles=("ingest",))["services"]["ingest"]["environment"]
    for name, value in plain.items():
        monkeypatch.setenv(name, value)
    settings = IndexSettings()
    assert (settings.shard_number, settings.replication_factor) == (None, None)
