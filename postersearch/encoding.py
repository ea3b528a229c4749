"""The encoder interface that ingest and search depend on, and the errors it raises.

Two implementations exist: one runs the model in-process (embedded mode), one calls the
encoder service over gRPC. Callers cannot tell them apart.
"""

from __future__ import annotations

import enum
import math
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
    max_text_tokens: int = 0
    logit_scale: float | None = None
    logit_bias: float | None = None
    text_preprocessing: str = ""
    translator_model_id: str = ""
    translation_scripts: tuple[str, ...] = ()

    def probability(self, cosine: float) -> float | None:
        """The model's match probability of a text and an image at this cosine.

        sigmoid(logit_scale * cosine + logit_bias), as SigLIP was trained; None for a
        model that defines no such calibration (CLIP's logits only rank).
        """
        if self.logit_scale is None or self.logit_bias is None:
            return None
        z = self.logit_scale * cosine + self.logit_bias
        # The two-sided form never overflows exp().
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


@dataclass(frozen=True)
class TextTokens:
    """How much of one text the model read.

    Attributes:
        tokens: Tokens the whole text makes, after the model's own preprocessing.
        read: Tokens the model read: at most its limit.
        read_text: The text those tokens cover, as the model saw it.
    """

    tokens: int
    read: int
    read_text: str

    @property
    def cut(self) -> bool:
        """True when the model read less than the whole text."""
        return self.read < self.tokens


@dataclass(frozen=True)
class EncodedTexts:
    """Vectors of texts with how much of each the model read (row i for text i)."""

    vectors: Vectors
    tokens: list[TextTokens]


def read_whole(texts: Sequence[str]) -> list[TextTokens]:
    """What an encoder with no token limit (a deterministic stand-in) reports: every
    text read whole, counting one token a word."""
    return [TextTokens(len(t.split()), len(t.split()), t) for t in texts]


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


class TranslatorUnavailableError(EncoderError):
    """The encoder runs no translator, or it failed; maps to FAILED_PRECONDITION.

    Search answers with the query as typed and says so: translation is an aid, never a
    reason to fail a search.
    """


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

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        """Encodes texts like encode_texts, saying how much of each the model read.

        Raises:
            The errors of encode_texts.
        """
        ...

    async def translate(self, texts: Sequence[str]) -> list[str]:
        """Each text in English, by the encoder's translation model.

        Raises:
            InvalidInputError: Empty batch, empty text, text or batch over the limits.
            TranslatorUnavailableError: No translator is loaded, or it failed.
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
