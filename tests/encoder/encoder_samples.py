"""Image files for the encoder tests, built in memory: every format and mode it accepts."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw


def poster(width: int = 300, height: int = 450, seed: int = 0) -> Image.Image:
    """A poster-like RGB picture: a gradient, a few shapes and a title band."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    pixels = (top * (1 - y) + bottom * y).repeat(width, axis=1).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        x1, y1 = x0 + int(rng.integers(10, width // 2)), y0 + int(rng.integers(10, height // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    draw.rectangle((0, height * 4 // 5, width, height), fill=(20, 20, 20))
    return img


def encode(img: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """The file bytes of img in fmt."""
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(width: int = 300, height: int = 450, seed: int = 0) -> bytes:
    """A poster as a JPEG file."""
    return encode(poster(width, height, seed), "JPEG", quality=90)


def png_header_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid-looking PNG of a few bytes whose header claims width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # One compressed run of zeros: a few KB that would inflate to width*height*3 bytes.
    data = zlib.compress(b"\x00" * 1_000_000, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def every_mode() -> dict[str, bytes]:
    """One file per colour mode and format the encoder must convert to RGB."""
    base = poster(64, 96)
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    palette_transparent = base.convert("P")
    palette_transparent.info["transparency"] = 0
    return {
        "jpeg-rgb": encode(base, "JPEG"),
        "jpeg-grayscale": encode(base.convert("L"), "JPEG"),
        "jpeg-cmyk": encode(base.convert("CMYK"), "JPEG"),
        "png-rgb": encode(base, "PNG"),
        "png-rgba": encode(rgba, "PNG"),
        "png-grayscale": encode(base.convert("L"), "PNG"),
        "png-grayscale-alpha": encode(base.convert("LA"), "PNG"),
        "png-palette": encode(base.convert("P"), "PNG"),
        "png-palette-transparent": encode(palette_transparent, "PNG"),
        "webp": encode(base, "WEBP"),
        "webp-alpha": encode(rgba, "WEBP"),
        "gif": encode(base.convert("P"), "GIF"),
    }


def bad_images(max_image_bytes: int) -> dict[str, bytes]:
    """One file per per-image error, keyed by the error code's value."""
    good = jpeg(200, 300)
    return {
        "empty": b"",
        "too_many_bytes": b"\xff" * (max_image_bytes + 1),
        "too_many_pixels": png_header_bomb(),
        "undecodable": b"this is not an image at all",
        "truncated": good[: len(good) // 2],
    }
