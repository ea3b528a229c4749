"""How a text query was understood, as JSON: the fields the CLI and the web API share.

Field names are those of ``SearchResponse`` in ``proto/postersearch/v1/search.proto``.
"""

from __future__ import annotations

from typing import Any

from search_service.core import SearchPage


def understanding_json(page: SearchPage) -> dict[str, Any]:
    """The translation used, whether no poster was a good match, and how much of the
    query the model read."""
    translation, tokens = page.translation, page.query_tokens
    return {
        "translation": None
        if translation is None
        else {
            "source": translation.source,
            "text": translation.text,
            "model_id": translation.model_id,
            "scripts": list(translation.scripts),
        },
        "no_good_match": page.no_good_match,
        "query_tokens": None
        if tokens is None
        else {"tokens": tokens.tokens, "read": tokens.read, "read_text": tokens.read_text},
    }


def probability_json(value: float | None) -> float | None:
    """A hit's match probability, unrounded: an uncalibrated or strict model's
    probabilities can be far below the scores' six decimals."""
    return None if value is None else float(value)
