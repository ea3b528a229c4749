"""The model's match probability of each hit, and the cutoff that drops poor matches.

SigLIP was trained with a sigmoid loss: sigmoid(logit_scale * cosine + logit_bias) is the
model's own probability that a text and an image belong together, with both numbers read
from the checkpoint (the encoder reports them). Every query otherwise returns ``limit``
posters however poor the match; the cutoff lets a page say "no good match" instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from poster_index.hybrid import BRANCH_TEXT
from postersearch.domain import SearchHit
from postersearch.encoding import EncoderInfo
from search_service.errors import InvalidRequestError

PROBABILITY_UNDEFINED_NOTICE = (
    "the model defines no match probability (only SigLIP-family models do), so "
    "min_probability was not applied"
)
TEXT_MODE_PROBABILITY_NOTICE = (
    "text mode matches words, not the model, so it has no match probability: "
    "min_probability was not applied"
)


def check_min_probability(value: float | None) -> None:
    """Refuses a probability cutoff outside 0-1."""
    if value is None:
        return
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise InvalidRequestError(f"min_probability must be between 0 and 1, got {value}")


def with_probabilities(
    hits: Sequence[SearchHit], cosines: Sequence[float | None], info: EncoderInfo
) -> list[SearchHit]:
    """The hits, each with the model's probability at its cosine (None where unknown)."""
    return [
        replace(hit, probability=None if c is None else info.probability(c))
        for hit, c in zip(hits, cosines, strict=True)
    ]


def apply_cutoff(
    hits: list[SearchHit], min_probability: float | None, offset: int
) -> tuple[list[SearchHit], str]:
    """The hits that reach min_probability, and the notice when none of them does.

    A poster its words found (the lexical branch) is kept whatever its probability: a
    title or a story that matches is a good match the picture need not confirm. A hit
    without a probability (a model that defines none) is kept too.

    Returns:
        (kept hits, "" or the no-good-match notice).
    """
    if min_probability is None:
        return hits, ""
    kept = [
        h
        for h in hits
        if h.probability is None or h.probability >= min_probability or BRANCH_TEXT in h.found_by
    ]
    if kept or not hits:
        return kept, ""
    best = max(h.probability or 0.0 for h in hits)
    more = " more" if offset else ""
    return kept, (
        f"no{more} good match: no poster here reaches a match probability of "
        f"{min_probability:g} (the best is {best:.3f})"
    )
