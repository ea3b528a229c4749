"""docs/operations.md says what the files and the code do: its tables and its script are checked."""

from __future__ import annotations

import re
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
def local_qdrant(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    # The script reads the stack's variables; ":memory:" makes its client Qdrant's local mode.
    monkeypatch.setenv("QDRANT_URL", ":memory:")
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)
    monkeypatch.delenv("QDRANT_COLLECTION", raising=False)
    monkeypatch.delenv("ENCODER_MODEL", raising=False)
    namespace: dict[str, Any] = {}
    yield namespace
    client = namespace.get("client")
    if isinstance(client, QdrantClient):
        client.close()


# Local mode warns that it keeps no payload indexes and searches exactly: both expected here.
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cluster_collection_script_makes_a_collection_the_services_accept(
    cluster_script: str, local_qdrant: dict[str, Any]
) -> None:
    from poster_index.server import _PAYLOAD_INDEXES, ServerPosterIndex
    from postersearch.domain import CollectionModel

    exec(compile(cluster_script, "operations.md", "exec"), local_qdrant)
    client: QdrantClient = local_qdrant["client"]
    # The payload indexes the index code makes for a collection it creates itself.
    assert local_qdrant["PAYLOAD_INDEXES"] == {
        field: schema.value for field, schema in _PAYLOAD_INDEXES
    }
    # The services open it as theirs, with the default model, and store and find posters.
    index = ServerPosterIndex(client)
    model = CollectionModel("google/siglip2-base-patch16-256", 768)
    assert index.collection_model() == model
    index.ensure_collection(model)
    poster = Poster(
        movie_id="1", title="Alien", genres=("Horror",), year=1979, rating=8.5, poster="a.jpg"
    )
    index.upsert([PosterVector(poster, [1.0] + [0.0] * 767)])
    (hit,) = index.search([1.0] + [0.0] * 767, SearchFilter(genres_any=("Horror",)), limit=5)
    assert hit.poster.movie_id == "1"


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
