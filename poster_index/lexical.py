"""Words about a movie as BM25 sparse vectors, the same for both backends and for queries.

Qdrant's own BM25 (the `Bm25` embedder of qdrant-edge, Qdrant's tokenizer, stemmer and
term hashing) turns a movie's text fields into a sparse vector of term frequencies; the
collection's sparse vector applies Qdrant's IDF modifier at query time, so the score of a
point is Qdrant's BM25. The Edge shard and the Qdrant server receive the same vectors from
this one module, so both backends rank text alike.

Korean attaches particles to nouns ("네온사인이" is "네온사인" + subject particle "이"), and
Qdrant's multilingual tokenizer keeps such a word whole, so "네온사인이" and "네온사인"
would be different terms. Every Hangul word is therefore indexed and queried together with
its form less one trailing particle: a document saying "네온사인" and a query saying
"네온사인이" share the term "네온사인".

BM25 alone ranks "Electric Letter", whose story says "one last heist", above "The Last
Letter" for the query "The Last Letter": both hold both words. Each title (original and
alternative titles too) is therefore also indexed whole, as one term made of its letters
and digits, and so is every query: a query that is exactly a movie's title matches that
rare term too, and puts the movie first.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import qdrant_edge as edge

from poster_index.payload import (
    FIELD_ALTERNATIVE_TITLES,
    FIELD_CAPTION,
    FIELD_KEYWORDS,
    FIELD_ORIGINAL_TITLE,
    FIELD_OVERVIEW,
    FIELD_TAGLINE,
    FIELD_TAGS,
    FIELD_TITLE,
)

# The collection's sparse vector of BM25 term weights.
TEXT_VECTOR = "text"
# The same terms as a payload list, so a filter can ask for a share of a query's words.
FIELD_TEXT_TERMS = "text_terms"

# The payload fields whose words lexical search matches, in the order they are joined.
TEXT_FIELDS = (
    FIELD_TITLE,
    FIELD_ORIGINAL_TITLE,
    FIELD_ALTERNATIVE_TITLES,
    FIELD_OVERVIEW,
    FIELD_TAGLINE,
    FIELD_KEYWORDS,
    FIELD_TAGS,
    FIELD_CAPTION,
)

# Recent queries whose BM25 terms are kept: a repeated query (the next page, a reload, the
# same search in another mode) is not tokenised again.
QUERY_CACHE_SIZE = 4096

# Typical length in tokens of a movie's joined text (title, an overview of two or three
# sentences, a dozen keywords), BM25's reference for its length normalisation.
AVERAGE_DOCUMENT_TOKENS = 64.0

# Qdrant's multilingual tokenizer: word boundaries for every script (CJK segmented),
# lowercased, English stop words and stemming for Latin-script words.
_BM25 = edge.Bm25(
    edge.Bm25Config(
        tokenizer=edge.TokenizerType.Multilingual,
        language="english",
        avg_len=AVERAGE_DOCUMENT_TOKENS,
    )
)

_HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]+")
_WORD_CHARS = re.compile(r"\w+")
_TITLE_FIELDS = (FIELD_TITLE, FIELD_ORIGINAL_TITLE, FIELD_ALTERNATIVE_TITLES)
# Korean particles (josa), longest first so "에서" is stripped before "서" could be.
_PARTICLES = tuple(
    sorted(
        (
            "으로부터",
            "에서부터",
            "로부터",
            "에게서",
            "한테서",
            "이라고",
            "이라는",
            "에서",
            "에게",
            "한테",
            "께서",
            "으로",
            "까지",
            "부터",
            "처럼",
            "보다",
            "마저",
            "조차",
            "이나",
            "이랑",
            "라고",
            "라는",
            "이며",
            "이고",
            "과",
            "와",
            "이",
            "가",
            "을",
            "를",
            "은",
            "는",
            "의",
            "에",
            "로",
            "도",
            "만",
            "랑",
        ),
        key=len,
        reverse=True,
    )
)


def strip_particle(word: str) -> str | None:
    """A Hangul word less its trailing particle, or None when it ends in none.

    The stem keeps at least one syllable: "비가" (rain + subject particle) gives "비".
    """
    for particle in _PARTICLES:
        if word.endswith(particle) and len(word) > len(particle):
            return word[: -len(particle)]
    return None


def expand_korean(text: str) -> str:
    """text with every Hangul word followed by its particle-less form, when it has one.

    Both forms are kept, on the document side and the query side alike: a noun that ends
    in a particle-like syllable ("고양이", cat) then still matches itself, and its stem
    matches the noun with a particle attached ("고양이가" gives "고양이").
    """

    def both(match: re.Match[str]) -> str:
        stem = strip_particle(match.group(0))
        return match.group(0) if stem is None else f"{match.group(0)} {stem}"

    return _HANGUL_WORD.sub(both, text)


def _field_texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v).strip()]
    return []


def whole_title_term(text: str) -> str | None:
    """The single term standing for a whole title (or query): its letters and digits run
    together ("The Last Letter" gives "thelastletter").

    No marker is added: the tokenizer would split a Latin marker from a Hangul title and
    make it a term shared by every such title. A one-word title's term is the word itself.
    """
    joined = "".join(_WORD_CHARS.findall(text.casefold()))
    return joined or None


def document_text(payload: Mapping[str, Any]) -> str:
    """The words lexical search matches for one stored movie, one field per line, then
    the whole-title terms."""
    lines = [text for name in TEXT_FIELDS for text in _field_texts(payload.get(name))]
    titles = [text for name in _TITLE_FIELDS for text in _field_texts(payload.get(name))]
    lines += [term for term in map(whole_title_term, titles) if term is not None]
    return "\n".join(lines)


@dataclass(frozen=True)
class TextTerms:
    """A movie's BM25 sparse vector: term ids and their term-frequency weights."""

    indices: list[int]
    values: list[float]


def document_terms(payload: Mapping[str, Any]) -> TextTerms | None:
    """The BM25 sparse vector of a payload's text fields; None when it has no words."""
    text = document_text(payload)
    if not text:
        return None
    vector = _BM25.embed_document(expand_korean(text))
    if not vector.indices:
        return None
    return TextTerms(list(vector.indices), [float(v) for v in vector.values])


def text_payload(payload: Mapping[str, Any]) -> tuple[dict[str, Any], TextTerms | None]:
    """payload with its term list added, and the sparse vector to store beside it."""
    terms = document_terms(payload)
    if terms is None:
        return dict(payload), None
    return {**payload, FIELD_TEXT_TERMS: sorted(set(terms.indices))}, terms


@dataclass(frozen=True)
class LexicalQuery:
    """A query's words as BM25 query terms.

    Attributes:
        indices: Every query term id (weight 1 each; the collection applies the IDF), the
            whole-query term included.
        words: Per query word, the term ids it stands for (a Hangul word and its stem are
            one word).
        min_words: How many of the words a movie must contain to be a text match: half of
            them, rounded up. A description whose only word in common with a movie is one
            title word ("dark") is no text match for that movie.
    """

    indices: list[int]
    words: tuple[tuple[int, ...], ...]
    min_words: int

    @property
    def is_empty(self) -> bool:
        """True when the query has no searchable word (only stop words or punctuation)."""
        return not self.indices


@functools.lru_cache(maxsize=QUERY_CACHE_SIZE)
def lexical_query(text: str) -> LexicalQuery:
    """The BM25 query terms of text, grouped by the word they come from.

    Cached: callers share the returned query and must not change its lists.
    """
    words: list[tuple[int, ...]] = []
    for chunk in text.split():
        terms = tuple(sorted(set(_BM25.embed_query(expand_korean(chunk)).indices)))
        if terms and terms not in words:
            words.append(terms)
    indices = {term for word in words for term in word}
    whole = whole_title_term(text)
    if words and whole is not None:
        # Not a word of its own: it only ranks an exact title first among the matches.
        indices.update(_BM25.embed_query(whole).indices)
    return LexicalQuery(sorted(indices), tuple(words), math.ceil(len(words) / 2))
