"""Negatives and diverse pages, against Qdrant Edge and qdrant-client's local mode alike.

The vectors are built by hand so that each answer can be worked out: a poster closer to an
excluded description than to the query falls behind every poster that is not, and MMR puts
a poster unlike the first ahead of the first one's near-duplicate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from index_samples import DIM

from poster_index.base import PosterIndex
from poster_index.lexical import lexical_query
from poster_index.steer import image_and_words, steer
from postersearch.domain import Poster, PosterVector, SearchFilter, SearchHit

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]

HORROR = SearchFilter(genres_any=("Horror",))


def axis(*weights: float) -> list[float]:
    """A unit vector with the given weights on the first axes."""
    v = np.zeros(DIM)
    v[: len(weights)] = weights
    unit: list[float] = (v / np.linalg.norm(v)).tolist()
    return unit


def far_from_query(rng: np.random.Generator) -> list[float]:
    """A random unit vector whose cosine to QUERY is below 0.4 (the known posters' are 0.6)."""
    v = rng.normal(size=DIM)
    v[0] = 0.0
    share = rng.uniform(0.0, 0.4)
    v *= np.sqrt(1 - share**2) / np.linalg.norm(v)
    v[0] = share
    far: list[float] = v.tolist()
    return far


def vector_of(index: PosterIndex, movie_id: str) -> list[float]:
    vector = index.get_vector(movie_id)
    assert vector is not None
    return vector


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.poster.movie_id for h in hits]


QUERY = axis(1.0)
BLOOD = axis(0.0, 1.0)


@pytest.fixture
def steered(index: PosterIndex, make_poster: Callable[..., Poster]) -> PosterIndex:
    """Known posters around QUERY, and 60 seeded random ones (half of them horror)."""
    known = {
        # Closest to the query, but closer still to BLOOD: the excluded look.
        "bloody": axis(1.0, 1.2),
        # A little further from the query, nowhere near BLOOD.
        "clean": axis(1.0, 0.0, 1.3),
        # A near-duplicate of "bloody" in another genre: the filter keeps it out.
        "bloody-drama": axis(1.0, 1.25),
    }
    rng = np.random.default_rng(7)
    items = [
        PosterVector(
            make_poster(
                movie_id=mid, title=mid, genres=("Drama",) if "drama" in mid else ("Horror",)
            ),
            vector,
        )
        for mid, vector in known.items()
    ]
    for n in range(60):
        genres = ("Horror",) if n % 2 else ("Drama",)
        items.append(
            PosterVector(make_poster(movie_id=f"r{n}", genres=genres), far_from_query(rng))
        )
    index.upsert(items)
    return index


def test_a_poster_close_to_an_excluded_description_drops_and_filters_hold(
    steered: PosterIndex,
) -> None:
    plain = ids(steered.search(QUERY, HORROR, 5))
    assert plain[:2] == ["bloody", "clean"]
    hits = steered.steered_search(steer(QUERY, [BLOOD]), HORROR, 40)
    ranked = ids(hits)
    assert ranked[0] == "clean"
    assert "bloody-drama" not in ranked
    assert all("Horror" in h.poster.genres for h in hits)
    # Behind every poster nearer the query than BLOOD, each with a score above zero.
    bloody = ranked.index("bloody")
    assert hits[bloody].score < 0
    nearer_the_query = {
        mid
        for mid in ranked
        if np.dot(vector_of(steered, mid), QUERY) > np.dot(vector_of(steered, mid), BLOOD)
    }
    assert nearer_the_query and set(ranked[:bloody]) >= nearer_the_query
    assert all(h.score > 0 for h in hits if h.poster.movie_id in nearer_the_query)


def test_an_excluded_movie_vector_drops_its_near_duplicates(steered: PosterIndex) -> None:
    bloody = steered.get_vector("bloody")
    assert bloody is not None
    ranked = ids(steered.steered_search(steer(QUERY, [bloody]), SearchFilter(), 63))
    assert ranked[0] == "clean"
    assert ranked.index("bloody-drama") > ranked.index("clean")


def test_a_diverse_page_puts_an_unlike_poster_before_a_near_duplicate(
    steered: PosterIndex,
) -> None:
    anyone = SearchFilter()
    assert ids(steered.search(QUERY, anyone, 3))[:2] == ["bloody", "bloody-drama"]
    diverse = ids(steered.steered_search(steer(QUERY, diverse=True), anyone, 3))
    assert diverse[0] == "bloody"
    assert diverse[1] != "bloody-drama"
    assert "bloody-drama" not in diverse[:2]


@pytest.mark.parametrize("negatives,diverse", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("flt", [SearchFilter(), HORROR], ids=["all", "horror"])
def test_steered_pages_add_up_to_the_long_answer(
    steered: PosterIndex, negatives: bool, diverse: bool, flt: SearchFilter
) -> None:
    query = steer(QUERY, [BLOOD] if negatives else [], diverse)
    size = 7
    long_answer = ids(steered.steered_search(query, flt, size * 5))
    pages = [ids(steered.steered_search(query, flt, size, k * size)) for k in range(5)]
    assert [m for page in pages for m in page] == long_answer
    assert len(set(long_answer)) == len(long_answer)
    assert len(long_answer) == min(size * 5, steered.count(flt))


def test_a_similar_search_with_negatives_still_leaves_the_movie_out(steered: PosterIndex) -> None:
    clean = steered.get_vector("clean")
    assert clean is not None
    hits = steered.steered_search(steer(clean, [BLOOD], True), HORROR, 10, 0, "clean")
    assert "clean" not in ids(hits)


def test_image_and_words_rank_by_the_sum_of_both_similarities(steered: PosterIndex) -> None:
    image = axis(1.0, 0.0, 0.0, 0.3)
    words = axis(0.0, 0.0, 1.0)
    both = image_and_words(image, words)
    stored = {h.poster.movie_id: h for h in steered.search(both, SearchFilter(), 63)}
    vectors = {mid: vector_of(steered, mid) for mid in stored}
    expected = sorted(
        stored, key=lambda mid: -(np.dot(vectors[mid], image) + np.dot(vectors[mid], words))
    )
    assert list(stored) == expected
    # The words move "clean" (along them) ahead of the poster the image alone ranks first.
    assert ids(steered.search(image, SearchFilter(), 1)) == ["bloody"]
    assert next(iter(stored)) == "clean"


def test_image_and_words_refuse_mismatched_vectors() -> None:
    with pytest.raises(ValueError, match="numbers"):
        image_and_words([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="zero"):
        image_and_words([0.0, 0.0], [1.0, 0.0])


@pytest.fixture
def worded_steered(index: PosterIndex, make_poster: Callable[..., Poster]) -> PosterIndex:
    """Posters near the query without the query's word, and one far from it with the word."""
    looks = {
        "bloody": axis(1.0, 1.2),
        "clean": axis(1.0, 0.0, 1.3),
        "twin": axis(1.0, 1.25),
        "far": axis(0.0, 0.0, 0.0, 1.0),
    }
    titles = {"far": "The far house"}
    rng = np.random.default_rng(3)
    items = [
        PosterVector(
            make_poster(movie_id=mid, title=titles.get(mid, f"The {mid} one"), genres=("Horror",)),
            v,
        )
        for mid, v in looks.items()
    ]
    for n in range(40):
        poster = make_poster(movie_id=f"r{n}", title=f"Film {n}", genres=("Horror",))
        items.append(PosterVector(poster, far_from_query(rng)))
    index.upsert(items)
    return index


def test_the_hybrid_vector_branch_carries_the_negatives(worded_steered: PosterIndex) -> None:
    words = lexical_query("house")
    plain = ids(worded_steered.hybrid_search(QUERY, words, HORROR, 4))
    assert plain[0] == "far", "the word match leads"
    assert plain.index("bloody") < plain.index("clean")
    hits = worded_steered.steered_hybrid_search(steer(QUERY, [BLOOD]), words, HORROR, 4)
    ranked = ids(hits)
    assert ranked[0] == "far"
    assert ranked[1] == "clean"
    assert "bloody" not in ranked[:3]
    assert hits[0].found_by == ("text",)
    assert all(h.found_by == ("vector",) for h in hits[1:])


@pytest.mark.parametrize("negatives", [False, True])
def test_diverse_hybrid_pages_add_up_and_keep_the_word_match(
    worded_steered: PosterIndex, negatives: bool
) -> None:
    words = lexical_query("house")
    query = steer(QUERY, [BLOOD] if negatives else [], diverse=True)
    long_answer = worded_steered.steered_hybrid_search(query, words, HORROR, 30)
    pages = [worded_steered.steered_hybrid_search(query, words, HORROR, 6, k * 6) for k in range(5)]
    assert [m for page in pages for m in ids(page)] == ids(long_answer)
    assert len(set(ids(long_answer))) == len(long_answer) == 30
    assert long_answer[0].poster.movie_id == "far"
    assert "text" in long_answer[0].found_by
    assert all(h.found_by for h in long_answer)
    top = ids(long_answer)[:4]
    assert not {"bloody", "twin"} <= set(top), "near-duplicates are spread apart"
