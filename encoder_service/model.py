"""The model runtime: loads a SigLIP-family model through sentence-transformers and runs it.

Nothing here knows of gRPC or asyncio. The runtime's methods block; the batcher calls them
from one worker thread, so the event loop never waits on torch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from encoder_service.quantization import (
    PROBE_TEXTS,
    int8_available,
    int8_engine,
    probe_images,
    quantize_tower,
)
from encoder_service.settings import EncoderSettings, Quantize
from encoder_service.text_prep import TextPreprocessing, preprocessing_for
from postersearch.encoding import TextTokens, Vectors

log = logging.getLogger(__name__)

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def resolve_device(requested: str) -> str:
    """Turns "auto" into the best device present: cuda, then mps, then cpu."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(requested: str, device: str) -> torch.dtype:
    """Turns "auto" into bfloat16 on CUDA, float16 on MPS and float32 on the CPU."""
    if requested != "auto":
        return _DTYPES[requested]
    if device.startswith("cuda"):
        return torch.bfloat16
    if device.startswith("mps"):
        # bfloat16 needs a recent macOS on MPS; float16 works everywhere.
        return torch.float16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    """ "bfloat16", "float16" or "float32"."""
    return str(dtype).removeprefix("torch.")


def quantizable(mode: Quantize, device: str, dtype: torch.dtype) -> bool:
    """Whether the towers are to be tried in int8: on the CPU in float32, unless "none".

    Raises:
        ValueError: "int8" asked for on another device or dtype, or with a torch that
            cannot run int8 layers.
    """
    if mode == "none":
        return False
    eligible = device == "cpu" and dtype == torch.float32
    if mode == "int8" and not eligible:
        raise ValueError(
            f"quantize=int8 runs on the CPU in float32 only, not on {device} as "
            f"{dtype_name(dtype)}: set ENCODER_QUANTIZE=auto or none, or ENCODER_DEVICE=cpu"
        )
    if mode == "int8" and not int8_available():
        raise ValueError("quantize=int8: this torch build has no int8 dynamic Linear layers")
    return eligible and int8_available()


@dataclass(frozen=True)
class TowerPrecision:
    """How one tower runs, and how close its int8 vectors came to float32 ones.

    Attributes:
        kind: "text" or "image".
        precision: "int8" or the weights' dtype name.
        min_cosine: Least cosine of int8 to float32 vectors over the probes, when checked.
        probes: How many probe inputs that cosine is over.
    """

    kind: str
    precision: str
    min_cosine: float | None = None
    probes: int = 0

    def describe(self) -> str:
        """e.g. "text int8 (min cosine 0.9991 to float32 over 16 probes)"."""
        if self.min_cosine is None:
            return f"{self.kind} {self.precision}"
        return (
            f"{self.kind} {self.precision} (min cosine {self.min_cosine:.4f} to float32 "
            f"over {self.probes} probes)"
        )


@dataclass(frozen=True)
class ImagePreprocessing:
    """How the model's own processor prepares an image, read from the checkpoint."""

    size: int
    resample: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _pil_filter(resample: Any) -> int:
    """The Pillow filter a processor names (an int, a Pillow enum or a torchvision mode)."""
    if resample is None:
        return int(Image.Resampling.BICUBIC)
    try:
        return int(resample)
    except (TypeError, ValueError):
        name = str(getattr(resample, "name", resample)).upper()
        return int(getattr(Image.Resampling, name, Image.Resampling.BICUBIC))


def image_preprocessing(processor: Any) -> ImagePreprocessing:
    """Reads how the checkpoint's processor prepares images, refusing what we cannot match.

    The service resizes and normalises images itself (faster than the processor), so it
    accepts the SigLIP-family recipe only: squash to a square, rescale by 1/255,
    normalise, no crop.

    Raises:
        ValueError: No image processor, or one that crops or does not resize to a square.
    """
    image_processor = getattr(processor, "image_processor", None)
    if image_processor is None:
        raise ValueError("the model has no image processor: it cannot encode images")
    size = dict(image_processor.size or {})
    height, width = size.get("height"), size.get("width")
    if not height or height != width or getattr(image_processor, "do_center_crop", False):
        raise ValueError(
            f"unsupported image preprocessing (size {size}, center crop "
            f"{getattr(image_processor, 'do_center_crop', False)}): the encoder takes models "
            "whose processor resizes to a square without cropping, like SigLIP"
        )
    rescale = getattr(image_processor, "rescale_factor", 1 / 255)
    if not getattr(image_processor, "do_rescale", True) or abs(rescale - 1 / 255) > 1e-9:
        raise ValueError(f"unsupported image rescaling {rescale}: the encoder assumes 1/255")
    mean = image_processor.image_mean if image_processor.do_normalize else (0.0, 0.0, 0.0)
    std = image_processor.image_std if image_processor.do_normalize else (1.0, 1.0, 1.0)
    return ImagePreprocessing(
        size=int(height),
        resample=_pil_filter(getattr(image_processor, "resample", None)),
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])),
    )


def _text_length(model: Any) -> int | None:
    """Tokens every text is padded to: the smallest limit the checkpoint declares."""
    limits = [
        getattr(model[0].tokenizer, "model_max_length", None),
        getattr(getattr(model[0].config, "text_config", None), "max_position_embeddings", None),
        model.max_seq_length,
    ]
    # Tokenizers without a limit report a huge sentinel (1e30); ignore it.
    known = [v for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(known) if known else None


def _longest_piece(tokenizer: Any) -> int:
    """Characters of the longest token in the vocabulary (its raw piece, an upper bound)."""
    try:
        vocab = tokenizer.get_vocab()
    except (AttributeError, NotImplementedError):
        return 0
    return max((len(piece) for piece in vocab), default=0)


def _calibration(inner: Any) -> tuple[float | None, float | None]:
    """The model's (logit_scale, logit_bias) as used in its sigmoid loss, if it has both.

    SigLIP stores the scale as a logarithm and multiplies by its exponential; CLIP has a
    scale but no bias, and its softmax logits are not a probability of one pair.
    """
    scale = getattr(inner, "logit_scale", None)
    bias = getattr(inner, "logit_bias", None)
    if not isinstance(scale, torch.Tensor) or not isinstance(bias, torch.Tensor):
        return None, None
    return float(scale.detach().float().exp().reshape(-1)[0]), float(
        bias.detach().float().reshape(-1)[0]
    )


class ModelRuntime:
    """A loaded model with its preprocessing, counting its forward passes.

    Attributes:
        model_id: The id or path the model was loaded from.
        device: Where the model runs ("cpu", "cuda", "cuda:1", "mps").
        dtype: The weights' dtype.
        dimension: Length of every vector.
        image: Image preprocessing the model expects.
    """

    def __init__(self, model: Any, model_id: str, device: str, dtype: torch.dtype) -> None:
        self._model = model
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        self.dimension = int(model.get_embedding_dimension())
        self.image = image_preprocessing(model[0].processor)
        self.text_prep: TextPreprocessing = preprocessing_for(getattr(model[0], "config", None))
        self.logit_scale, self.logit_bias = _calibration(getattr(model[0], "model", None))
        length = _text_length(model)
        self.max_text_tokens = length or 0
        self._tokenizer = model[0].tokenizer
        # The most characters the model can ever read: past them a text is surely cut.
        self.max_readable_chars = self.max_text_tokens * _longest_piece(self._tokenizer)
        text_kwargs: dict[str, Any] = {"padding": "max_length" if length else True}
        if length:
            text_kwargs["max_length"] = length
        self._text_kwargs = {"text": text_kwargs}
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(self.image.mean, device=device).view(shape)
        self._std = torch.tensor(self.image.std, device=device).view(shape)
        self._lock = threading.Lock()
        self._text_passes = 0
        self._image_passes = 0
        self.towers = {kind: TowerPrecision(kind, dtype_name(dtype)) for kind in ("text", "image")}

    @classmethod
    def load(cls, settings: EncoderSettings) -> ModelRuntime:
        """Loads the model named by settings.model (hub id or local folder); blocks."""
        # Lazy: sentence-transformers takes seconds to import, and only loading needs it.
        from sentence_transformers import SentenceTransformer

        device = resolve_device(settings.device)
        dtype = resolve_dtype(settings.dtype, device)
        try_int8 = quantizable(settings.quantize, device, dtype)
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        log.info("loading %s on %s as %s", settings.model, device, dtype_name(dtype))
        model = SentenceTransformer(settings.model, device=device, model_kwargs={"dtype": dtype})
        model.eval()
        runtime = cls(model, settings.model, device, dtype)
        if try_int8:
            runtime.quantize(
                force=settings.quantize == "int8", min_cosine=settings.quantize_min_cosine
            )
        return runtime

    def quantize(self, force: bool, min_cosine: float) -> None:
        """Swaps each tower's Linear layers for int8 ones where the vectors still agree.

        Each tower encodes its probes in float32, then in int8; it stays int8 when the
        least cosine between the two is at least min_cosine, or when force is set.
        The model must be on the CPU in float32.
        """
        inner = self._model[0].model
        side = self.image.size
        towers = (
            ("text", "text_model", lambda: self.encode_texts(PROBE_TEXTS)),
            ("image", "vision_model", lambda: self.encode_pixels(probe_images(side))),
        )
        for kind, attribute, encode_probes in towers:
            tower = getattr(inner, attribute, None)
            if not isinstance(tower, torch.nn.Module):
                log.info(
                    "no %s tower named %s: it stays %s", kind, attribute, dtype_name(self.dtype)
                )
                continue
            before = encode_probes()
            swap = quantize_tower(tower)
            after = encode_probes()
            agreement = float(np.min(np.sum(before * after, axis=1)))
            if agreement < min_cosine and not force:
                swap.restore()
                log.warning(
                    "%s tower: int8 vectors reach only cosine %.4f to float32 ones (below "
                    "%.4f): it stays float32",
                    kind,
                    agreement,
                    min_cosine,
                )
                continue
            self.towers[kind] = TowerPrecision(kind, "int8", agreement, len(before))

    def describe(self) -> str:
        """One line: the model, device, dtype, backend, each tower's precision, threads."""
        int8 = any(t.precision == "int8" for t in self.towers.values())
        backend = f"torch, int8 on {int8_engine()}" if int8 else "torch"
        towers = "; ".join(t.describe() for t in self.towers.values())
        return (
            f"{self.model_id} on {self.device}, dtype {dtype_name(self.dtype)}, backend "
            f"{backend}; {towers}; {torch.get_num_threads()} torch threads"
        )

    @property
    def forward_passes(self) -> dict[str, int]:
        """Batches encoded so far, by kind ("text", "image"); on int8 towers a batch
        runs as one pass per item."""
        with self._lock:
            return {"text": self._text_passes, "image": self._image_passes}

    def _embed(self, features: dict[str, Any]) -> Vectors:
        output = self._model.forward(features)["sentence_embedding"]
        vectors = torch.nn.functional.normalize(output.float(), dim=-1)
        return np.ascontiguousarray(vectors.cpu().numpy(), dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Encodes a batch of texts into (n, dimension) normalised float32 vectors."""
        if self.towers["text"].precision == "int8" and len(texts) > 1:
            # int8 layers run each item alone anyway (see quantization); whole passes of
            # one text keep the other layers' tensors small and in the CPU's caches.
            vectors = np.concatenate([self._text_pass(texts[i : i + 1]) for i in range(len(texts))])
        else:
            vectors = self._text_pass(texts)
        with self._lock:
            self._text_passes += 1
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[TextTokens]:
        """How many tokens each text makes, and the part of it the model reads."""
        out = []
        for text in texts:
            prepared = self.text_prep.apply(text)
            # verbose=False: a text over the limit is the point here, not a mistake.
            ids = self._tokenizer(prepared, verbose=False)["input_ids"]
            if not self.max_text_tokens or len(ids) <= self.max_text_tokens:
                out.append(TextTokens(len(ids), len(ids), prepared))
                continue
            kept = self._tokenizer(
                prepared, truncation=True, max_length=self.max_text_tokens, verbose=False
            )["input_ids"]
            read_text = self._tokenizer.decode(kept, skip_special_tokens=True).strip()
            out.append(TextTokens(len(ids), len(kept), read_text))
        return out

    def _text_pass(self, texts: Sequence[str]) -> Vectors:
        # SigLIP pools the last token, so every text is padded to the full length: a
        # text's vector must not depend on the other texts it was batched with.
        # The text is first prepared as the model family was trained to read it.
        prepared = [self.text_prep.apply(text) for text in texts]
        features = self._model.preprocess(prepared, processing_kwargs=self._text_kwargs)
        for key, value in features.items():
            if isinstance(value, torch.Tensor):
                features[key] = value.to(self.device, non_blocking=True)
        with torch.inference_mode():
            return self._embed(features)

    def encode_pixels(self, images: Sequence[torch.Tensor]) -> Vectors:
        """Encodes resized images, each (3, size, size) uint8 RGB on any device."""
        if self.towers["image"].precision == "int8" and len(images) > 1:
            vectors = np.concatenate(
                [self._pixel_pass(images[i : i + 1]) for i in range(len(images))]
            )
        else:
            vectors = self._pixel_pass(images)
        with self._lock:
            self._image_passes += 1
        return vectors

    def _pixel_pass(self, images: Sequence[torch.Tensor]) -> Vectors:
        with torch.inference_mode():
            if len({img.device for img in images}) == 1:
                # One copy of the whole uint8 batch to the device, not one per image.
                batch = torch.stack(list(images)).to(self.device, non_blocking=True)
            else:
                batch = torch.stack([img.to(self.device) for img in images])
            pixels = (batch.float() / 255.0 - self._mean) / self._std
            features = {"modality": "image", "pixel_values": pixels.to(self.dtype)}
            return self._embed(features)

    def warm_up(self) -> None:
        """Runs both towers once, so that the first request pays no lazy set-up."""
        self.encode_texts(["warm-up"])
        side = self.image.size
        self.encode_pixels([torch.zeros((3, side, side), dtype=torch.uint8)])
