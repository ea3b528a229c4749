"""The encoder interface that ingest and search depend on, and the errors it raises.

Two implementations exist: one runs the model in-process (embedded mode), one calls the
encoder service over gRPC. Callers cannot tell them apart.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncoderInfo:
    """What an encoder runs and the limits it enforces (mirrors the proto's EncoderInfo)."""

    model_id: str
    dimension: int
    device: str
    dtype: str
    max_batch_size: int
    max_text_chars: int
    max_image_bytes: int
    max_image_pixels: int
    max_message_bytes: int
    image_size: int


class ImageErrorCode(enum.Enum):
    """Why one image of a batch got no vector."""

    EMPTY = "empty"
    TOO_MANY_BYTES = "too_many_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNDECODABLE = "undecodable"


@dataclass(frozen=True)
class ImageFailure:
    """The per-item error for one image; the rest of its batch is unaffected."""

    index: int
    code: ImageErrorCode
    message: str


ImageOutcome = npt.NDArray[np.float32] | ImageFailure


class EncoderError(Exception):
    """Base of the errors an encoder raises for a whole call."""


class InvalidInputError(EncoderError):
    """The request itself is wrong (empty batch, text too long...); maps to INVALID_ARGUMENT."""


class OverloadedError(EncoderError):
    """Too much work is queued; maps to RESOURCE_EXHAUSTED. Retry later."""


class EncoderUnavailableError(EncoderError):
    """The encoder is starting, stopped or unreachable; maps to UNAVAILABLE."""


class Encoder(Protocol):
    """Turns text and image bytes into L2-normalised float32 vectors in one shared space."""

    async def info(self) -> EncoderInfo:
        """The model and limits of this encoder."""
        ...

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Encodes texts into an (n, dimension) array, row i for texts[i].

        Raises:
            InvalidInputError: Empty batch, empty text, text or batch over the limits.
            OverloadedError: The encoder's queue is full.
            EncoderUnavailableError: The encoder cannot be reached.
        """
        ...

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        """Encodes image files; item i is images[i]'s vector or the reason it has none.

        Raises:
            InvalidInputError: Empty batch or batch over the limit.
            OverloadedError: The encoder's queue is full.
            EncoderUnavailableError: The encoder cannot be reached.
        """
        ...

    async def close(self) -> None:
        """Releases the model or the channel."""
        ...
