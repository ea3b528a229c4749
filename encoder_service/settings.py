"""Settings of the encoder service, read from ``ENCODER_*`` environment variables."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from encoder_service.admission import DecodeBudget

log = logging.getLogger(__name__)

DEFAULT_MODEL = "google/siglip2-base-patch16-256"
# Environment variables renamed: old name -> field.
_RENAMED = {"ENCODER_GRACE_SECONDS": "grace_s"}
# MarianMT Korean to English: 6+6 layers, 512 wide, 65k vocabulary, about 75M parameters
# (300 MB in float32). Korean is what the people searching mostly write.
DEFAULT_TRANSLATOR = "Helsinki-NLP/opus-mt-ko-en"

DType = Literal["auto", "bfloat16", "float16", "float32"]
Quantize = Literal["auto", "int8", "none"]


def _usable_cores() -> int:
    # The cores this process may run on (a container's cpuset), not the host's count.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"}


class EncoderSettings(BaseSettings):
    """Everything the encoder service is configured with.

    Each field can be set by an environment variable named ``ENCODER_`` plus the field
    name in capitals, e.g. ``ENCODER_MODEL`` or ``ENCODER_MAX_BATCH_SIZE``.

    Attributes:
        model: Model id on the Hugging Face hub, or a local folder holding a checkpoint.
        device: "auto" (cuda, then mps, then cpu), "cpu", "cuda", "cuda:1" or "mps".
        dtype: "auto" (bfloat16 on CUDA, float16 on MPS, float32 on CPU), or one of
            "bfloat16", "float16", "float32".
        quantize: "auto" runs each tower with int8 Linear layers on the CPU (float32)
            when its vectors agree with float32 ones on probe inputs at load, else keeps
            it float32; "int8" quantizes both towers whatever the agreement (CPU,
            float32 only); "none" never quantizes. Nothing is quantized on a GPU.
        quantize_min_cosine: Least cosine between a tower's int8 and float32 vectors,
            over the probes, for "auto" to keep it int8.
        torch_threads: Threads torch runs one forward pass with; 0 keeps torch's
            default (the cores it sees).
        gpu_jpeg: Decode JPEGs on the GPU with nvJPEG when the model is on CUDA and
            torchvision is installed; False decodes every image with Pillow.
        host: Interface the gRPC server binds.
        port: gRPC port; 0 picks a free one.
        api_key: When set, every call but health needs ``authorization: Bearer <key>``.
        max_batch_size: Most texts or images in one request, and in one forward pass.
        max_wait_ms: How long a forward pass may wait for images still being decoded
            to join it.
        max_queue: Most texts and images admitted at once; beyond it calls get
            RESOURCE_EXHAUSTED instead of queueing without bound.
        decode_workers: Threads decoding images on the CPU.
        max_text_chars: Most characters in one text; 0 derives it from the tokenizer: the
            tokens the model reads times the characters of its longest token, the most
            text the model can ever read (2000 where the tokenizer declares no limit).
        translator: Translation model (hub id or local folder) that turns queries in
            another script into English for the search service; empty runs none. Any
            transformers sequence-to-sequence checkpoint that writes English and needs no
            language code (MarianMT opus-mt-*-en models).
        translator_scripts: Unicode scripts the translator reads, by their names (e.g.
            "Hangul", "Han", "Cyrillic"); a query with letters of one is translated.
        translator_beams: Beams of the translator's search; 1 is greedy, the fastest.
        translator_max_tokens: Most tokens one translation may have.
        max_image_bytes: Most bytes in one encoded image.
        max_image_pixels: Most pixels (width x height) in one image, checked from the
            header before decoding.
        max_message_bytes: Largest gRPC message received or sent.
        max_request_pixels: Most pixels the images of one request may decode to (JPEGs
            counted at the reduced size they decode at), checked from the headers
            before decoding.
        max_caller_pixels: Most decoded pixels one caller (peer address) may have in
            flight; beyond it its requests get RESOURCE_EXHAUSTED.
        bulk_pixels: Decoded pixels of costly requests decoding at once; the rest wait
            their turn, so they cannot crowd out cheap ones.
        interactive_pixels: Requests decoding to at most this many pixels (a search
            image, a batch of ordinary posters) start at once, ahead of costly ones.
        metrics_port: Port of the Prometheus /metrics endpoint; 0 turns it off.
        grace_s: How long in-flight calls may finish on shutdown, in seconds (formerly
            ENCODER_GRACE_SECONDS, still read, with a deprecation warning).
    """

    model_config = SettingsConfigDict(env_prefix="ENCODER_", extra="ignore")

    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: DType = "auto"
    quantize: Quantize = "auto"
    quantize_min_cosine: float = Field(default=0.995, ge=0, le=1)
    torch_threads: int = Field(default=0, ge=0)
    gpu_jpeg: bool = True
    host: str = "0.0.0.0"
    port: int = Field(default=50051, ge=0, le=65535)
    api_key: str | None = None
    max_batch_size: int = Field(default=256, ge=1)
    max_wait_ms: float = Field(default=5.0, ge=0)
    max_queue: int = Field(default=4096, ge=1)
    decode_workers: int = Field(default_factory=_usable_cores, ge=1)
    max_text_chars: int = Field(default=0, ge=0)
    translator: str = DEFAULT_TRANSLATOR
    translator_scripts: Annotated[list[str], NoDecode] = ["Hangul"]
    translator_beams: int = Field(default=1, ge=1, le=16)
    translator_max_tokens: int = Field(default=64, ge=1, le=512)
    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    max_message_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_request_pixels: int = Field(default=200_000_000, ge=1)
    max_caller_pixels: int = Field(default=400_000_000, ge=1)
    bulk_pixels: int = Field(default=100_000_000, ge=1)
    interactive_pixels: int = Field(default=4_000_000, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    grace_s: float = Field(default=5.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _renamed_variables(cls, data: Any) -> Any:
        # Every duration ends in _S, as in SEARCH_* and QDRANT_*; old names keep working.
        if not isinstance(data, dict):
            return data
        for old, field in _RENAMED.items():
            value = os.environ.get(old)
            if value is None:
                continue
            new = f"ENCODER_{field.upper()}"
            warnings.warn(f"{old} is deprecated; name it {new}", DeprecationWarning, stacklevel=2)
            log.warning("%s is deprecated; name it %s", old, new)
            if field not in data and new not in os.environ:
                data = {**data, field: value}
        return data

    def decode_budget(self) -> DecodeBudget:
        """The admission limits of image decoding these settings name."""
        return DecodeBudget(
            max_request_pixels=self.max_request_pixels,
            max_caller_pixels=self.max_caller_pixels,
            bulk_pixels=self.bulk_pixels,
            interactive_pixels=self.interactive_pixels,
            max_image_pixels=self.max_image_pixels,
        )

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype_alias(cls, value: object) -> object:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _DTYPE_ALIASES.get(lowered, lowered)
        return value

    @field_validator("translator_scripts", mode="before")
    @classmethod
    def _scripts_list(cls, value: object) -> object:
        # ENCODER_TRANSLATOR_SCRIPTS=Hangul,Han: a comma-separated list.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("quantize", mode="before")
    @classmethod
    def _quantize_lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        # ENCODER_API_KEY= (set but empty) means no key, not a key of "".
        return value or None
