"""Decode admission: costed from headers, refused over budget, costly work kept behind.

The cost rule runs on real image files; the scheduling runs in front of an inner encoder
that holds each call until released, so what runs when can be observed exactly.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Sequence

import grpc
import numpy as np
import pytest
from PIL import Image

from encoder_service.admission import AdmittedEncoder, DecodeBudget, decode_cost
from encoder_service.client import GrpcEncoder
from postersearch.callers import CALLER
from postersearch.encoding import (
    EncodedTexts,
    EncoderInfo,
    ImageOutcome,
    InvalidInputError,
    OverloadedError,
    TranslatorUnavailableError,
    Vectors,
    read_whole,
)
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc


def _image(width: int, height: int, kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def test_cost_is_decoded_pixels_with_jpeg_reduction() -> None:
    # JPEG decodes reduced by up to 8 per side, never below the model's side.
    assert decode_cost(_image(4000, 6000, "JPEG"), 256, 50_000_000) == 500 * 750
    assert decode_cost(_image(600, 900, "JPEG"), 256, 50_000_000) == 300 * 450
    assert decode_cost(_image(200, 300, "JPEG"), 256, 50_000_000) == 200 * 300
    # Other formats decode whole, however well they compress.
    png = _image(3000, 3000, "PNG")
    assert len(png) < 100_000
    assert decode_cost(png, 256, 50_000_000) == 9_000_000
    # What is refused from its header costs nothing to decode.
    assert decode_cost(png, 256, 1_000_000) == 0
    assert decode_cost(b"not an image", 256, 50_000_000) == 0


class HeldEncoder:
    """An inner encoder whose image calls wait until released, recording their order."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release: dict[int, asyncio.Event] = {}

    async def info(self) -> EncoderInfo:
        return EncoderInfo("m", 4, "cpu", "float32", 256, 100, 1 << 24, 50_000_000, 1 << 26, 256)

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        return np.zeros((len(texts), 4), dtype=np.float32)

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        return EncodedTexts(await self.encode_texts(texts), read_whole(texts))

    async def translate(self, texts: Sequence[str]) -> list[str]:
        raise TranslatorUnavailableError("this stand-in encoder runs no translator")

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        tag = len(self.started)
        self.started.append(len(images))
        self.release[tag] = asyncio.Event()
        await self.release[tag].wait()
        return [np.zeros(4, dtype=np.float32) for _ in images]

    async def close(self) -> None:
        pass


BUDGET = DecodeBudget(
    max_request_pixels=40_000_000,
    max_caller_pixels=30_000_000,
    bulk_pixels=10_000_000,
    interactive_pixels=1_000_000,
    max_image_pixels=50_000_000,
)
BIG = _image(3000, 3000, "PNG")  # 9 M decoded pixels: a costly request
SMALL = _image(500, 750, "JPEG")  # a poster: 250 x 375 decoded


async def _as(caller: str, encoder: AdmittedEncoder, images: list[bytes]) -> object:
    CALLER.set(caller)
    return await encoder.encode_images(images)


async def _until(condition: object, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_interactive_requests_go_ahead_of_costly_ones() -> None:
    inner = HeldEncoder()
    encoder = AdmittedEncoder(inner, BUDGET)
    first = asyncio.create_task(_as("a", encoder, [BIG]))
    await _until(lambda: len(inner.started) == 1)
    second = asyncio.create_task(_as("b", encoder, [BIG]))  # the lane is full: it waits
    await asyncio.sleep(0.1)
    assert len(inner.started) == 1
    search = asyncio.create_task(_as("c", encoder, [SMALL]))  # a search image: at once
    await _until(lambda: len(inner.started) == 2)
    inner.release[1].set()
    await search
    assert len(inner.started) == 2, "the second costly request still waits its turn"
    inner.release[0].set()
    await first
    await _until(lambda: len(inner.started) == 3)
    inner.release[2].set()
    await second
    assert encoder.admission.bulk_running == 0


async def test_over_budget_requests_are_refused_before_decoding() -> None:
    inner = HeldEncoder()
    encoder = AdmittedEncoder(inner, BUDGET)
    with pytest.raises(InvalidInputError, match="more than the limit of 40,000,000"):
        await _as("a", encoder, [BIG] * 5)
    assert inner.started == []


async def test_one_caller_cannot_hold_more_than_its_share() -> None:
    inner = HeldEncoder()
    encoder = AdmittedEncoder(inner, BUDGET)
    held = [asyncio.create_task(_as("flood", encoder, [BIG])) for _ in range(3)]
    await asyncio.sleep(0.1)
    with pytest.raises(OverloadedError, match="in flight already"):
        await _as("flood", encoder, [BIG])
    # Another caller is not affected by the flood's share.
    honest = asyncio.create_task(_as("honest", encoder, [SMALL]))
    await _until(lambda: len(inner.started) == 2)
    inner.release[1].set()
    await honest
    while not all(task.done() for task in held):  # the flood's own requests, one by one
        for event in list(inner.release.values()):
            event.set()
        await asyncio.sleep(0.01)
    await asyncio.gather(*held)
    assert len(inner.started) == 4


async def test_a_cancelled_waiter_gives_its_turn_back() -> None:
    inner = HeldEncoder()
    encoder = AdmittedEncoder(inner, BUDGET)
    first = asyncio.create_task(_as("a", encoder, [BIG]))
    await _until(lambda: len(inner.started) == 1)
    waiting = asyncio.create_task(_as("b", encoder, [BIG]))
    await asyncio.sleep(0.05)
    waiting.cancel()
    inner.release[0].set()
    await first
    assert encoder.admission.bulk_running == 0
    third = asyncio.create_task(_as("c", encoder, [BIG]))
    await _until(lambda: len(inner.started) == 2)
    inner.release[1].set()
    await third


async def test_a_small_request_of_huge_images_is_refused_over_grpc(start_server: object) -> None:
    """The attack: a few MB of compressible giant PNGs, each under the pixel limit."""
    target, _ = await start_server(max_image_pixels=50_000_000)  # type: ignore[operator]
    giant = _image(7000, 7000, "PNG")
    assert len(giant) < 300_000
    started = time.monotonic()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = encoder_pb2_grpc.EncoderServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.EncodeImages(pb.EncodeImagesRequest(images=[giant] * 10))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "decode to 490,000,000 pixels" in (err.value.details() or "")
    assert time.monotonic() - started < 5, "refused from the headers, not after decoding"
    client = GrpcEncoder(target)
    try:
        assert len(await client.encode_images([SMALL])) == 1
    finally:
        await client.close()
