"""Choosing and reaching a backend: settings from the environment, the factory, a server down."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from index_samples import MODEL
from qdrant_client import QdrantClient, models

from poster_index.base import IndexUnavailableError, ModelMismatchError
from poster_index.edge import EdgePosterIndex
from poster_index.factory import open_index
from poster_index.payload import point_id
from poster_index.remote import ServerPosterIndex, quantization_config
from poster_index.settings import IndexSettings
from poster_index.tuning import IndexTuning, Quantization

# qdrant-client's local mode says, rightly, that it ignores payload indexes and HNSW settings.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]


def test_settings_come_from_qdrant_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IndexSettings().backend == "edge"
    monkeypatch.setenv("QDRANT_BACKEND", "server")
    monkeypatch.setenv("QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("QDRANT_COLLECTION", "posters_v2")
    monkeypatch.setenv("QDRANT_PREFER_GRPC", "false")
    settings = IndexSettings()
    assert (settings.backend, settings.url, settings.collection, settings.prefer_grpc) == (
        "server",
        "http://qdrant:6333",
        "posters_v2",
        False,
    )


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # `.env` lists QDRANT_SHARD_NUMBER= empty; it must read as "the server's default".
    monkeypatch.setenv("QDRANT_SHARD_NUMBER", "")
    monkeypatch.setenv("QDRANT_REPLICATION_FACTOR", "2")
    settings = IndexSettings()
    assert (settings.shard_number, settings.replication_factor) == (None, 2)
    monkeypatch.setenv("QDRANT_SHARD_NUMBER", "0")
    with pytest.raises(ValueError, match="shard_number"):
        IndexSettings()


def test_factory_creates_server_collections_with_the_shard_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """QDRANT_SHARD_NUMBER and QDRANT_REPLICATION_FACTOR reach Qdrant's create call."""
    created: list[dict[str, object]] = []

    class RecordingClient(QdrantClient):
        # Local mode keeps no shard layout to read back, so the create call is recorded on
        # its way into a real local-mode Qdrant.
        def create_collection(self, *args: object, **kwargs: object) -> bool:
            created.append(kwargs)
            return super().create_collection(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(
        "poster_index.factory.QdrantClient", lambda **_: RecordingClient(":memory:")
    )
    settings = IndexSettings(backend="server", shard_number=6, replication_factor=2)
    index = open_index(settings)
    assert isinstance(index, ServerPosterIndex)
    index.ensure_collection(MODEL)
    index.ensure_collection(MODEL)  # the second call finds the collection and creates nothing
    try:
        (kwargs,) = created
        assert (kwargs["shard_number"], kwargs["replication_factor"]) == (6, 2)
        assert index.collection_model() == MODEL
    finally:
        index.close()


def test_factory_opens_edge_under_path(tmp_path: Path) -> None:
    index = open_index(IndexSettings(backend="edge", path=str(tmp_path), collection="c1"))
    try:
        assert isinstance(index, EdgePosterIndex)
        index.ensure_collection(MODEL)
        assert (tmp_path / "c1").is_dir()
    finally:
        index.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
@pytest.mark.parametrize("prefer_grpc", [True, False], ids=["grpc", "http"])
def test_server_down_is_unavailable(prefer_grpc: bool) -> None:
    port = _closed_port()
    settings = IndexSettings(
        backend="server",
        url=f"http://127.0.0.1:{port}",
        grpc_port=port,
        prefer_grpc=prefer_grpc,
        timeout_s=2,
    )
    index = open_index(settings)
    assert isinstance(index, ServerPosterIndex)
    with pytest.raises(IndexUnavailableError):
        index.ensure_collection(MODEL)
    with pytest.raises(IndexUnavailableError):
        index.count()
    index.close()


def test_server_records_model_as_collection_metadata() -> None:
    client = QdrantClient(location=":memory:")
    ServerPosterIndex(client, collection="meta").ensure_collection(MODEL)
    metadata = client.get_collection("meta").config.metadata or {}
    assert (metadata["poster_search_model_id"], metadata["poster_search_dimension"]) == (
        MODEL.model_id,
        MODEL.dimension,
    )
    client.close()


def test_point_ids_are_stable_uuids() -> None:
    assert point_id("862") == point_id("862") != point_id("863")
    assert len(point_id("862")) == 36


def test_server_refuses_a_collection_without_model_record() -> None:
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "foreign",
        vectors_config={"image": models.VectorParams(size=8, distance=models.Distance.COSINE)},
    )
    with pytest.raises(ModelMismatchError, match="does not record"):
        ServerPosterIndex(client, collection="foreign").ensure_collection(MODEL)
    client.close()


@pytest.mark.parametrize("quantization", ["turbo4", "int8", "none"])
def test_quantization_follows_the_tuning(tmp_path: Path, quantization: Quantization) -> None:
    """Both backends create the collection with the tuning's quantized copy of the vectors."""
    tuning = IndexTuning(quantization=quantization)
    edge_index = EdgePosterIndex(tmp_path, tuning=tuning)
    edge_index.ensure_collection(MODEL)
    edge_index.close()
    edge_config = json.loads((tmp_path / "posters" / "edge_config.json").read_text())
    # The server backend's config (local mode drops it, so it is checked as built).
    server_config = quantization_config(tuning)
    if quantization == "none":
        assert "quantization_config" not in edge_config
        assert server_config is None
    elif quantization == "turbo4":
        assert edge_config["quantization_config"]["turbo"]["bits"] == "bits4"
        assert isinstance(server_config, models.TurboQuantization)
        assert server_config.turbo.bits == models.TurboQuantBitSize.BITS4
    else:
        assert edge_config["quantization_config"]["scalar"]["type"] == "int8"
        assert isinstance(server_config, models.ScalarQuantization)
        assert server_config.scalar.type == models.ScalarType.INT8
        assert (
            server_config.scalar.quantile
            == edge_config["quantization_config"]["scalar"]["quantile"]
        )
