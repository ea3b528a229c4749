"""The in-process encoder: the model, its image decoding and its batchers, without gRPC.

The gRPC servicer wraps one of these; embedded mode uses one directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from encoder_service.batcher import DynamicBatcher
from encoder_service.gpu_decode import JpegDecoder, is_complete_jpeg, load_gpu_decoder
from encoder_service.images import Header, ImageLimits, Pixels, decode, probe
from encoder_service.model import ModelRuntime, dtype_name
from encoder_service.settings import EncoderSettings
from encoder_service.translator import TranslatorSlot
from postersearch.encoding import (
    EncodedTexts,
    Encoder,
    EncoderInfo,
    EncoderUnavailableError,
    ImageFailure,
    ImageOutcome,
    InvalidInputError,
    TranslatorUnavailableError,
    Vectors,
)

Prepared = torch.Tensor | ImageFailure
# nvJPEG takes these JPEGs; CMYK and other rarities go through Pillow.
_GPU_JPEG_MODES = frozenset({"RGB", "L"})
# The character limit of a tokenizer that declares no token limit.
_UNBOUNDED_TEXT_CHARS = 2000


def text_char_limit(configured: int, readable_chars: int) -> int:
    """The most characters one text may have: the configured limit, or else the most the
    model can ever read (its token limit times its longest token), since anything past
    that is cut unread."""
    if configured:
        return configured
    return readable_chars or _UNBOUNDED_TEXT_CHARS


def validate_texts(texts: Sequence[str], max_batch_size: int, max_text_chars: int) -> None:
    """Refuses a whole text request that cannot be encoded, saying why.

    Raises:
        InvalidInputError: No texts, too many, an empty one or one too long.
    """
    if not texts:
        raise InvalidInputError("no texts given: send at least one")
    if len(texts) > max_batch_size:
        raise InvalidInputError(
            f"{len(texts)} texts given, but at most {max_batch_size} are accepted per request"
        )
    for i, text in enumerate(texts):
        if not text.strip():
            raise InvalidInputError(f"text {i} is empty: describe what to look for")
        if len(text) > max_text_chars:
            raise InvalidInputError(
                f"text {i} has {len(text)} characters, more than the limit of {max_text_chars}"
            )


def validate_images(images: Sequence[bytes], max_batch_size: int) -> None:
    """Refuses an image request with no images or too many.

    Raises:
        InvalidInputError: No images or more than max_batch_size.
    """
    if not images:
        raise InvalidInputError("no images given: send at least one")
    if len(images) > max_batch_size:
        raise InvalidInputError(
            f"{len(images)} images given, but at most {max_batch_size} are accepted per request"
        )


def _chunks(count: int, workers: int) -> list[range]:
    # A few chunks per worker: balanced across threads without one future per image.
    step = max(1, math.ceil(count / (workers * 4)))
    return [range(start, min(start + step, count)) for start in range(0, count, step)]


class LocalEncoder:
    """Implements postersearch.encoding.Encoder in this process, with dynamic batching.

    Build one with open_local_encoder, which loads and warms the model off the event loop.

    Args:
        runtime: The loaded model.
        settings: Limits, batching and decoding settings.
        jpeg_decoder: Decodes JPEG batches on the model's device; by default nvJPEG when
            the model is on CUDA, torchvision is installed and settings.gpu_jpeg is set,
            else none (Pillow only).
    """

    def __init__(
        self,
        runtime: ModelRuntime,
        settings: EncoderSettings,
        jpeg_decoder: JpegDecoder | None = None,
        translator: TranslatorSlot | None = None,
    ) -> None:
        self.runtime = runtime
        self._settings = settings
        self._max_text_chars = text_char_limit(settings.max_text_chars, runtime.max_readable_chars)
        self.translator = translator or TranslatorSlot(
            settings.translator,
            settings.translator_scripts,
            runtime.device,
            settings.translator_beams,
            settings.translator_max_tokens,
        )
        # Translation runs beside the encoder's passes rather than queueing behind image
        # batches: a search waiting on it is interactive.
        self._translate = ThreadPoolExecutor(1, thread_name_prefix="encoder-translate")
        self._limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
        # One inference thread: the model runs one pass at a time, and batches, not
        # threads, are what make it fast.
        self._infer = ThreadPoolExecutor(1, thread_name_prefix="encoder-infer")
        self._decode = ThreadPoolExecutor(
            settings.decode_workers, thread_name_prefix="encoder-decode"
        )
        self._gpu = jpeg_decoder or (
            load_gpu_decoder(runtime.device) if settings.gpu_jpeg else None
        )
        self._gpu_thread = ThreadPoolExecutor(1, thread_name_prefix="encoder-nvjpeg")
        wait_s = settings.max_wait_ms / 1000
        self._texts: DynamicBatcher[str] = DynamicBatcher(
            "text", runtime.encode_texts, self._infer, settings.max_batch_size, wait_s,
            settings.max_queue,
        )  # fmt: skip
        self._images: DynamicBatcher[torch.Tensor] = DynamicBatcher(
            "image", runtime.encode_pixels, self._infer, settings.max_batch_size, wait_s,
            settings.max_queue,
        )  # fmt: skip
        self._info = EncoderInfo(
            model_id=runtime.model_id,
            dimension=runtime.dimension,
            device=runtime.device,
            dtype=dtype_name(runtime.dtype),
            max_batch_size=settings.max_batch_size,
            max_text_chars=self._max_text_chars,
            max_image_bytes=settings.max_image_bytes,
            max_image_pixels=settings.max_image_pixels,
            max_message_bytes=settings.max_message_bytes,
            image_size=runtime.image.size,
            max_text_tokens=runtime.max_text_tokens,
            logit_scale=runtime.logit_scale,
            logit_bias=runtime.logit_bias,
            text_preprocessing=runtime.text_prep.describe(),
            translator_model_id=self.translator.model_id,
            translation_scripts=self.translator.scripts,
        )
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise EncoderUnavailableError("the encoder is closed")

    async def info(self) -> EncoderInfo:
        """The model and limits of this encoder."""
        return self._info

    @property
    def gpu_jpeg(self) -> bool:
        """Whether JPEGs are decoded in batches on the model's device (nvJPEG)."""
        return self._gpu is not None

    def describe(self) -> str:
        """One line saying what runs: model, device, dtype, backend, towers, threads."""
        return self.runtime.describe()

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Encodes texts into an (n, dimension) array, row i for texts[i]."""
        self._check_open()
        validate_texts(texts, self._settings.max_batch_size, self._max_text_chars)
        with self._texts.reserve(len(texts)) as reservation:
            return await self._texts.submit(reservation, list(texts))

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        """Encodes texts and says how much of each the model read."""
        vectors = await self.encode_texts(texts)
        # A fast tokenizer counts a query in microseconds: no need to leave the loop.
        return EncodedTexts(vectors, self.runtime.count_tokens(texts))

    async def translate(self, texts: Sequence[str]) -> list[str]:
        """texts in English, by the translator (loaded on first use)."""
        self._check_open()
        validate_texts(texts, self._settings.max_batch_size, self._max_text_chars)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._translate, self.translator.translate, list(texts))

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        """Encodes image files; item i is images[i]'s vector or the reason it has none."""
        self._check_open()
        validate_images(images, self._settings.max_batch_size)
        with self._images.reserve(len(images)) as reservation:
            prepared = await self._prepare(images)
            pixels = [p for p in prepared if isinstance(p, torch.Tensor)]
            vectors = await self._images.submit(reservation, pixels)
        outcomes: list[ImageOutcome] = []
        row = 0
        for item in prepared:
            if isinstance(item, ImageFailure):
                outcomes.append(item)
            else:
                outcomes.append(vectors[row])
                row += 1
        return outcomes

    def _decode_cpu(self, images: Sequence[bytes], indexes: range | list[int]) -> list[Prepared]:
        size, resample = self.runtime.image.size, self.runtime.image.resample
        out: list[Prepared] = []
        for i in indexes:
            result = decode(i, images[i], self._limits, size, resample)
            out.append(result if isinstance(result, ImageFailure) else _chw(result))
        return out

    def _probe(self, images: Sequence[bytes], indexes: range) -> list[Header | ImageFailure]:
        return [probe(i, images[i], self._limits) for i in indexes]

    async def _on_pool(self, images: Sequence[bytes], indexes: list[int]) -> list[Prepared]:
        loop = asyncio.get_running_loop()
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    self._decode, self._decode_cpu, images, [indexes[i] for i in chunk]
                )
                for chunk in _chunks(len(indexes), self._settings.decode_workers)
            )
        )
        return [item for part in parts for item in part]

    async def _prepare(self, images: Sequence[bytes]) -> list[Prepared]:
        if self._gpu is None:
            return await self._on_pool(images, list(range(len(images))))
        return await self._prepare_gpu(images, self._gpu)

    async def _prepare_gpu(self, images: Sequence[bytes], gpu: JpegDecoder) -> list[Prepared]:
        loop = asyncio.get_running_loop()
        workers = self._settings.decode_workers
        headers = [
            header
            for part in await asyncio.gather(
                *(
                    loop.run_in_executor(self._decode, self._probe, images, chunk)
                    for chunk in _chunks(len(images), workers)
                )
            )
            for header in part
        ]
        prepared: list[Prepared | None] = [
            h if isinstance(h, ImageFailure) else None for h in headers
        ]
        on_gpu = [
            i
            for i, h in enumerate(headers)
            if isinstance(h, Header)
            and h.format == "JPEG"
            and h.mode in _GPU_JPEG_MODES
            and is_complete_jpeg(images[i])
        ]
        gpu_set = set(on_gpu)
        on_cpu = [i for i, h in enumerate(headers) if isinstance(h, Header) and i not in gpu_set]
        gpu_results: list[Prepared] | None = []
        if on_gpu:
            # nvJPEG runs beside the Pillow threads: the two paths overlap.
            gpu_task = loop.run_in_executor(
                self._gpu_thread, gpu.decode, [images[i] for i in on_gpu], self.runtime.image.size
            )
            cpu_results = await self._on_pool(images, on_cpu)
            decoded = await gpu_task
            gpu_results = list(decoded) if decoded is not None else None
        else:
            cpu_results = await self._on_pool(images, on_cpu)
        if gpu_results is None:
            gpu_results = await self._on_pool(images, on_gpu)
        for i, result in zip([*on_cpu, *on_gpu], [*cpu_results, *gpu_results], strict=True):
            prepared[i] = result
        return [p for p in prepared if p is not None]

    async def close(self) -> None:
        """Stops the batchers and the worker threads; later calls raise."""
        if self._closed:
            return
        self._closed = True
        await self._texts.close()
        await self._images.close()
        for pool in (self._infer, self._decode, self._gpu_thread, self._translate):
            pool.shutdown(wait=False, cancel_futures=True)


def _chw(pixels: Pixels) -> torch.Tensor:
    # (H, W, 3) uint8 from Pillow to the (3, H, W) layout torch models take.
    return torch.from_numpy(pixels).permute(2, 0, 1)


async def load_translator(encoder: Encoder) -> None:
    """Loads an in-process encoder's translator in a worker thread, so that the first query
    to need it does not wait for it; does nothing for any other encoder.

    A translator that cannot be loaded is logged and remembered: searches then go on with
    their queries as typed.
    """
    if isinstance(encoder, LocalEncoder) and encoder.translator.model_id:
        with contextlib.suppress(TranslatorUnavailableError):
            await asyncio.to_thread(encoder.translator.load)


async def open_local_encoder(settings: EncoderSettings) -> LocalEncoder:
    """Loads and warms up the model in a worker thread, then returns the encoder.

    Args:
        settings: Model, device, dtype, limits and batching.

    Returns:
        A ready LocalEncoder; close it when done.
    """
    runtime = await asyncio.to_thread(ModelRuntime.load, settings)
    await asyncio.to_thread(runtime.warm_up)
    return LocalEncoder(runtime, settings)
