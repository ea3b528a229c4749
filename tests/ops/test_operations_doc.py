"""docs/operations.md says what the files and the code do: its tables and its script are checked."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient

from postersearch.domain import Poster, PosterVector, SearchFilter

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


@pytest.fixture
def cluster_script(doc: str) -> str:
    match = re.search(r"<!-- create-cluster-collection -->\n```python\n(.*?)```", doc, re.S)
    assert match, "the collection-creating script is gone from docs/operations.md"
    return match.group(1)


@pytest.fixture
def encoder_target(tiny_model_dir: Path) -> Iterator[str]:
    """A real encoder server with the tiny model, on an event loop of its own thread."""
    from encoder_service.local import open_local_encoder
    from encoder_service.server import create_server
    from encoder_service.settings import EncoderSettings

    settings = EncoderSettings(
        model=str(tiny_model_dir), device="cpu", host="127.0.0.1", port=0, decode_workers=1
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Any, Any, int]:
        encoder = await open_local_encoder(settings)
        server, port = create_server(settings, encoder)
        await server.start()
        return encoder, server, port

    encoder, server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(120)
    try:
        yield f"127.0.0.1:{port}"
    finally:

        async def stop() -> None:
            await server.stop(0)
            await encoder.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# Local mode warns that it keeps no payload indexes and searches exactly: both expected here.
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cluster_collection_script_makes_a_collection_the_services_accept(
    cluster_script: str,
    encoder_target: str,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from poster_index.server import ServerPosterIndex
    from postersearch.domain import CollectionModel

    # The variables the search container has; ":memory:" makes the script's client Qdrant's
    # local mode.
    for name in ("QDRANT_API_KEY", "QDRANT_COLLECTION", "SEARCH_ENCODER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QDRANT_URL", ":memory:")
    monkeypatch.setenv("SEARCH_ENCODER_TARGET", encoder_target)
    # Records what reaches Qdrant's create call (local mode keeps no shard layout to ask).
    created: list[dict[str, Any]] = []
    original = QdrantClient.create_collection

    def recording(self: QdrantClient, *args: Any, **kwargs: Any) -> bool:
        created.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QdrantClient, "create_collection", recording)
    namespace: dict[str, Any] = {}
    exec(compile(cluster_script, "operations.md", "exec"), namespace)
    client: QdrantClient = namespace["client"]
    try:
        (kwargs,) = created
        assert kwargs["shard_number"] == namespace["SHARDS"]
        assert kwargs["replication_factor"] == namespace["REPLICAS"]
        # The services open it as theirs: the model the encoder serves, its vector size.
        index = ServerPosterIndex(client)
        model = CollectionModel(str(tiny_model_dir), 32)
        assert index.collection_model() == model
        index.ensure_collection(model)
        poster = Poster(
            movie_id="1", title="Alien", genres=("Horror",), year=1979, rating=8.5, poster="a.jpg"
        )
        vector = [1.0] + [0.0] * (model.dimension - 1)
        index.upsert([PosterVector(poster, vector)])
        (hit,) = index.search(vector, SearchFilter(genres_any=("Horror",)), limit=5)
        assert hit.poster.movie_id == "1"
    finally:
        client.close()


def test_cluster_override_runs_three_clustered_nodes(resolve_compose: ResolveCompose) -> None:
    services = resolve_compose(("docker-compose.yml", "docker-compose.cluster.yml"), ("ingest",))[
        "services"
    ]
    nodes = {name: s for name, s in services.items() if name.startswith("qdrant")}
    assert set(nodes) == {"qdrant", "qdrant-1", "qdrant-2"}
    storages = set()
    for name, node in nodes.items():
        assert node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true", name
        assert node["environment"]["QDRANT__SERVICE__API_KEY"] == "test-qdrant-key", name
        assert node["image"] == services["qdrant"]["image"], name
        assert node["healthcheck"]["test"] == services["qdrant"]["healthcheck"]["test"], name
        assert f"--uri http://{name}:6335" in " ".join(node["command"]), name
        storages |= {v["source"] for v in node["volumes"] if v["target"] == "/qdrant/storage"}
    assert len(storages) == 3, "each node needs storage of its own"
    for name in ("qdrant-1", "qdrant-2"):
        assert "--bootstrap http://qdrant:6335" in " ".join(nodes[name]["command"])
        assert "ports" not in nodes[name]
    for name in ("search", "ingest"):
        for node in nodes:
            assert services[name]["depends_on"][node]["condition"] == "service_healthy"


def test_every_served_metric_is_documented(doc: str, repo_root: Path) -> None:
    defined = {
        name
        for package in ("postersearch", "encoder_service", "search_service", "poster_index")
        for path in (repo_root / package).rglob("*.py")
        for name in re.findall(
            r"(?:Counter|Gauge|Histogram|Summary)\(\s*\"(postersearch_\w+)\"",
            path.read_text(encoding="utf-8"),
        )
    }
    # Ingest's counter is defined in the shared module, but the job serves no endpoint.
    served = {name for name in defined if not name.startswith("postersearch_ingest_")}
    assert len(served) >= 5
    documented = set(re.findall(r"(?m)^\| `(postersearch_\w+)` \|", doc))
    assert served == documented
