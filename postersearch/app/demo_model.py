"""Which model the demo runs: the real checkpoint when it can be had, else a stand-in.

Loading a hub model with no route to the hub makes transformers retry for over a minute
before failing, so reachability is checked first with a short timeout. When the real
model cannot be had, the demo says so plainly and builds a random SigLIP locally: the
pipeline is then the real one, but the rankings mean nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import model_info, try_to_load_from_cache

from postersearch.random_siglip import TINY, build_random_siglip
from postersearch.random_translator import TINY_TRANSLATOR, build_random_translator

_PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ModelChoice:
    """The model to load and whether its results mean anything.

    Attributes:
        model: Hub id or local folder to load.
        real: False for the random stand-in.
    """

    model: str
    real: bool


def stand_in_notice(model: str, reason: str) -> str:
    """What the demo prints when it runs the random stand-in instead of model."""
    return (
        f"NOTE: the model {model} could not be loaded ({reason}).\n"
        "      Continuing with a randomly initialised SigLIP built locally, so that every\n"
        "      step runs for real: the results below are NOT semantically meaningful.\n"
        "      For real results run on a machine that can reach huggingface.co (the model\n"
        "      is downloaded once, about 1.5 GB), or download it elsewhere and pass\n"
        "      --model /path/to/the/checkpoint."
    )


def stand_in_translator_notice(translator: str, reason: str) -> str:
    """What the demo prints when it runs the random stand-in translator instead."""
    return (
        f"NOTE: the translator {translator} could not be loaded ({reason}).\n"
        "      Continuing with a randomly initialised MarianMT built locally, so that Korean\n"
        "      queries are searched with a translation beside them: its English is NOT a\n"
        "      real translation."
    )


def stand_in_translator(folder: Path) -> Path:
    """The random stand-in translator, built once into folder and reused afterwards."""
    if (folder / "config.json").is_file():
        return folder
    return build_random_translator(folder, TINY_TRANSLATOR)


def hub_unavailable_reason(model: str) -> str | None:
    """Why model cannot be had from the local cache or the hub; None when it can.

    Checks, in order: a local folder, the Hugging Face cache, then the hub itself with a
    short timeout (honouring HF_HUB_OFFLINE).
    """
    if Path(model).is_dir():
        return None
    cached = try_to_load_from_cache(model, "config.json")
    if isinstance(cached, str):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return "HF_HUB_OFFLINE is set and the model is not in the local cache"
    try:
        model_info(model, timeout=_PROBE_TIMEOUT_S)
    except Exception as exc:
        return f"the Hugging Face hub cannot be reached or does not have it: {exc}"
    return None


def stand_in_model(folder: Path) -> Path:
    """The random stand-in SigLIP, built once into folder and reused afterwards."""
    if (folder / "config.json").is_file():
        return folder
    return build_random_siglip(folder, TINY)
