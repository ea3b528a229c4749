"""Which captioning model runs, and how: what can be chosen without loading torch."""

from __future__ import annotations

from dataclasses import dataclass

# Chosen on cost: see docs/caption.md.
DEFAULT_CAPTION_MODEL = "Salesforce/blip-image-captioning-large"


class CaptionerError(Exception):
    """The captioning model cannot be loaded or cannot caption at all."""


@dataclass(frozen=True)
class CaptionerConfig:
    """Which captioning model runs where, and how it writes.

    Attributes:
        model: Hub id or local folder of an image-to-text checkpoint.
        device: "auto" (cuda, then mps, then cpu), "cpu", "cuda", "cuda:1" or "mps".
        dtype: "auto" (bfloat16 on CUDA, float16 on MPS, float32 on CPU), "bfloat16",
            "float16" or "float32".
        max_new_tokens: Most tokens in one caption.
        min_new_tokens: Fewest tokens in one caption (0: the model decides).
        num_beams: Beam width; 1 is greedy decoding, the cheapest.
        prompt: Text the model is given with each image: a prefix the caption continues
            (BLIP, BLIP-2) or a task (Florence-2: "<CAPTION>"); None for none. The prefix
            is removed from the stored caption.
    """

    model: str = DEFAULT_CAPTION_MODEL
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: int = 40
    min_new_tokens: int = 0
    num_beams: int = 1
    prompt: str | None = None
