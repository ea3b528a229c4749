"""Opens the index the settings name: the embedded Edge shard or a Qdrant server."""

from __future__ import annotations

from qdrant_client import QdrantClient

from poster_index.base import PosterIndex
from poster_index.edge import EdgePosterIndex
from poster_index.remote import ServerPosterIndex
from poster_index.settings import IndexSettings


def open_index(settings: IndexSettings, open_now: bool = True) -> PosterIndex:
    """The PosterIndex for settings.backend.

    Nothing is created here: callers that write call `ensure_collection` first, callers that
    only read check `collection_model()`.

    Args:
        settings: Which backend, where, which collection.
        open_now: Edge: load an existing shard here (raising its errors now); False defers
            it to the first call, for servers that report the error instead of exiting.

    Raises:
        IndexUnavailableError: open_now and an existing Edge shard cannot be loaded.
    """
    if settings.backend == "edge":
        return EdgePosterIndex(settings.path, collection=settings.collection, open_now=open_now)
    client = QdrantClient(
        url=settings.url,
        grpc_port=settings.grpc_port,
        prefer_grpc=settings.prefer_grpc,
        api_key=settings.api_key,
        timeout=settings.timeout_s,
    )
    return ServerPosterIndex(
        client,
        collection=settings.collection,
        shard_number=settings.shard_number,
        replication_factor=settings.replication_factor,
    )
