"""The captioning model: poster images in, one English sentence each out.

Any image-to-text checkpoint that transformers loads with ``AutoProcessor`` and
``AutoModelForImageTextToText`` works (BLIP, BLIP-2, Florence-2, ...), from the hub or a local
folder. It runs on the GPU when there is one, in bfloat16, else on the CPU in float32.
Nothing here knows of the index or of asyncio; the methods block.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from encoder_service.images import ImageLimits, probe, to_rgb
from encoder_service.model import dtype_name, resolve_device, resolve_dtype
from ingest.caption_config import CaptionerConfig, CaptionerError
from postersearch.encoding import ImageFailure

log = logging.getLogger(__name__)

# Posters are far below these; the limits only keep a bomb from eating the memory.
_IMAGE_LIMITS = ImageLimits(max_image_bytes=20 * 1024 * 1024, max_image_pixels=40_000_000)
# Captioners see 224-768 px; images are kept no larger than this while they wait in the
# run's queue, so a page of full-size scans does not take gigabytes.
_MAX_SIDE = 1024


def decode_poster(data: bytes) -> Image.Image | str:
    """The poster as an RGB image at most 1024 px a side, or why it is not one (a sentence)."""
    header = probe(0, data, _IMAGE_LIMITS)
    if isinstance(header, ImageFailure):
        return header.message.removeprefix("image 0: ")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format == "JPEG":
                    # Decodes at 1/2, 1/4 or 1/8 scale in the DCT when that still covers it.
                    img.draft("RGB", (_MAX_SIDE, _MAX_SIDE))
                img.load()
                rgb = to_rgb(img)
                rgb.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.BICUBIC)
                return rgb.copy()
    except Exception as exc:
        return f"could not be decoded: truncated or corrupt ({exc})"


class Captioner:
    """A loaded captioning model.

    Args:
        config: The model and how it runs.

    Raises:
        CaptionerError: The checkpoint cannot be loaded, or cannot caption a test image.
    """

    def __init__(self, config: CaptionerConfig) -> None:
        # Lazy: the transformers model classes take seconds to import; only loading needs them.
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        try:
            self._processor: Any = AutoProcessor.from_pretrained(config.model)
            model: Any = AutoModelForImageTextToText.from_pretrained(config.model, dtype=self.dtype)
        except Exception as exc:
            raise CaptionerError(
                f"cannot load the captioning model {config.model!r}: {exc}"
            ) from exc
        self._model: Any = model.to(self.device).eval()
        log.info(
            "captioning model %s on %s (%s)", config.model, self.device, dtype_name(self.dtype)
        )
        try:
            # A first caption now: a checkpoint that needs a prompt, or a device without
            # memory for it, fails here with one message instead of on every poster.
            self.caption([Image.new("RGB", (64, 96), (128, 128, 128))])
        except Exception as exc:
            raise CaptionerError(
                f"the captioning model {config.model!r} cannot caption a test image on "
                f"{self.device}: {exc}" + _prompt_hint(config)
            ) from exc

    def _inputs(self, images: Sequence[Image.Image]) -> dict[str, Any]:
        prompt = self.config.prompt
        texts = [prompt] * len(images) if prompt else None
        batch = self._processor(images=list(images), text=texts, return_tensors="pt")
        inputs: dict[str, Any] = {}
        for name, value in batch.items():
            if isinstance(value, torch.Tensor):
                # Pixels in the model's dtype; token ids and masks stay integers.
                dtype = self.dtype if value.is_floating_point() else None
                value = value.to(self.device, dtype=dtype)
            inputs[name] = value
        return inputs

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """One caption per image, in order, generated as one batch.

        Raises:
            Exception: Whatever the model raises for the batch (out of memory, ...).
        """
        if not images:
            return []
        inputs = self._inputs(images)
        lengths: dict[str, int] = {"max_new_tokens": self.config.max_new_tokens}
        if self.config.min_new_tokens:
            lengths["min_new_tokens"] = self.config.min_new_tokens
        with torch.inference_mode():
            output = self._model.generate(
                **inputs, **lengths, num_beams=self.config.num_beams, do_sample=False
            )
        texts = self._processor.batch_decode(output, skip_special_tokens=True)
        return [self._clean(text) for text in texts]

    def _clean(self, text: str) -> str:
        caption = " ".join(text.split())
        prompt = " ".join((self.config.prompt or "").split())
        # Decoder-only models (BLIP-2) and BLIP repeat the prefix they were given.
        if prompt and caption.lower().startswith(prompt.lower()):
            caption = caption[len(prompt) :].lstrip(" ,:")
        return caption


def _prompt_hint(config: CaptionerConfig) -> str:
    if config.prompt is None and "florence" in config.model.lower():
        return ' (Florence-2 needs a task prompt: --prompt "<CAPTION>")'
    return ""
