"""Merging the rankings of a query and of its translation into one.

Two rules, chosen by ``SEARCH_TRANSLATION_MERGE`` (bench/bench_search.py compares them):
"best" keeps each poster's better score of the two answers (scores of one kind, so they
compare), "rrf" fuses the two rankings by reciprocal rank (1 / (k + rank)), which needs no
comparable scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from postersearch.domain import SearchHit

MergeRule = Literal["best", "rrf"]
# Qdrant's and the literature's usual constant: ranks further down still count a little.
RRF_K = 60


def _branches(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))


def merge_rankings(rankings: Sequence[Sequence[SearchHit]], rule: MergeRule) -> list[SearchHit]:
    """One ranking of the posters of every ranking, best first (ties by first seen).

    A poster found by several keeps every branch that found it. Under "best" its score
    is its best one; under "rrf" the fused reciprocal-rank score.
    """
    merged: dict[str, SearchHit] = {}
    order: dict[str, int] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = hit.poster.movie_id
            score = hit.score if rule == "best" else 1.0 / (RRF_K + rank + 1)
            seen = merged.get(key)
            if seen is None:
                order[key] = len(order)
                merged[key] = replace(hit, score=score)
                continue
            combined = max(seen.score, score) if rule == "best" else seen.score + score
            merged[key] = replace(
                seen, score=combined, found_by=_branches(seen.found_by, hit.found_by)
            )
    return sorted(merged.values(), key=lambda h: (-h.score, order[h.poster.movie_id]))
