"""Settings of the search service, read from ``SEARCH_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SearchSettings(BaseSettings):
    """How the search service listens, whom it asks, and the limits it enforces.

    Built once in ``main`` and passed down. Every field can be set through the environment
    with the ``SEARCH_`` prefix, e.g. ``SEARCH_PORT=6000``.

    Attributes:
        host: Interface the gRPC server binds.
        port: gRPC port (0 picks a free one).
        api_key: When set, callers must send ``authorization: Bearer <key>``.
        encoder_target: gRPC target of the encoder service ("host:port" or
            "dns:///host:port"); empty runs the model in-process.
        encoder_api_key: Key the encoder service expects, if any.
        encoder_timeout_s: Longest wait for one encoder call when the caller set no deadline.
        cache_size: Query vectors kept (least recently used dropped first); 0 disables.
        max_text_chars: Longest query text accepted; unset derives it from the encoder's
            tokenizer (the most characters the model can ever read), or, in text mode
            where no model reads the query, 2000.
        translate: Search queries in a script the encoder's translator reads (Hangul...)
            with their English translation too; a request may still turn it off.
        translation_cache_size: Translations kept (least recently used dropped first).
        translation_merge: How the answers to the query and to its translation become
            one: "best" keeps each poster's better score, "rrf" fuses the two rankings
            by reciprocal rank.
        default_limit: Results per page when the request does not say.
        max_limit: Largest page a request may ask for.
        max_offset: Deepest paging offset accepted (deep offsets make Qdrant scan).
        genre_cache_s: How long the known genres are reused before asking the index again.
        max_message_bytes: Largest gRPC message received or sent (image uploads).
        grace_s: How long in-flight calls may finish on shutdown.
        metrics_port: Prometheus metrics port; 0 disables.
        http_port: Web page port of ``poster-search serve``.
        http_api_key: When set, the web page's JSON API (``/api/...``) needs
            ``Authorization: Bearer <key>``; the page itself, its files, poster images and
            ``/healthz`` stay public. Separate from api_key (gRPC) because a browser
            page that holds no key cannot call a keyed API.
    """

    model_config = SettingsConfigDict(env_prefix="SEARCH_", extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(default=50052, ge=0, le=65535)
    api_key: str | None = None
    encoder_target: str = ""
    encoder_api_key: str | None = None
    encoder_timeout_s: float = Field(default=30.0, gt=0)
    cache_size: int = Field(default=1024, ge=0)
    max_text_chars: int | None = Field(default=None, ge=1)
    translate: bool = True
    translation_cache_size: int = Field(default=1024, ge=0)
    translation_merge: Literal["best", "rrf"] = "best"
    default_limit: int = Field(default=10, ge=1)
    max_limit: int = Field(default=100, ge=1)
    max_offset: int = Field(default=10_000, ge=0)
    genre_cache_s: float = Field(default=30.0, ge=0)
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    grace_s: float = Field(default=5.0, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_api_key: str | None = None

    @field_validator("max_text_chars", mode="before")
    @classmethod
    def _empty_limit_is_derived(cls, value: object) -> object:
        # SEARCH_MAX_TEXT_CHARS= (set but empty, as in .env.example): derive it.
        return None if value == "" else value

    @field_validator("api_key", "encoder_api_key", "http_api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        # SEARCH_API_KEY= (set but empty, as in .env.example) means no key, not a key of "".
        return value or None
