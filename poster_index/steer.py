"""Steering a vector query: negative examples, an image and words together, a diverse page.

Everything here is answered by Qdrant's own queries, the same on both backends:

Negatives. "A horror poster, but no blood" and "not like this poster" are Qdrant recommend
queries with the best-score strategy: a poster closer to its best positive than to every
negative keeps that (sigmoid-scaled) similarity; a poster closer to a negative scores below
zero, by how close it is to that negative, so it falls behind every poster that is not. The
sum-of-scores strategy was not taken: it ranks by the positive similarity minus the negative
one, so a poster that is merely far from the negative (an unrelated comedy, far from
"blood") overtakes the horror posters without blood that were asked for.

An image and words together ("this poster, but in blue"). The image's vector and the
words' vector, each L2-normalised, are added into one positive vector, so a poster's cosine
to it ranks as the sum of its similarity to the image and to the words (Qdrant's sum of
scores over two positives, as one vector that works with every other part of the query).
SigLIP puts images nearer to images than to any text, so the image's similarity spans the
wider range: the image decides which posters are close and the words reorder those, which is
what "this poster, but ..." asks for. The best-score strategy over the two would take the
larger of the two similarities, nearly always the image's, and ignore the words.

Diversity. A diverse page is Qdrant's maximal marginal relevance over the nearest
`mmr_candidates(window)` posters: each next poster is the one most relevant to the query
and least like the posters already chosen, so one look does not fill the grid. With
negatives, the recommend query picks the candidates (a query of its own: Qdrant Edge's
prefetch walk under a filter reaches fewer posters than a top-level query with ACORN) and
MMR orders exactly those, chosen by id. In
hybrid mode the vector branch is diversified and fused with the lexical branch (see
`fused_in_process`), so a title match keeps its place.

Pages. Each query is one walk of the search plan's ladder (`poster_index.plan`): a rung's
query has fixed parameters, so pages still add up to one long answer, filters still route
to exact search or to the graph with ACORN, and the hybrid query carries the negatives in
its vector branch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from poster_index.hybrid import BRANCH_TEXT, BRANCH_VECTOR, FusionWeights, rrf_share
from postersearch.domain import SearchHit

# How strongly a diverse page trades relevance for difference from the posters above it:
# Qdrant's default MMR diversity (0 is plain relevance order, 1 ignores the query).
DEFAULT_DIVERSITY = 0.5
# MMR chooses among this many times the rung's window of nearest posters: enough choice to
# diversify a page, few enough that the look-alikes of the query stay the candidates.
MMR_CANDIDATES_PER_RESULT = 4


@dataclass(frozen=True)
class Steer:
    """What a vector query asks beyond its one query vector.

    Attributes:
        vector: The query vector (the positive example).
        negatives: Vectors of what the posters should not look like: excluded
            descriptions' text vectors, excluded movies' poster vectors.
        diverse: Order the page by maximal marginal relevance.
        diversity: MMR's weight of difference against relevance, in [0, 1].
    """

    vector: tuple[float, ...]
    negatives: tuple[tuple[float, ...], ...] = ()
    diverse: bool = False
    diversity: float = DEFAULT_DIVERSITY

    @property
    def is_plain(self) -> bool:
        """True when the query is one nearest-neighbour search (nothing to steer)."""
        return not self.negatives and not self.diverse


def steer(
    vector: Sequence[float],
    negatives: Sequence[Sequence[float]] = (),
    diverse: bool = False,
) -> Steer:
    """A Steer from any float sequences (lists from the encoder or the index)."""
    return Steer(
        tuple(float(x) for x in vector),
        tuple(tuple(float(x) for x in n) for n in negatives),
        diverse,
    )


def mmr_candidates(window: int) -> int:
    """How many nearest posters MMR chooses a rung's `window` posters from."""
    return window * MMR_CANDIDATES_PER_RESULT


def image_and_words(image: Sequence[float], words: Sequence[float]) -> list[float]:
    """One positive vector for an image plus words: the sum of both L2-normalised.

    Its cosine to a poster ranks as the poster's similarity to the image plus its
    similarity to the words (see the module docstring for why a sum).

    Raises:
        ValueError: The vectors differ in length, or either is zero.
    """
    if len(image) != len(words):
        raise ValueError(f"the image vector has {len(image)} numbers, the words' {len(words)}")
    image_norm = math.sqrt(sum(x * x for x in image))
    words_norm = math.sqrt(sum(x * x for x in words))
    if image_norm == 0 or words_norm == 0:
        raise ValueError("a zero vector has no direction to combine")
    summed = [a / image_norm + b / words_norm for a, b in zip(image, words, strict=True)]
    norm = math.sqrt(sum(x * x for x in summed)) or 1.0
    return [x / norm for x in summed]


def fused_in_process(
    vector_hits: Sequence[SearchHit], text_hits: Sequence[SearchHit], fusion: FusionWeights
) -> list[SearchHit]:
    """A diverse hybrid ranking: the MMR-ordered vector branch and the lexical branch fused
    by the weighted reciprocal rank fusion Qdrant applies (`poster_index.hybrid.rrf_share`).

    Qdrant Edge applies MMR to a top-level query only (an MMR prefetch comes back in plain
    nearest order), so the diverse vector branch cannot be a prefetch of the fused query;
    both branches come from one batch and are fused here. Ties keep the vector branch's
    order, then the lexical branch's.
    """
    scores: dict[str, float] = {}
    branches: dict[str, list[str]] = {}
    posters: dict[str, SearchHit] = {}
    for branch, hits, weight in (
        (BRANCH_VECTOR, vector_hits, fusion.vector),
        (BRANCH_TEXT, text_hits, fusion.text),
    ):
        for rank, hit in enumerate(hits):
            mid = hit.poster.movie_id
            scores[mid] = scores.get(mid, 0.0) + rrf_share(rank, weight, fusion.k)
            branches.setdefault(mid, []).append(branch)
            posters.setdefault(mid, hit)
    order = sorted(scores, key=lambda mid: -scores[mid])
    return [
        replace(posters[mid], score=scores[mid], found_by=tuple(branches[mid])) for mid in order
    ]
