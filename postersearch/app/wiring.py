"""How the application builds what it runs on: the model, an encoder, an index.

Every command goes through these functions, so each rule is written once:

- Which model an in-process encoder loads (`choose_model`): the one named on the command
  line, else ENCODER_MODEL, else the model the collection was built with, else the
  default. A collection ingested with any model (the demo's included) is thus searched,
  and added to, with that model.
- Which encoder (`open_encoder`): a gRPC client when a target is given, else the model
  in this process.
- Which index (`open_index`): an Edge shard on disk or a Qdrant server, as the settings say.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from encoder_service.client import GrpcEncoder
from encoder_service.settings import EncoderSettings
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

if TYPE_CHECKING:
    from encoder_service.local import LocalEncoder

log = logging.getLogger(__name__)


def choose_model(
    requested: str | None, collection: CollectionModel | None, configured: EncoderSettings
) -> str:
    """The model an in-process encoder loads.

    Args:
        requested: A model named on the command line, if any.
        collection: The model the collection holds, if the collection exists.
        configured: The encoder settings from the environment (ENCODER_MODEL).
    """
    if requested:
        return requested
    if "model" in configured.model_fields_set:
        return configured.model  # ENCODER_MODEL is set: the person chose
    if collection is not None:
        return collection.model_id
    return configured.model


def encoder_settings(
    model: str | None = None,
    device: str | None = None,
    collection: CollectionModel | None = None,
    **fields: Any,
) -> EncoderSettings:
    """ENCODER_* settings with the command line's choices on top.

    Args:
        model: Model named on the command line (None: see `choose_model`).
        device: Device named on the command line (None: ENCODER_DEVICE, else "auto").
        collection: The model the collection holds, when there is one.
        fields: Other settings given by the command line (host, port...).
    """
    if device:
        fields["device"] = device
    settings = EncoderSettings(**fields)
    chosen = choose_model(model, collection, settings)
    if chosen == settings.model:
        return settings
    return settings.model_copy(update={"model": chosen})


async def open_encoder(
    settings: EncoderSettings,
    target: str = "",
    api_key: str | None = None,
    timeout_s: float = 30.0,
) -> Encoder:
    """A GrpcEncoder when target is set, else the model of settings loaded in this process.

    Args:
        settings: The in-process encoder's settings (see `encoder_settings`).
        target: Encoder service, "host:port" or "dns:///host:port"; empty loads the model.
        api_key: Key the encoder service expects, if any.
        timeout_s: Longest wait for one encoder call when the caller set no deadline.
    """
    if target:
        return GrpcEncoder(target, api_key, timeout_s)
    return await open_local_encoder(settings)


async def open_local_encoder(settings: EncoderSettings) -> LocalEncoder:
    """The model of settings, loaded and warmed up in this process."""
    # Lazy: it imports torch and sentence-transformers (seconds), which commands that call
    # an encoder service, or need no model at all, never load.
    from encoder_service.local import open_local_encoder as load

    log.info("loading %s in-process", settings.model)
    encoder = await load(settings)
    log.info("encoder: %s", encoder.describe())
    return encoder


def open_index(settings: IndexSettings, open_now: bool = True) -> PosterIndex:
    """The index the settings name: an Edge shard on disk or a Qdrant server.

    Args:
        settings: Which backend, where, which collection.
        open_now: Edge: load an existing shard now (raising its errors now). Servers pass
            False: a shard an ingest creates later is found then, and a shard that cannot
            be opened (damaged, locked by a running ingest) is reported by each call, so
            a server starts and says why instead of dying.
    """
    # Lazy: qdrant-client takes about a second to import, and commands that ask a search
    # server (search --server) never open an index.
    from poster_index.factory import open_index as open_backend

    return open_backend(settings, open_now=open_now)


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
