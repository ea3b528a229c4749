"""Settings of an ingest run, read from ``INGEST_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.fetch import FetchSettings
from ingest.retry import RetryPolicy


class IngestSettings(BaseSettings):
    """How an ingest run calls the encoder, batches, downloads and retries.

    Every field can be set through the environment with the ``INGEST_`` prefix, e.g.
    ``INGEST_BATCH_SIZE=64``; the command line's flags win over it.

    Attributes:
        encoder_target: Encoder service to call, host:port or dns:///host:port; empty
            runs the model in-process.
        encoder_api_key: API key of the encoder service, read from ENCODER_API_KEY (the
            key the encoder itself is given).
        batch_size: Posters per encode and upsert.
        in_flight: Batches processed at once.
        cache_dir: Folder of downloaded posters.
        download_concurrency: Poster downloads at once.
        download_timeout_s: Seconds per download try.
        retries: Tries for an unavailable encoder or index before giving up.
        progress_every_s: Seconds between progress log lines when not on a terminal.
        metrics_port: Serve Prometheus /metrics on this port while ingesting; 0 is off.
    """

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", populate_by_name=True)

    encoder_target: str = ""
    encoder_api_key: str | None = Field(
        default=None,
        # The encoder's own variable: one key for the service and its callers.
        validation_alias=AliasChoices("encoder_api_key", "ENCODER_API_KEY"),
    )
    batch_size: int = Field(default=128, ge=1)
    in_flight: int = Field(default=4, ge=1)
    cache_dir: str = "./data/poster-cache"
    download_concurrency: int = Field(default=16, ge=1)
    download_timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=6, ge=0)
    progress_every_s: float = Field(default=10.0, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)

    @field_validator("encoder_api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        # ENCODER_API_KEY= (set but empty, as in .env.example) means no key.
        return value or None

    def fetch_settings(self) -> FetchSettings:
        """How poster files and URLs are read: the cache, downloads at once, their timeout."""
        return FetchSettings(
            cache_dir=Path(self.cache_dir),
            concurrency=self.download_concurrency,
            timeout_s=self.download_timeout_s,
        )

    def retry_policy(self) -> RetryPolicy:
        """Retries of an unavailable dependency (at least the one try)."""
        return RetryPolicy(attempts=max(1, self.retries))
