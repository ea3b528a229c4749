"""The lexical branch's filter: the caller's filter plus a share of the query's words.

A movie is a text match when its text holds at least `LexicalQuery.min_words` of the
query's words; the terms are looked up in the payload list `text_terms` (the sparse
vector's own term ids), for Qdrant Edge and for qdrant-client alike. Where one word is
enough, the sparse vector search itself asks no more (a movie sharing no term scores
nothing), so no condition is added and the query costs no payload look-up.
"""

from __future__ import annotations

import qdrant_edge as edge
from qdrant_client import models

from poster_index.lexical import FIELD_TEXT_TERMS, LexicalQuery


def text_match_edge(base: edge.Filter | None, query: LexicalQuery) -> edge.Filter | None:
    """base narrowed to the movies holding enough of the query's words (Qdrant Edge)."""
    if query.min_words <= 1:
        return base
    words: list[edge.ConditionType] = [
        edge.FieldCondition(FIELD_TEXT_TERMS, match=edge.MatchAny(list(terms)))
        for terms in query.words
    ]
    share = edge.Filter(min_should=edge.MinShould(words, query.min_words))
    return share if base is None else edge.Filter(must=[base, share])


def text_match_client(base: models.Filter | None, query: LexicalQuery) -> models.Filter | None:
    """base narrowed to the movies holding enough of the query's words (qdrant-client)."""
    if query.min_words <= 1:
        return base
    words: list[models.Condition] = [
        models.FieldCondition(key=FIELD_TEXT_TERMS, match=models.MatchAny(any=list(terms)))
        for terms in query.words
    ]
    share = models.Filter(min_should=models.MinShould(conditions=words, min_count=query.min_words))
    return share if base is None else models.Filter(must=[base, share])
