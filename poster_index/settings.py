"""Where the poster index lives: an embedded Qdrant Edge shard or a Qdrant server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from poster_index.base import DEFAULT_COLLECTION


class IndexSettings(BaseSettings):
    """Index settings, read from `QDRANT_*` environment variables.

    Attributes:
        backend: "edge" for the in-process Qdrant Edge shard, "server" for a Qdrant server.
        path: Directory of the Edge shards (one subdirectory per collection).
        url: HTTP URL of the Qdrant server.
        grpc_port: gRPC port of the Qdrant server.
        prefer_grpc: Talk gRPC to the server rather than HTTP.
        api_key: Server API key, if the server requires one.
        collection: Collection name.
        timeout_s: Server request timeout in seconds.
        shard_number: Server: shards of the collection when it is created (None: the
            server's default, one). In a cluster, a multiple of the node count.
        replication_factor: Server: copies of each shard when the collection is created
            (None: the server's default, one). The collection survives losing
            replication_factor - 1 nodes.
    """

    # An empty variable (QDRANT_SHARD_NUMBER= in .env) means "unset", not an empty value.
    model_config = SettingsConfigDict(env_prefix="QDRANT_", extra="ignore", env_ignore_empty=True)

    backend: Literal["edge", "server"] = "edge"
    path: str = "./data/index"
    url: str = "http://localhost:6333"
    grpc_port: int = 6334
    prefer_grpc: bool = True
    api_key: str | None = None
    collection: str = DEFAULT_COLLECTION
    timeout_s: int = 10
    shard_number: int | None = Field(default=None, ge=1)
    replication_factor: int | None = Field(default=None, ge=1)
