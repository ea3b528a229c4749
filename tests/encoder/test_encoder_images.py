"""CPU image decoding: every accepted mode becomes RGB, every bad file gets its reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from encoder_samples import bad_images, encode, every_mode, jpeg, png_header_bomb, poster
from PIL import Image

from encoder_service.images import Header, ImageLimits, decode, probe, to_rgb
from postersearch.encoding import ImageErrorCode, ImageFailure

LIMITS = ImageLimits(max_image_bytes=200_000, max_image_pixels=4_000_000)
BICUBIC = int(Image.Resampling.BICUBIC)


@pytest.mark.parametrize("name", sorted(every_mode()))
def test_every_mode_decodes_to_rgb_at_the_model_size(name: str) -> None:
    result = decode(0, every_mode()[name], LIMITS, 32, BICUBIC)

    assert isinstance(result, np.ndarray), result
    assert result.shape == (32, 32, 3)
    assert result.dtype == np.uint8


def test_transparent_areas_become_white() -> None:
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))

    result = decode(0, encode(clear, "PNG"), LIMITS, 16, BICUBIC)

    assert isinstance(result, np.ndarray)
    assert (result == 255).all()


def test_cmyk_keeps_its_colours() -> None:
    red = Image.new("RGB", (40, 40), (220, 20, 20))

    result = decode(0, encode(red.convert("CMYK"), "JPEG", quality=95), LIMITS, 8, BICUBIC)

    assert isinstance(result, np.ndarray)
    r, g, b = result.reshape(-1, 3).mean(axis=0)
    assert r > 180 and g < 70 and b < 70


def test_big_jpeg_decodes_at_reduced_scale_to_the_same_picture() -> None:
    img = poster(1600, 2400)
    data = encode(img, "JPEG", quality=92)

    reduced = decode(0, data, ImageLimits(10**8, 10**8), 64, BICUBIC)
    full = np.asarray(img.resize((64, 64), Image.Resampling.BICUBIC), dtype=np.float32)

    assert isinstance(reduced, np.ndarray)
    assert np.abs(reduced.astype(np.float32) - full).mean() < 6


@pytest.mark.parametrize("code", [c.value for c in ImageErrorCode])
def test_each_bad_file_gets_its_code_and_a_message_naming_its_index(code: str) -> None:
    data = bad_images(LIMITS.max_image_bytes)[code]

    result = decode(7, data, LIMITS, 32, BICUBIC)

    assert isinstance(result, ImageFailure)
    assert result.code == ImageErrorCode(code)
    assert result.index == 7
    assert result.message.startswith("image 7: ")


def test_truncated_jpeg_is_undecodable() -> None:
    data = jpeg(200, 300)

    result = decode(0, data[: len(data) // 2], LIMITS, 32, BICUBIC)

    assert isinstance(result, ImageFailure)
    assert result.code == ImageErrorCode.UNDECODABLE
    assert "truncated" in result.message


@pytest.mark.parametrize("check", [probe, lambda i, d, lim: decode(i, d, lim, 32, BICUBIC)])
def test_pixel_bomb_is_refused_from_its_header_before_decoding(check: Any) -> None:
    bomb = png_header_bomb(8_000, 8_000)
    assert len(bomb) < 10_000

    result = check(0, bomb, LIMITS)

    assert isinstance(result, ImageFailure)
    assert result.code == ImageErrorCode.TOO_MANY_PIXELS
    assert "8000x8000" in result.message


def test_bomb_beyond_pillows_own_guard_is_too_many_pixels() -> None:
    # Past twice Pillow's MAX_IMAGE_PIXELS, Image.open itself raises; that too is a bomb.
    bomb = png_header_bomb(30_000, 30_000)

    result = decode(0, bomb, ImageLimits(10**6, 10**11), 32, BICUBIC)

    assert isinstance(result, ImageFailure)
    assert result.code == ImageErrorCode.TOO_MANY_PIXELS


def test_probe_reads_format_mode_and_size() -> None:
    header = probe(0, jpeg(120, 180), LIMITS)

    assert header == Header(format="JPEG", mode="RGB", width=120, height=180)


def test_to_rgb_leaves_rgb_alone() -> None:
    img = Image.new("RGB", (4, 4))

    assert to_rgb(img) is img
