"""Admission control of image decoding: a request's decode cost is known, and paid, first.

A small file can hold a huge image (a PNG of one colour compresses 49 million pixels into
a few kilobytes), so bytes and item counts say little about the work a request asks for.
What decoding costs is the number of pixels decoded, read from each file's header before
anything is decoded, with JPEG's reduced decoding (1/2, 1/4 or 1/8 of each side, which the
decoder uses when the model needs fewer pixels) taken into account.

With that cost known before decoding:

- a request costing more than ``max_request_pixels`` is refused (INVALID_ARGUMENT);
- a caller (a peer address) may have at most ``max_caller_pixels`` admitted at once,
  beyond which its requests are refused until earlier ones are answered
  (RESOURCE_EXHAUSTED, retry later);
- requests costing at most ``interactive_pixels`` (a search image, an ordinary poster
  batch... any JPEG poster) start at once; costlier ones share a lane of
  ``bulk_pixels`` decoding at a time, first come first served, so that they can never
  fill the decoding threads ahead of interactive work.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import math
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from PIL import Image

from postersearch.callers import CALLER
from postersearch.encoding import (
    EncodedTexts,
    Encoder,
    EncoderInfo,
    ImageOutcome,
    InvalidInputError,
    OverloadedError,
    Vectors,
)

# JPEG decoders can scale by 1/2, 1/4 and 1/8 while decoding (Pillow's draft mode).
_JPEG_MAX_REDUCTION = 8


@dataclass(frozen=True)
class DecodeBudget:
    """The limits of admission control, in decoded pixels.

    Attributes:
        max_request_pixels: Most decoded pixels one request may cost.
        max_caller_pixels: Most decoded pixels one caller may have admitted at once.
        bulk_pixels: Decoded pixels of costly requests decoding at once.
        interactive_pixels: Requests costing at most this start without waiting.
        max_image_pixels: The per-image limit; an image over it is refused from its
            header and costs nothing to decode.
    """

    max_request_pixels: int = 200_000_000
    max_caller_pixels: int = 400_000_000
    bulk_pixels: int = 100_000_000
    interactive_pixels: int = 4_000_000
    max_image_pixels: int = 50_000_000


def decode_cost(data: bytes, size: int, max_image_pixels: int) -> int:
    """Pixels decoding data will cost, from its header alone; 0 when it will be refused.

    Args:
        data: An encoded image file.
        size: The side the model needs; JPEGs are decoded reduced down to it.
        max_image_pixels: Images over this are refused from the header, at no cost.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height, kind = img.width, img.height, img.format
    except Exception:
        return 0  # not an image: refused without decoding
    if width * height > max_image_pixels:
        return 0
    if kind == "JPEG":
        scale = 1
        while (
            scale < _JPEG_MAX_REDUCTION
            and width // (scale * 2) >= size
            and height // (scale * 2) >= size
        ):
            scale *= 2
        return math.ceil(width / scale) * math.ceil(height / scale)
    return width * height


class DecodeAdmission:
    """Decides, from their cost, which image requests decode now, later or never."""

    def __init__(self, budget: DecodeBudget) -> None:
        self.budget = budget
        self._by_caller: dict[str, int] = {}
        self._bulk_running = 0
        self._bulk_waiting: collections.deque[tuple[int, asyncio.Future[None]]] = (
            collections.deque()
        )

    @property
    def bulk_running(self) -> int:
        """Decoded pixels of costly requests admitted now."""
        return self._bulk_running

    @contextlib.asynccontextmanager
    async def admit(self, cost: int, caller: str) -> AsyncIterator[None]:
        """Holds cost for caller while the block runs, waiting for the bulk lane if costly.

        Raises:
            InvalidInputError: cost is over the per-request budget.
            OverloadedError: caller already holds too much.
        """
        b = self.budget
        if cost > b.max_request_pixels:
            raise InvalidInputError(
                f"the images of this request would decode to {cost:,} pixels, more than the "
                f"limit of {b.max_request_pixels:,} per request; send fewer or smaller images"
            )
        held = self._by_caller.get(caller, 0)
        if held and held + cost > b.max_caller_pixels:
            raise OverloadedError(
                f"this caller has {held:,} decoded pixels in flight already (limit "
                f"{b.max_caller_pixels:,}); retry once its earlier requests are answered"
            )
        self._by_caller[caller] = held + cost
        try:
            if cost <= b.interactive_pixels:
                yield
                return
            await self._enter_bulk(cost)
            try:
                yield
            finally:
                self._leave_bulk(cost)
        finally:
            left = self._by_caller[caller] - cost
            if left:
                self._by_caller[caller] = left
            else:
                del self._by_caller[caller]

    def _fits(self, cost: int) -> bool:
        # A request bigger than the whole lane runs alone rather than never.
        return self._bulk_running == 0 or self._bulk_running + cost <= self.budget.bulk_pixels

    async def _enter_bulk(self, cost: int) -> None:
        if not self._bulk_waiting and self._fits(cost):
            self._bulk_running += cost
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._bulk_waiting.append((cost, turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave_bulk(cost)  # admitted just as the caller went away
            else:
                turn.cancel()
                self._wake()
            raise

    def _leave_bulk(self, cost: int) -> None:
        self._bulk_running -= cost
        self._wake()

    def _wake(self) -> None:
        while self._bulk_waiting:
            cost, turn = self._bulk_waiting[0]
            if turn.done():
                self._bulk_waiting.popleft()
                continue
            if not self._fits(cost):
                return
            self._bulk_waiting.popleft()
            self._bulk_running += cost
            turn.set_result(None)


class AdmittedEncoder:
    """An Encoder whose image requests pass admission control first; texts go straight.

    Args:
        inner: The encoder doing the work (in-process or over gRPC).
        budget: The limits of admission.
    """

    def __init__(self, inner: Encoder, budget: DecodeBudget) -> None:
        self.inner = inner
        self.admission = DecodeAdmission(budget)

    async def info(self) -> EncoderInfo:
        """The inner encoder's info."""
        return await self.inner.info()

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Encodes texts with the inner encoder; text costs no decoding."""
        return await self.inner.encode_texts(texts)

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        """Encodes texts with the inner encoder, with how much of each it read."""
        return await self.inner.encode_texts_read(texts)

    async def translate(self, texts: Sequence[str]) -> list[str]:
        """Translates with the inner encoder; text costs no decoding."""
        return await self.inner.translate(texts)

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        """Encodes images once their decode cost is admitted for the current caller."""
        info = await self.inner.info()
        limit = min(self.admission.budget.max_image_pixels, info.max_image_pixels)
        costs = await asyncio.to_thread(
            lambda: [decode_cost(data, info.image_size, limit) for data in images]
        )
        async with self.admission.admit(sum(costs), CALLER.get()):
            return await self.inner.encode_images(images)

    async def close(self) -> None:
        """Closes the inner encoder."""
        await self.inner.close()


def admitted(encoder: Encoder, budget: DecodeBudget) -> Encoder:
    """encoder behind admission control (once: an admitted encoder is returned as it is)."""
    if isinstance(encoder, AdmittedEncoder):
        return encoder
    return AdmittedEncoder(encoder, budget)
