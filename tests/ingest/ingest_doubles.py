"""Test doubles and file helpers of the ingest tests."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from postersearch.encoding import (
    EncodedTexts,
    EncoderInfo,
    EncoderUnavailableError,
    ImageErrorCode,
    ImageFailure,
    ImageOutcome,
    InvalidInputError,
    TranslatorUnavailableError,
    Vectors,
    read_whole,
)

DIMENSION = 16


class HashEncoder:
    """An encoder double: the vector of an image is a hash of its bytes, normalised.

    Images Pillow cannot decode get an UNDECODABLE failure, as from the real encoder.
    It counts what it encodes and can be told to be unavailable for some calls, so tests
    can see what the worker sent and how it copes with an encoder that comes and goes.
    """

    def __init__(
        self,
        model_id: str = "hash-test",
        dimension: int = DIMENSION,
        max_batch_size: int = 32,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self.max_batch_size = max_batch_size
        self.max_message_bytes = max_message_bytes
        self.batch_sizes: list[int] = []
        self.encoded = 0
        self.calls = 0
        self.unavailable_calls = 0
        self.closed = False

    async def info(self) -> EncoderInfo:
        return EncoderInfo(
            model_id=self.model_id,
            dimension=self.dimension,
            device="cpu",
            dtype="float32",
            max_batch_size=self.max_batch_size,
            max_text_chars=2000,
            max_image_bytes=20 * 1024 * 1024,
            max_image_pixels=50_000_000,
            max_message_bytes=self.max_message_bytes,
            image_size=32,
        )

    def _vector(self, data: bytes) -> np.ndarray:
        digest = hashlib.sha512(data).digest()[: self.dimension]
        vec = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) - 127.5
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._vector(t.encode()) for t in texts])

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        return EncodedTexts(await self.encode_texts(texts), read_whole(texts))

    async def translate(self, texts: Sequence[str]) -> list[str]:
        raise TranslatorUnavailableError("this stand-in encoder runs no translator")

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        if not images or len(images) > self.max_batch_size:
            raise InvalidInputError(f"{len(images)} images")
        self.calls += 1
        self.batch_sizes.append(len(images))
        if self.unavailable_calls:
            self.unavailable_calls -= 1
            raise EncoderUnavailableError("encoder restarting")
        out: list[ImageOutcome] = []
        for i, data in enumerate(images):
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img.load()
            except Exception as exc:
                out.append(ImageFailure(i, ImageErrorCode.UNDECODABLE, f"not an image: {exc}"))
                continue
            out.append(self._vector(data))
            self.encoded += 1
        return out

    async def close(self) -> None:
        self.closed = True


def jpeg_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (40, 60)) -> bytes:
    """A small JPEG of one colour."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def write_posters(folder: Path, names: Sequence[str]) -> list[Path]:
    """Writes one small distinct JPEG per name into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        path = folder / name
        path.write_bytes(jpeg_bytes(((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)))
        paths.append(path)
    return paths
