"""Opening the pieces a search runs on: the index, and an encoder for its model.

With no encoder service configured, the model runs in this process. Which model: the one
asked for, else ENCODER_MODEL, else the model the collection was built with, so that a
collection ingested with any model (the demo's included) is searched with that model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from poster_index.base import PosterIndex
from poster_index.settings import IndexSettings
from postersearch.domain import CollectionModel
from postersearch.encoding import (
    EncodedTexts,
    Encoder,
    EncoderInfo,
    EncoderUnavailableError,
    ImageOutcome,
    Vectors,
)
from search_service.settings import SearchSettings

log = logging.getLogger(__name__)


def open_search_index(settings: IndexSettings) -> PosterIndex:
    """The index the settings name: an Edge shard on disk or a Qdrant server.

    An Edge shard is loaded on first use, not here: a shard an ingest creates later is
    found then, and a shard that cannot be opened (damaged, locked by a running ingest)
    is reported by each call, so a server starts and says why instead of dying.
    """
    from poster_index.factory import open_index

    return open_index(settings, open_now=False)


def local_model_for(requested: str | None, collection: CollectionModel | None) -> str | None:
    """The model an in-process encoder should load; None keeps the encoder's default.

    Args:
        requested: A model named on the command line, if any.
        collection: The model the collection holds, if it exists.
    """
    from encoder_service.settings import EncoderSettings

    if requested:
        return requested
    if "model" in EncoderSettings().model_fields_set:
        return None  # ENCODER_MODEL is set: the person chose
    return collection.model_id if collection is not None else None


async def open_encoder(
    settings: SearchSettings, model: str | None = None, device: str | None = None
) -> Encoder:
    """A GrpcEncoder when settings.encoder_target is set, else an in-process encoder.

    Args:
        settings: The search settings (encoder target, key and timeout).
        model: Model id or folder for the in-process encoder; None for ENCODER_MODEL or
            the encoder's default.
        device: Device for the in-process encoder ("cpu", "cuda"...); None for ENCODER_DEVICE.
    """
    if settings.encoder_target:
        from encoder_service.client import GrpcEncoder

        return GrpcEncoder(
            settings.encoder_target, settings.encoder_api_key, settings.encoder_timeout_s
        )
    from encoder_service.local import open_local_encoder
    from encoder_service.settings import EncoderSettings

    overrides: dict[str, str] = {}
    if model:
        overrides["model"] = model
    if device:
        overrides["device"] = device
    encoder_settings = EncoderSettings(**overrides)  # type: ignore[arg-type]
    log.info("loading %s in-process", encoder_settings.model)
    return await open_local_encoder(encoder_settings)


class LoadingEncoder:
    """An Encoder that answers "unavailable" until the real one is attached.

    Lets a server listen (health NOT_SERVING) while its in-process model loads, instead of
    refusing connections for the seconds or minutes a large model takes.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._inner: Encoder | None = None

    def attach(self, encoder: Encoder) -> None:
        """From now on every call goes to encoder."""
        self._inner = encoder

    def _ready(self) -> Encoder:
        if self._inner is None:
            raise EncoderUnavailableError(f"the model {self._what} is still loading")
        return self._inner

    async def info(self) -> EncoderInfo:
        """The loaded encoder's info."""
        return await self._ready().info()

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Encodes with the loaded encoder."""
        return await self._ready().encode_texts(texts)

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        """Encodes with the loaded encoder, with how much of each text it read."""
        return await self._ready().encode_texts_read(texts)

    async def translate(self, texts: Sequence[str]) -> list[str]:
        """Translates with the loaded encoder."""
        return await self._ready().translate(texts)

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        """Encodes with the loaded encoder."""
        return await self._ready().encode_images(images)

    async def close(self) -> None:
        """Closes the loaded encoder, if any."""
        if self._inner is not None:
            await self._inner.close()
