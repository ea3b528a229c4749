"""The translation model: turns a query written in another script into English.

The people searching write mostly in Korean, and the text tower scores English better
than Korean, so the search service searches with an English translation beside the query
as typed. The translator is a model, so it lives here with the other models (and on the
GPU when there is one); the search service only decides which queries need it.

Nothing here knows of gRPC or asyncio; the methods block and run in a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from postersearch.encoding import TranslatorUnavailableError

log = logging.getLogger(__name__)

# A translation of a short query is rarely longer than twice its source in tokens; the
# bound keeps a model that never emits its end token (or a hostile input) from running
# to the full budget on every query.
_OUTPUT_PER_INPUT_TOKEN = 2
_OUTPUT_SLACK = 8


class Translator:
    """A loaded sequence-to-sequence translation model that writes English.

    Args:
        model: A transformers model with ``generate`` (MarianMT and the like).
        tokenizer: Its tokenizer.
        model_id: The id or folder it was loaded from.
        device: Where it runs.
        beams: Beams of the search (1: greedy).
        max_tokens: Most tokens one translation may have.
    """

    def __init__(
        self, model: Any, tokenizer: Any, model_id: str, device: str, beams: int, max_tokens: int
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        self._beams = beams
        self._max_tokens = max_tokens
        limit = getattr(tokenizer, "model_max_length", None)
        self._max_input = limit if isinstance(limit, int) and 0 < limit < 100_000 else 512

    @property
    def parameters(self) -> int:
        """Number of weights of the model."""
        return int(sum(p.numel() for p in self._model.parameters()))

    @classmethod
    def load(cls, model_id: str, device: str, beams: int, max_tokens: int) -> Translator:
        """Loads a translation checkpoint (hub id or local folder) onto device; blocks.

        Raises:
            TranslatorUnavailableError: It cannot be loaded (not found, no network...).
        """
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        started = time.perf_counter()
        unreachable = _unreachable(model_id)
        if unreachable:
            raise TranslatorUnavailableError(
                f"the translator {model_id} cannot be loaded: {unreachable}"
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id)
            model = AutoModelForSeq2SeqLM.from_pretrained(model_id)
        except Exception as exc:
            raise TranslatorUnavailableError(
                f"the translator {model_id} cannot be loaded: {exc}"
            ) from exc
        model.to(device).eval()
        log.info(
            "translator %s loaded on %s in %.1f s", model_id, device, time.perf_counter() - started
        )
        return cls(model, tokenizer, model_id, device, beams, max_tokens)

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English translations of texts, in order, in one batch."""
        batch = self._tokenizer(
            list(texts),
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self._max_input,
        )
        batch = {key: value.to(self.device) for key, value in batch.items()}
        source_tokens = int(batch["input_ids"].shape[1])
        budget = min(self._max_tokens, _OUTPUT_PER_INPUT_TOKEN * source_tokens + _OUTPUT_SLACK)
        with torch.inference_mode():
            output = self._model.generate(
                **batch, num_beams=self._beams, do_sample=False, max_new_tokens=budget
            )
        decoded = self._tokenizer.batch_decode(output, skip_special_tokens=True)
        return [" ".join(text.split()) for text in decoded]


# Loading a hub id with no route to the hub makes transformers retry for most of a minute;
# translation is an aid to a search someone is waiting for, so the hub is asked briefly.
_HUB_PROBE_TIMEOUT_S = 5.0


def _unreachable(model_id: str) -> str | None:
    """Why model_id cannot be had from a folder, the local cache or the hub; None if it can."""
    if Path(model_id).is_dir():
        return None
    from huggingface_hub import model_info, try_to_load_from_cache

    try:
        if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
            return None
    except ValueError:
        return f"{model_id!r} is neither a folder nor a model id"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return "HF_HUB_OFFLINE is set and it is not in the local cache"
    try:
        model_info(model_id, timeout=_HUB_PROBE_TIMEOUT_S)
    except Exception as exc:
        return f"the Hugging Face hub cannot be reached or does not have it: {exc}"
    return None


class TranslatorSlot:
    """The configured translator, loaded on first use (or by `load` at start-up).

    A translator that cannot be loaded is remembered as missing with its reason, so that
    every later query is answered at once (with the query as typed) instead of trying the
    hub again.

    Args:
        model_id: The translator to load; empty for none.
        scripts: Unicode scripts it reads.
        device: Where it runs.
        beams: Beams of its search.
        max_tokens: Most tokens one translation may have.
    """

    def __init__(
        self, model_id: str, scripts: Sequence[str], device: str, beams: int, max_tokens: int
    ) -> None:
        self.model_id = model_id
        self.scripts = tuple(scripts) if model_id else ()
        self._device = device
        self._beams = beams
        self._max_tokens = max_tokens
        self._translator: Translator | None = None
        self._missing: str | None = None if model_id else "no translator is configured"
        self._lock = threading.Lock()

    def load(self) -> Translator:
        """The translator, loading it the first time; blocks.

        Raises:
            TranslatorUnavailableError: None is configured, or it cannot be loaded.
        """
        with self._lock:
            if self._translator is not None:
                return self._translator
            if self._missing is not None:
                raise TranslatorUnavailableError(self._missing)
            try:
                self._translator = Translator.load(
                    self.model_id, self._device, self._beams, self._max_tokens
                )
            except TranslatorUnavailableError as exc:
                self._missing = str(exc)
                log.warning("searching without translation: %s", exc)
                raise
            return self._translator

    def translate(self, texts: Sequence[str]) -> list[str]:
        """texts in English; blocks.

        Raises:
            TranslatorUnavailableError: No translator, or it failed on these texts.
        """
        translator = self.load()
        try:
            return translator.translate(texts)
        except Exception as exc:
            log.exception("translation failed")
            raise TranslatorUnavailableError(f"translation failed: {exc}") from exc
