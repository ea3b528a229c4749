"""The lexical branch's filter: the caller's filter plus a share of the query's words.

A movie is a text match when its text holds at least `LexicalQuery.min_words` of the
query's words; the terms are looked up in the payload list `text_terms` (the sparse
vector's own term ids), for Qdrant Edge and for qdrant-client alike. Where one word is
enough, the sparse vector search itself asks no more (a movie sharing no term scores
nothing), so no condition is added and the query costs no payload look-up.

Each term is its own `MatchValue` condition (a word with two terms, a Hangul word and its
stem, is a `should` of both). One `MatchAny` per word gives the same answers, but Qdrant
checks it on the integer term index at a cost that grows with the collection (measured with
Qdrant Edge at 2,000 and 10,000 posters; docs/search.md).
"""

from __future__ import annotations

import qdrant_edge as edge
from qdrant_client import models

from poster_index.lexical import FIELD_TEXT_TERMS, LexicalQuery


def _word_edge(terms: tuple[int, ...]) -> edge.ConditionType:
    matches: list[edge.ConditionType] = [
        edge.FieldCondition(FIELD_TEXT_TERMS, match=edge.MatchValue(term)) for term in terms
    ]
    return matches[0] if len(matches) == 1 else edge.Filter(should=matches)


def _word_client(terms: tuple[int, ...]) -> models.Condition:
    matches: list[models.Condition] = [
        models.FieldCondition(key=FIELD_TEXT_TERMS, match=models.MatchValue(value=term))
        for term in terms
    ]
    return matches[0] if len(matches) == 1 else models.Filter(should=matches)


def text_match_edge(base: edge.Filter | None, query: LexicalQuery) -> edge.Filter | None:
    """base narrowed to the movies holding enough of the query's words (Qdrant Edge)."""
    if query.min_words <= 1:
        return base
    words = [_word_edge(terms) for terms in query.words]
    share = edge.Filter(min_should=edge.MinShould(words, query.min_words))
    return share if base is None else edge.Filter(must=[base, share])


def text_match_client(base: models.Filter | None, query: LexicalQuery) -> models.Filter | None:
    """base narrowed to the movies holding enough of the query's words (qdrant-client)."""
    if query.min_words <= 1:
        return base
    words = [_word_client(terms) for terms in query.words]
    share = models.Filter(min_should=models.MinShould(conditions=words, min_count=query.min_words))
    return share if base is None else models.Filter(must=[base, share])
