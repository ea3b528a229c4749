"""Image decoding on the CPU: checks, decode, RGB conversion and resize to the model's size.

Every function here is safe to run on many threads at once: Pillow releases the GIL while
it decodes and resizes, so a thread pool spreads decoding over every core.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from postersearch.encoding import ImageErrorCode, ImageFailure

Pixels = npt.NDArray[np.uint8]
"""One image as (size, size, 3) uint8 RGB."""

_ALPHA_MODES = frozenset({"RGBA", "LA", "RGBa", "La", "PA"})
_WHITE = (255, 255, 255)
# Errors Pillow raises for files that are not images, or are truncated or corrupt.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError)


@dataclass(frozen=True)
class ImageLimits:
    """Per-image limits; an image over any of them gets an ImageFailure, not a vector."""

    max_image_bytes: int
    max_image_pixels: int


@dataclass(frozen=True)
class Header:
    """What the file header says, read without decoding the pixels."""

    format: str
    mode: str
    width: int
    height: int


def _failure(index: int, code: ImageErrorCode, reason: str) -> ImageFailure:
    return ImageFailure(index=index, code=code, message=f"image {index}: {reason}")


def _not_an_image(index: int) -> ImageFailure:
    return _failure(
        index, ImageErrorCode.UNDECODABLE, "is not an image in a known format (JPEG, PNG, WebP...)"
    )


def check_size(index: int, data: bytes, limits: ImageLimits) -> ImageFailure | None:
    """Refuses empty images and images over the byte limit, before anything is parsed."""
    if not data:
        return _failure(index, ImageErrorCode.EMPTY, "is empty (0 bytes)")
    if len(data) > limits.max_image_bytes:
        return _failure(
            index,
            ImageErrorCode.TOO_MANY_BYTES,
            f"has {len(data):,} bytes, more than the limit of {limits.max_image_bytes:,}",
        )
    return None


def _check_pixels(index: int, width: int, height: int, limits: ImageLimits) -> ImageFailure | None:
    if width * height > limits.max_image_pixels:
        return _failure(
            index,
            ImageErrorCode.TOO_MANY_PIXELS,
            f"is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{limits.max_image_pixels:,}",
        )
    return None


def _open(data: bytes) -> Image.Image:
    # Our own pixel limit is checked right after the header is read, so Pillow's warning
    # is noise; its error (past twice its MAX_IMAGE_PIXELS) still refuses the file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _bomb(index: int, exc: Exception) -> ImageFailure:
    return _failure(index, ImageErrorCode.TOO_MANY_PIXELS, f"is a decompression bomb ({exc})")


def probe(index: int, data: bytes, limits: ImageLimits) -> Header | ImageFailure:
    """Reads the header only and applies every check that needs no decoding."""
    failure = check_size(index, data, limits)
    if failure is not None:
        return failure
    try:
        with _open(data) as img:
            header = Header(img.format or "", img.mode, img.width, img.height)
    except Image.DecompressionBombError as exc:
        return _bomb(index, exc)
    except UnidentifiedImageError:
        return _not_an_image(index)
    except _DECODE_ERRORS as exc:
        return _failure(index, ImageErrorCode.UNDECODABLE, f"has an unreadable header ({exc})")
    return _check_pixels(index, header.width, header.height, limits) or header


def to_rgb(img: Image.Image) -> Image.Image:
    """Converts any mode to RGB; transparent areas become white, as on a page."""
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def decode(
    index: int, data: bytes, limits: ImageLimits, size: int, resample: int
) -> Pixels | ImageFailure:
    """Decodes one image file and resizes it to size x size RGB.

    Args:
        index: Position of the image in its request, for the error message.
        data: The encoded file (JPEG, PNG, WebP, anything Pillow reads).
        limits: Byte and pixel limits, checked before decoding.
        size: Square side the model expects.
        resample: Pillow resampling filter, the model's processor's choice.

    Returns:
        A (size, size, 3) uint8 array, or the reason the image has none.
    """
    failure = check_size(index, data, limits)
    if failure is not None:
        return failure
    try:
        with _open(data) as img:
            failure = _check_pixels(index, img.width, img.height, limits)
            if failure is not None:
                return failure
            if img.format == "JPEG":
                # Decodes straight to a 1/2, 1/4 or 1/8 scale in the DCT when the file is
                # at least that much bigger than needed: far less work than a full decode.
                img.draft("RGB", (size, size))
            img.load()
            rgb = to_rgb(img)
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), resample=Image.Resampling(resample))
            # A copy: Pillow's buffer is read-only, torch wants a writable array.
            return np.array(rgb, dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        return _bomb(index, exc)
    except UnidentifiedImageError:
        return _not_an_image(index)
    except _DECODE_ERRORS as exc:
        return _failure(
            index, ImageErrorCode.UNDECODABLE, f"could not be decoded: truncated or corrupt ({exc})"
        )
