"""The device JPEG path's routing: which files go to the batch decoder, which to Pillow,
and that every result lands at its own index. A Pillow-backed stand-in plays nvJPEG, so
this runs without a GPU; nvJPEG itself needs one."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch
from encoder_samples import bad_images, encode, jpeg, poster
from PIL import Image

from encoder_service.gpu_decode import is_complete_jpeg, load_gpu_decoder, torch_resize_mode
from encoder_service.local import LocalEncoder
from encoder_service.model import ModelRuntime
from encoder_service.settings import EncoderSettings
from postersearch.encoding import ImageErrorCode, ImageFailure


class BatchJpegDecoder:
    """Decodes a JPEG batch in one call, as nvJPEG does; remembers what it was given."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.batches: list[int] = []
        self.filters: list[int] = []

    def decode(self, files: Sequence[bytes], size: int, resample: int) -> list[torch.Tensor] | None:
        self.batches.append(len(files))
        self.filters.append(resample)
        if self.refuse:
            return None
        out = []
        for data in files:
            img = Image.open(io.BytesIO(data)).convert("RGB")
            img = img.resize((size, size), Image.Resampling(resample))
            out.append(torch.from_numpy(np.array(img)).permute(2, 0, 1))
        return out


def _batch() -> list[bytes]:
    bad = bad_images(200_000)
    cmyk = encode(poster(60, 90).convert("CMYK"), "JPEG")
    return [
        jpeg(seed=1),
        bad["truncated"],
        encode(poster(60, 90, seed=2), "PNG"),
        b"",
        cmyk,
        jpeg(seed=3),
        bad["too_many_pixels"],
    ]


def _check(outcomes: list[object], reference: list[object]) -> None:
    assert len(outcomes) == len(reference)
    for got, want in zip(outcomes, reference, strict=True):
        if isinstance(want, ImageFailure):
            assert isinstance(got, ImageFailure)
            assert (got.index, got.code) == (want.index, want.code)
        else:
            assert isinstance(got, np.ndarray)
            assert float(got @ want) > 0.99


async def test_complete_rgb_jpegs_go_to_the_batch_decoder_the_rest_to_pillow(
    runtime: ModelRuntime,
    tiny_settings: EncoderSettings,
    make_encoder: Callable[..., LocalEncoder],
) -> None:
    device = BatchJpegDecoder()
    on_device = LocalEncoder(runtime, tiny_settings, jpeg_decoder=device)
    try:
        outcomes = await on_device.encode_images(_batch())
    finally:
        await on_device.close()
    reference = await make_encoder().encode_images(_batch())

    # Two plain JPEGs in one batch; the CMYK and truncated ones went to Pillow.
    assert device.batches == [2]
    # The device resizes with the processor's filter, as the Pillow path does.
    assert device.filters == [runtime.image.resample]
    _check(list(outcomes), list(reference))
    failures = [o for o in outcomes if isinstance(o, ImageFailure)]
    assert [(f.index, f.code) for f in failures] == [
        (1, ImageErrorCode.UNDECODABLE),
        (3, ImageErrorCode.EMPTY),
        (6, ImageErrorCode.TOO_MANY_PIXELS),
    ]


async def test_a_refused_batch_falls_back_to_pillow(
    runtime: ModelRuntime,
    tiny_settings: EncoderSettings,
    make_encoder: Callable[..., LocalEncoder],
) -> None:
    device = BatchJpegDecoder(refuse=True)
    on_device = LocalEncoder(runtime, tiny_settings, jpeg_decoder=device)
    try:
        outcomes = await on_device.encode_images(_batch())
    finally:
        await on_device.close()

    assert device.batches == [2]
    _check(list(outcomes), list(await make_encoder().encode_images(_batch())))


def test_only_complete_jpegs_qualify() -> None:
    data = jpeg()

    assert is_complete_jpeg(data)
    assert is_complete_jpeg(data + b"\x00\x00")
    assert not is_complete_jpeg(data[: len(data) // 2])
    assert not is_complete_jpeg(encode(poster(60, 90), "PNG"))


def test_no_device_decoder_on_the_cpu() -> None:
    assert load_gpu_decoder("cpu") is None


@pytest.mark.parametrize(
    ("resample", "mode"),
    [
        (Image.Resampling.BICUBIC, "bicubic"),
        (Image.Resampling.BILINEAR, "bilinear"),
        (Image.Resampling.NEAREST, "nearest-exact"),
        (Image.Resampling.BOX, "area"),
    ],
)
def test_the_device_resize_follows_the_processors_filter(
    resample: Image.Resampling, mode: str
) -> None:
    assert torch_resize_mode(int(resample))[0] == mode
    # The mode is one torch accepts, with the antialias setting it accepts.
    image = torch.rand(1, 3, 40, 30)
    chosen, antialias = torch_resize_mode(int(resample))
    assert torch.nn.functional.interpolate(
        image, size=(16, 16), mode=chosen, antialias=antialias
    ).shape == (1, 3, 16, 16)
