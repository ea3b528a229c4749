"""Which queries are translated to English, and the translations already made.

The text tower scores English better than Korean (published Crossmodal-3600 text-to-image
recall of SigLIP2 B/16: 75.2 English, 70.3 Korean), so a query written in a script the
encoder's translator reads (Hangul by default) is also searched in English. The search
service decides from the query's Unicode scripts alone, which needs no model; the
translation itself is the encoder's (it owns the models and the GPU). Translations are
kept in a bounded least-recently-used cache, so a repeated query costs no model call.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import regex

from postersearch.encoding import Encoder, EncoderError, EncoderInfo
from search_service.validation import normalise_query

log = logging.getLogger(__name__)

# Scripts a query is told apart by; "Common" and "Inherited" (digits, punctuation,
# combining marks) belong to none. Others are named "Other".
_SCRIPTS = (
    "Latin", "Hangul", "Han", "Hiragana", "Katakana", "Cyrillic", "Greek", "Arabic",
    "Hebrew", "Thai", "Devanagari", "Bengali", "Tamil", "Georgian", "Armenian",
    "Ethiopic", "Khmer", "Lao", "Myanmar", "Sinhala", "Telugu", "Kannada", "Malayalam",
    "Gujarati", "Gurmukhi", "Tibetan", "Mongolian",
)  # fmt: skip
_SCRIPT_PATTERNS = [(name, regex.compile(rf"\p{{Script={name}}}")) for name in _SCRIPTS]
_LETTER = regex.compile(r"\p{L}")


def scripts_of(text: str) -> tuple[str, ...]:
    """The Unicode scripts of the letters in text, in order of first appearance."""
    found: list[str] = []
    for ch in text:
        if not _LETTER.match(ch):
            continue
        name = next((n for n, pattern in _SCRIPT_PATTERNS if pattern.match(ch)), "Other")
        if name not in found:
            found.append(name)
    return tuple(found)


@dataclass(frozen=True)
class Translation:
    """The English translation a query was searched with.

    Attributes:
        source: The query as typed (normalised).
        text: Its English translation (normalised).
        model_id: The translation model.
        scripts: The query's scripts that the translator reads.
    """

    source: str
    text: str
    model_id: str
    scripts: tuple[str, ...]


@dataclass(frozen=True)
class TranslationOutcome:
    """A translation, or None with the notice saying why the query went untranslated."""

    translation: Translation | None
    notice: str = ""


NOT_ASKED = TranslationOutcome(None)


class TranslationCache:
    """Maps (translator, query) to its translation, dropping the least recently used first.

    Args:
        capacity: Most translations kept; 0 keeps none.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, model_id: str, text: str) -> str | None:
        """The translation stored for text, marking it most recently used."""
        found = self._items.get((model_id, text))
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end((model_id, text))
        self.hits += 1
        return found

    def put(self, model_id: str, text: str, translation: str) -> None:
        """Stores a translation, dropping the least recently used beyond capacity."""
        if self._capacity <= 0:
            return
        self._items[(model_id, text)] = translation
        self._items.move_to_end((model_id, text))
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _foreign(scripts: Iterable[str]) -> list[str]:
    return [s for s in scripts if s != "Latin"]


class QueryTranslator:
    """Translates the queries that need it through the encoder, caching the answers.

    Never raises for a translation that cannot be had: the outcome then carries no
    translation and a notice, and the search goes on with the query as typed.

    Args:
        encoder: The encoder whose translator does the work.
        cache_size: Translations kept.
    """

    def __init__(self, encoder: Encoder, cache_size: int) -> None:
        self._encoder = encoder
        self.cache = TranslationCache(cache_size)

    async def translate(self, text: str, info: EncoderInfo) -> TranslationOutcome:
        """The English translation of text where its scripts call for one."""
        scripts = scripts_of(text)
        readable = [s for s in scripts if s in info.translation_scripts]
        if not info.translator_model_id or not readable:
            foreign = _foreign(scripts)
            if foreign and not info.translator_model_id:
                return TranslationOutcome(
                    None,
                    f"no translator runs for {', '.join(foreign)} text, so the query was "
                    "searched as typed only",
                )
            return NOT_ASKED
        model_id = info.translator_model_id
        cached = self.cache.get(model_id, text)
        if cached is None:
            try:
                answer = (await self._encoder.translate([text]))[0]
            except Exception as exc:
                # Whatever went wrong, translation only ever helps a search: log it and
                # answer with the query as typed.
                if isinstance(exc, EncoderError):
                    log.warning("translation failed, searching as typed: %s", exc)
                else:
                    log.exception("translation failed, searching as typed")
                return TranslationOutcome(
                    None, f"translation failed ({exc}), so the query was searched as typed only"
                )
            cached = normalise_query(answer)
            # An empty answer is kept too: asking the model again would give it again.
            self.cache.put(model_id, text, cached)
        if not cached or cached.casefold() == text.casefold():
            return TranslationOutcome(
                None, "the translator returned no other text, so the query was searched as typed"
            )
        return TranslationOutcome(Translation(text, cached, model_id, tuple(readable)))
