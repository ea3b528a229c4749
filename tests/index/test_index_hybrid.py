"""Text and hybrid search against Qdrant Edge and qdrant-client's local mode alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qdrant_edge as edge
from index_samples import DIM, MODEL, IndexFactory, descending_query, unit_vector
from qdrant_client import QdrantClient, models

from poster_index.base import VECTOR_NAME, PosterIndex
from poster_index.edge import EdgePosterIndex
from poster_index.hybrid import DEFAULT_FUSION, FusionWeights
from poster_index.lexical import lexical_query
from poster_index.model_record import write_model_record
from poster_index.payload import point_id
from poster_index.remote import ServerPosterIndex
from poster_index.steer import steer
from poster_index.tuning import DEFAULT_TUNING
from postersearch.domain import Poster, PosterVector, SearchFilter, SearchHit

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]

WORDS: dict[str, dict[str, Any]] = {
    "1": dict(title="Parasite", overview="A poor family schemes its way into a rich household."),
    "2": dict(title="Heat", overview="A crew of thieves plans a heist.", keywords=("casino",)),
    "3": dict(title="네온 도시", overview="비가 오는 도시의 네온사인", keywords=("사이버펑크",)),
    "4": dict(title="The Casino Job", tagline="Everyone has a price."),
    "5": dict(title="Untitled"),
    "6": dict(title="Rich Family", alternative_titles=("부자 가족",)),
}
GENRES = {"1": ("Drama",), "2": ("Crime",), "3": ("Sci-Fi",), "4": ("Crime", "Comedy")}


def ids(hits: list[Any]) -> list[str]:
    return [h.poster.movie_id for h in hits]


@pytest.fixture
def worded(index: PosterIndex, make_poster: Callable[..., Poster]) -> PosterIndex:
    """Six movies with words (vector order follows the id) and two without any."""
    items = [
        PosterVector(
            make_poster(movie_id=mid, genres=GENRES.get(mid, ("Drama",)), **words),
            unit_vector(int(mid)),
        )
        for mid, words in WORDS.items()
    ]
    # Two titles of punctuation alone: no word, so no text vector.
    items += [
        PosterVector(make_poster(movie_id=mid, title="…"), unit_vector(int(mid)))
        for mid in ("7", "8")
    ]
    index.upsert(items)
    return index


def test_a_new_collection_has_text(index: PosterIndex) -> None:
    assert index.has_text()


def test_text_search_finds_titles_stories_and_korean(worded: PosterIndex) -> None:
    assert ids(worded.text_search(lexical_query("parasite"), SearchFilter(), 10)) == ["1"]
    # Both words in movie 2 (overview, keywords) rank it above movie 4 (title only).
    assert ids(worded.text_search(lexical_query("a heist in a casino"), SearchFilter(), 10)) == [
        "2",
        "4",
    ]
    # "네온사인이" carries a particle; the stored word "네온사인" does not.
    assert ids(worded.text_search(lexical_query("네온사인이"), SearchFilter(), 10)) == ["3"]
    assert ids(worded.text_search(lexical_query("부자"), SearchFilter(), 10)) == ["6"]
    hits = worded.text_search(lexical_query("rich family"), SearchFilter(), 10)
    assert ids(hits) == ["6", "1"], "the title holds both words in fewer tokens"
    assert all(h.found_by == ("text",) for h in hits)
    assert hits[0].score > hits[1].score > 0


def test_a_korean_word_counts_towards_the_share_with_or_without_its_particle(
    worded: PosterIndex,
) -> None:
    """Four words, two needed: movie 3 holds "네온사인" (the query says "네온사인이") and
    "사이버펑크"; either form of a word counts as that word."""
    query = lexical_query("네온사인이 많은 사이버펑크 느낌")
    assert (len(query.words), query.min_words) == (4, 2)
    assert ids(worded.text_search(query, SearchFilter(), 10)) == ["3"]
    hybrid = worded.hybrid_search(descending_query(), query, SearchFilter(), 10)
    assert hybrid[0].poster.movie_id == "3" and "text" in hybrid[0].found_by


def test_text_search_keeps_to_the_filter_and_pages(worded: PosterIndex) -> None:
    crime = SearchFilter(genres_any=("Crime",), genres_none=("Comedy",))
    assert ids(worded.text_search(lexical_query("heist casino"), crime, 10)) == ["2"]
    assert ids(worded.text_search(lexical_query("heist casino"), SearchFilter(), 1, 1)) == ["4"]


def test_a_long_description_sharing_one_word_is_no_text_match(worded: PosterIndex) -> None:
    """Half of the query's words must be in a movie for the lexical branch to return it."""
    query = lexical_query("dark red poster of a rich man with a single face")
    assert query.min_words == 4, "7 words: dark red poster rich man single face"
    assert worded.text_search(query, SearchFilter(), 10) == []
    assert ids(worded.text_search(lexical_query("rich"), SearchFilter(), 10)) == ["6", "1"]


def _rrf(rankings: list[list[str]], weights: list[float], k: int) -> dict[str, float]:
    """Qdrant's weighted RRF: the weight divides the 1-based rank n, 1 / (k - 1 + n / w)."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for n, movie_id in enumerate(ranking, start=1):
            scores[movie_id] = scores.get(movie_id, 0.0) + 1.0 / (k - 1 + n / weight)
    return scores


@pytest.mark.parametrize("fusion", [DEFAULT_FUSION, FusionWeights(vector=2.0, text=1.0, k=3)])
def test_hybrid_is_the_weighted_rrf_of_both_branches(
    worded: PosterIndex, fusion: FusionWeights
) -> None:
    """The fused order and scores are weighted RRF of the vector ranking and the BM25
    ranking, each worked out separately; found_by names the branches that had the hit."""
    query = lexical_query("a rich family")
    vector = descending_query()
    by_vector = ids(worded.search(vector, SearchFilter(), DEFAULT_TUNING.page_window))
    by_text = ids(worded.text_search(query, SearchFilter(), DEFAULT_TUNING.page_window))
    assert by_text == ["6", "1"]
    expected = _rrf([by_vector, by_text], fusion.as_list(), fusion.k)
    hits = worded.hybrid_search(vector, query, SearchFilter(), 8, fusion=fusion)
    assert ids(hits) == sorted(expected, key=lambda m: (-expected[m], by_vector.index(m)))
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.poster.movie_id], rel=1e-5)
        in_text = hit.poster.movie_id in by_text
        assert hit.found_by == (("vector", "text") if in_text else ("vector",))


def test_hybrid_without_a_text_match_is_the_vector_search_with_its_cosines(
    worded: PosterIndex,
) -> None:
    """A description whose words no movie holds enough of: the answer, scores included,
    is the vector search's (cosines, not reciprocal ranks), found by the vector branch,
    and its pages add up like the vector search's."""
    query = lexical_query("dark red poster of a rich man with a single face")
    assert not query.is_empty
    vector = descending_query()
    expected = worded.search(vector, SearchFilter(), 8)
    hits = worded.hybrid_search(vector, query, SearchFilter(), 8)
    assert [(h.poster.movie_id, h.score) for h in hits] == [
        (h.poster.movie_id, h.score) for h in expected
    ]
    assert all(h.found_by == ("vector",) for h in hits)
    assert hits[0].score < 1.0 and hits[1].score != pytest.approx(0.5), "cosines, not RRF"
    pages = [worded.hybrid_search(vector, query, SearchFilter(), 3, offset) for offset in (0, 3)]
    assert ids(pages[0] + pages[1]) == ids(hits)[:6]


def test_hybrid_filters_both_branches_and_keeps_text_matches_beyond_the_vector_depth(
    index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    """Under a filter, a text match that the vector branch ranks last (beyond the depth of
    its walk, the first rung's window) still comes back."""
    rng = np.random.default_rng(5)
    query_vector = rng.normal(size=DIM)
    items = []
    for n in range(4 * DEFAULT_TUNING.page_window):
        v = rng.normal(size=DIM)
        genres = ("Horror",) if n % 2 else ("Drama",)
        items.append(PosterVector(make_poster(movie_id=str(n), genres=genres), v.tolist()))
    # The one movie about a lighthouse points away from the query: last in vector order.
    far = (-query_vector / np.linalg.norm(query_vector)).tolist()
    lighthouse = make_poster(movie_id="keeper", genres=("Horror",), overview="A lighthouse")
    drama_lighthouse = make_poster(movie_id="drama", genres=("Drama",), overview="A lighthouse")
    items += [PosterVector(lighthouse, far), PosterVector(drama_lighthouse, far)]
    index.upsert(items)
    horror = SearchFilter(genres_any=("Horror",))
    hits = index.hybrid_search(query_vector.tolist(), lexical_query("lighthouse"), horror, 10)
    assert all("Horror" in h.poster.genres for h in hits)
    assert hits[0].poster.movie_id == "keeper"
    assert hits[0].found_by == ("text",)
    assert "drama" not in ids(index.hybrid_search(query_vector.tolist(), lexical_query(
        "lighthouse"), horror, 100))  # fmt: skip


def test_both_backends_score_text_alike(tmp_path: Path, make_poster: Callable[..., Poster]) -> None:
    """One tokenizer and Qdrant's IDF on both sides: the same BM25 scores."""
    edge_index = EdgePosterIndex(tmp_path / "edge")
    server_index = ServerPosterIndex(QdrantClient(location=":memory:"))
    items = [
        PosterVector(make_poster(movie_id=mid, **words), unit_vector(int(mid)))
        for mid, words in WORDS.items()
    ]
    scores = []
    for backend in (edge_index, server_index):
        backend.ensure_collection(MODEL)
        backend.upsert(items)
        hits = backend.text_search(lexical_query("casino family"), SearchFilter(), 10)
        # Equal scores may come back in either order.
        scores.append(sorted((round(h.score, 4), h.poster.movie_id) for h in hits))
        backend.close()
    assert scores[0] == scores[1]
    assert len(scores[0]) >= 3


def _old_edge(path: Path) -> EdgePosterIndex:
    shard_dir = path / "posters"
    write_model_record(shard_dir, MODEL)
    config = edge.EdgeConfig(
        vectors={VECTOR_NAME: edge.EdgeVectorParams(size=DIM, distance=edge.Distance.Cosine)}
    )
    edge.EdgeShard.create(str(shard_dir), config).close()
    return EdgePosterIndex(path)


def _old_server(_: Path) -> ServerPosterIndex:
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "posters",
        vectors_config={
            VECTOR_NAME: models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        },
        metadata={"poster_search_model_id": MODEL.model_id, "poster_search_dimension": DIM},
    )
    return ServerPosterIndex(client)


@pytest.mark.parametrize("make_old", [_old_edge, _old_server], ids=["edge", "server"])
def test_a_collection_made_before_text_keeps_working(
    tmp_path: Path, make_poster: Callable[..., Poster], make_old: Callable[[Path], PosterIndex]
) -> None:
    old = make_old(tmp_path)
    try:
        old.ensure_collection(MODEL)
        assert not old.has_text()
        poster = make_poster(movie_id="1", title="Parasite", overview="A poor family")
        old.upsert([PosterVector(poster, unit_vector(1))])
        assert ids(old.search(unit_vector(1), SearchFilter(), 5)) == ["1"]
        assert old.text_search(lexical_query("parasite"), SearchFilter(), 5) == []
    finally:
        old.close()


def test_reopened_edge_shard_still_has_text(open_backend: IndexFactory) -> None:
    first = open_backend()
    first.ensure_collection(MODEL)
    again = open_backend()
    assert again.has_text()


def test_refresh_text_picks_up_words_written_later_and_keeps_the_image_vector(
    open_backend: IndexFactory, make_poster: Callable[..., Poster]
) -> None:
    """A step that writes words into the payload (a caption) refreshes the BM25 vector
    from the payload; the image vector stays as it was encoded."""
    index = open_backend()
    index.ensure_collection(MODEL)
    index.upsert([PosterVector(make_poster(movie_id="1", title="Heat"), unit_vector(1))])
    query = lexical_query("lighthouse")
    assert index.text_search(query, SearchFilter(), 5) == []
    if isinstance(index, EdgePosterIndex):
        shard = index._ready()
        record = shard.retrieve([point_id("1")], False, False)[0]
        shard.update(edge.UpdateOperation.set_payload([record.id], {"caption": "a lighthouse"}))
    else:
        assert isinstance(index, ServerPosterIndex)
        index._client.set_payload("posters", {"caption": "a lighthouse"}, points=[point_id("1")])
    assert index.refresh_text(["1", "missing"]) == 1
    assert ids(index.text_search(query, SearchFilter(), 5)) == ["1"]
    assert index.get_vector("1") == pytest.approx(unit_vector(1))
    assert ids(index.text_search(lexical_query("heat"), SearchFilter(), 5)) == ["1"]


@pytest.mark.parametrize("steered", [False, True], ids=["plain", "with-a-negative"])
def test_hybrid_pages_add_up_across_the_ladder(
    index: PosterIndex, make_poster: Callable[..., Poster], steered: bool
) -> None:
    """Page k of size n is ranks k*n .. (k+1)*n-1 of the one long answer, past the first
    rung's window, with text matches in both branches and a filter; also when the vector
    branch carries a negative (a recommend query, fused the same way)."""
    rng = np.random.default_rng(11)
    items = []
    for n in range(5 * DEFAULT_TUNING.page_window):
        words = {"overview": "A lighthouse keeper"} if n % 3 else {}
        genres = ("Horror",) if n % 4 else ("Drama",)
        poster = make_poster(movie_id=str(n), genres=genres, **words)
        items.append(PosterVector(poster, rng.normal(size=DIM).tolist()))
    index.upsert(items)
    vector = rng.normal(size=DIM).tolist()
    negative = rng.normal(size=DIM).tolist()
    query = lexical_query("lighthouse")
    horror = SearchFilter(genres_any=("Horror",))

    def search(limit: int, offset: int = 0) -> list[SearchHit]:
        if steered:
            return index.steered_hybrid_search(
                steer(vector, [negative]), query, horror, limit, offset
            )
        return index.hybrid_search(vector, query, horror, limit, offset)

    size, pages = 7, 8
    long = search(size * pages)
    assert len(long) == size * pages > 2 * DEFAULT_TUNING.page_window
    paged = [h for k in range(pages) for h in search(size, k * size)]
    assert [(h.poster.movie_id, h.found_by) for h in paged] == [
        (h.poster.movie_id, h.found_by) for h in long
    ]
    assert {h.found_by for h in long} >= {("vector",), ("vector", "text")}


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_fused_scores_tied_at_a_rungs_edge_are_cut_by_movie_id_on_every_call(
    tmp_path: Path, make_poster: Callable[..., Poster], backend: str
) -> None:
    """With a first rung of 12 and the default weights, the 12th text match and the first
    poster by look both score 1 and share the rung's last place: the lower movie id takes
    it on every call, and pages cut across that edge add up."""
    tuning = replace(DEFAULT_TUNING, page_window=12)
    index: PosterIndex = (
        EdgePosterIndex(tmp_path / "edge", tuning=tuning)
        if backend == "edge"
        else ServerPosterIndex(QdrantClient(location=":memory:"), tuning=tuning)
    )
    index.ensure_collection(MODEL)
    rng = np.random.default_rng(3)
    query_vector = rng.normal(size=DIM)
    query_vector /= np.linalg.norm(query_vector)
    items = []
    # Text matches, BM25 falling with the length of the overview, pointing away from the
    # query; posters by look, nearer the query the lower their number, with no such word.
    for n in range(14):
        overview = "A lighthouse" + " and the sea" * n
        away = -query_vector + rng.normal(scale=0.05, size=DIM)
        items.append(PosterVector(make_poster(movie_id=f"t{n:02d}", overview=overview), away))
    for n in range(20):
        near = query_vector + (0.02 * (n + 1)) * rng.normal(size=DIM)
        items.append(PosterVector(make_poster(movie_id=f"v{n:02d}", title=f"Look {n}"), near))
    index.upsert([PosterVector(i.poster, list(map(float, i.vector))) for i in items])
    query = lexical_query("lighthouse")
    vector = query_vector.tolist()

    def search(limit: int, offset: int = 0) -> list[SearchHit]:
        return index.hybrid_search(vector, query, SearchFilter(), limit, offset)

    try:
        long = search(24)
        assert ids(long)[:11] == [f"t{n:02d}" for n in range(11)]
        assert ids(long)[11:13] == ["t11", "v00"]
        assert long[11].score == long[12].score == pytest.approx(1.0)
        for _ in range(5):
            assert ids(search(12)) == ids(long)[:12]
            paged = [h for offset in range(0, 24, 6) for h in search(6, offset)]
            assert ids(paged) == ids(long)
    finally:
        index.close()
