"""Translation, match probability and the cutoff through PosterSearch over real Qdrant Edge.

The keyword encoder's vectors are a pure function of the text, so every expected ranking
is computed exactly (brute force over the same vectors) and compared with what the
service answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from search_fixtures import KeywordEncoder, Seeded, build_index, text_vector

from poster_index.edge import EdgePosterIndex
from postersearch.domain import Poster, SearchFilter
from postersearch.encoding import TranslatorUnavailableError
from search_service.core import PosterSearch
from search_service.errors import InvalidRequestError
from search_service.probability import PROBABILITY_UNDEFINED_NOTICE
from search_service.settings import SearchSettings
from search_service.translation import scripts_of

Ids = Callable[[object], list[str]]
KOREAN = "네온사인이 많은 사이버펑크 느낌"
ENGLISH = "a cyberpunk feel with many neon signs"


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def best_of(seeded: Seeded, *queries: np.ndarray) -> list[str]:
    """Every poster by its best cosine to any of the query vectors, best first."""
    scored = [
        (max(float(np.dot(seeded.vectors[p.movie_id], q)) for q in queries), p.movie_id)
        for p in seeded.posters
    ]
    return [movie_id for _, movie_id in sorted(scored, reverse=True)]


@pytest.fixture
def translating() -> KeywordEncoder:
    return KeywordEncoder(translator="opus-test", translations={KOREAN: ENGLISH})


@pytest.mark.parametrize(
    ("text", "scripts"),
    [
        (KOREAN, ("Hangul",)),
        ("Parasite 기생충 2019", ("Latin", "Hangul")),
        ("東京の夜", ("Han", "Hiragana")),
        ("Ночной город", ("Cyrillic",)),
        ("1984!", ()),
    ],
)
def test_scripts_are_told_apart_by_unicode(text: str, scripts: tuple[str, ...]) -> None:
    assert scripts_of(text) == scripts


async def test_a_korean_query_is_searched_with_its_translation_and_merged(
    translating: KeywordEncoder, index: EdgePosterIndex, seeded: Seeded, ids: Ids
) -> None:
    search = PosterSearch(translating, index, SearchSettings())
    page = await search.search(KOREAN, limit=8, mode="vector")
    assert page.translation is not None
    assert (page.translation.source, page.translation.text) == (KOREAN, ENGLISH)
    assert page.translation.model_id == "opus-test" and page.translation.scripts == ("Hangul",)
    merged = best_of(seeded, text_vector(KOREAN), text_vector(ENGLISH))[:8]
    assert ids(page) == merged
    # Both answers contribute posters the other alone would not have on this page.
    alone_ko = seeded.expected(text_vector(KOREAN), SearchFilter())[:8]
    alone_en = seeded.expected(text_vector(ENGLISH), SearchFilter())[:8]
    assert set(ids(page)) - set(alone_ko) and set(ids(page)) - set(alone_en)
    # One encoder call for both texts; the scores are the better cosine of the two.
    assert translating.text_calls == [[KOREAN, ENGLISH]]
    for hit in page.hits:
        v = seeded.vectors[hit.poster.movie_id]
        best = max(float(np.dot(v, text_vector(KOREAN))), float(np.dot(v, text_vector(ENGLISH))))
        assert hit.score == pytest.approx(best, abs=1e-5)


async def test_merged_pages_follow_one_another(
    translating: KeywordEncoder, index: EdgePosterIndex, seeded: Seeded, ids: Ids
) -> None:
    search = PosterSearch(translating, index, SearchSettings())
    first = await search.search(KOREAN, limit=5, mode="vector")
    second = await search.search(KOREAN, limit=5, offset=5, mode="vector")
    merged = best_of(seeded, text_vector(KOREAN), text_vector(ENGLISH))
    assert ids(first) + ids(second) == merged[:10]


async def test_rrf_merge_fuses_the_two_rankings(
    translating: KeywordEncoder, index: EdgePosterIndex, seeded: Seeded, ids: Ids
) -> None:
    search = PosterSearch(translating, index, SearchSettings(translation_merge="rrf"))
    page = await search.search(KOREAN, limit=6, mode="vector")
    fused: dict[str, float] = {}
    for query in (KOREAN, ENGLISH):
        for rank, movie_id in enumerate(seeded.expected(text_vector(query), SearchFilter())[:6]):
            fused[movie_id] = fused.get(movie_id, 0.0) + 1 / (60 + rank + 1)
    assert ids(page) == sorted(fused, key=lambda m: -fused[m])[:6]


async def test_no_translate_searches_as_typed(
    translating: KeywordEncoder, index: EdgePosterIndex, seeded: Seeded, ids: Ids
) -> None:
    search = PosterSearch(translating, index, SearchSettings())
    page = await search.search(KOREAN, limit=5, mode="vector", translate=False)
    assert page.translation is None and page.notice == ""
    assert translating.translate_calls == []
    assert ids(page) == seeded.expected(text_vector(KOREAN), SearchFilter())[:5]
    off = PosterSearch(translating, index, SearchSettings(translate=False))
    assert (await off.search(KOREAN, limit=5, mode="vector")).translation is None
    assert translating.translate_calls == []


async def test_translations_are_cached_least_recently_used_first(
    translating: KeywordEncoder, index: EdgePosterIndex
) -> None:
    search = PosterSearch(translating, index, SearchSettings(translation_cache_size=1))
    for query in (KOREAN, KOREAN, "어두운 공포", KOREAN):
        await search.search(query, limit=1, mode="vector")
    assert translating.translate_calls == [[KOREAN], ["어두운 공포"], [KOREAN]]
    assert search.translations.cache.hits == 1


async def test_english_is_not_translated(
    translating: KeywordEncoder, index: EdgePosterIndex
) -> None:
    search = PosterSearch(translating, index, SearchSettings())
    page = await search.search("dark red horror", limit=3, mode="vector")
    assert page.translation is None and translating.translate_calls == []


@pytest.mark.parametrize(
    "failure",
    [TranslatorUnavailableError("the translator cannot be loaded"), RuntimeError("boom")],
)
async def test_a_failed_translation_answers_with_the_query_as_typed(
    index: EdgePosterIndex, seeded: Seeded, ids: Ids, failure: Exception
) -> None:
    encoder = KeywordEncoder(translator="opus-test", translation_fails=failure)
    search = PosterSearch(encoder, index, SearchSettings())
    page = await search.search(KOREAN, limit=5, mode="vector")
    assert page.translation is None
    assert f"translation failed ({failure})" in page.notice
    assert "searched as typed only" in page.notice
    assert ids(page) == seeded.expected(text_vector(KOREAN), SearchFilter())[:5]


async def test_no_translator_is_said(index: EdgePosterIndex) -> None:
    search = PosterSearch(KeywordEncoder(), index, SearchSettings())
    page = await search.search(KOREAN, limit=2, mode="vector")
    assert (
        page.notice == "no translator runs for Hangul text, so the query was searched as typed only"
    )


WORDED = [
    Poster("p", "Parasite", ("Drama",), 2019, 8.5, "/p.jpg",
           overview="A poor family schemes its way into a rich household."),
    *[Poster(f"x{i}", f"Movie {i}", ("Drama",), 2000, 5.0, f"/x{i}.jpg") for i in range(20)],
]  # fmt: skip


@pytest.fixture(scope="module")
def worded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgePosterIndex]:
    vectors = {p.movie_id: text_vector(p.movie_id) for p in WORDED}
    index = build_index(tmp_path_factory.mktemp("worded"), WORDED, vectors)
    yield index
    index.close()


async def test_the_lexical_branch_gets_the_translation_too(worded: EdgePosterIndex) -> None:
    query = "가난한 가족의 계획"
    encoder = KeywordEncoder(translator="opus-test", translations={query: "a poor family schemes"})
    search = PosterSearch(encoder, worded, SearchSettings())
    page = await search.search(query, limit=5)
    assert page.hits[0].poster.movie_id == "p" and "text" in page.hits[0].found_by
    untranslated = await search.search(query, limit=5, translate=False)
    assert all("text" not in hit.found_by for hit in untranslated.hits)


@pytest.fixture
def calibrated() -> KeywordEncoder:
    return KeywordEncoder(logit_scale=10.0, logit_bias=-2.0)


async def test_each_hit_carries_the_model_probability(
    calibrated: KeywordEncoder, index: EdgePosterIndex
) -> None:
    search = PosterSearch(calibrated, index, SearchSettings())
    page = await search.search("dark red horror", limit=6, mode="vector")
    for hit in page.hits:
        assert hit.probability == pytest.approx(sigmoid(10.0 * hit.score - 2.0), rel=1e-6)


async def test_min_probability_drops_poor_matches(
    calibrated: KeywordEncoder, index: EdgePosterIndex, ids: Ids
) -> None:
    search = PosterSearch(calibrated, index, SearchSettings())
    everything = await search.search("dark red horror", limit=6, mode="vector")
    probabilities = [h.probability or 0.0 for h in everything.hits]
    cutoff = (probabilities[1] + probabilities[2]) / 2
    page = await search.search("dark red horror", limit=6, mode="vector", min_probability=cutoff)
    assert ids(page) == ids(everything)[:2]
    assert not page.no_good_match and page.notice == ""
    none = await search.search("dark red horror", limit=6, mode="vector", min_probability=1.0)
    assert none.hits == [] and none.no_good_match
    assert none.notice.startswith("no good match: no poster here reaches a match probability of 1")
    assert f"(the best is {probabilities[0]:.3f})" in none.notice
    later = await search.search(
        "dark red horror", limit=6, offset=6, mode="vector", min_probability=1.0
    )
    assert later.notice.startswith("no more good match")


async def test_hybrid_hits_get_probabilities_and_word_matches_are_kept(
    worded: EdgePosterIndex,
) -> None:
    search = PosterSearch(
        KeywordEncoder(logit_scale=10.0, logit_bias=-2.0), worded, SearchSettings()
    )
    page = await search.search("Parasite", limit=5)
    for hit in page.hits:
        cosine = float(np.dot(text_vector(hit.poster.movie_id), text_vector("Parasite")))
        assert hit.probability == pytest.approx(sigmoid(10.0 * cosine - 2.0), rel=1e-5)
    strict = await search.search("Parasite", limit=5, min_probability=1.0)
    assert [h.poster.movie_id for h in strict.hits] == ["p"]
    assert "text" in strict.hits[0].found_by and not strict.no_good_match


async def test_a_model_without_probability_says_the_cutoff_was_not_applied(
    index: EdgePosterIndex, ids: Ids
) -> None:
    search = PosterSearch(KeywordEncoder(), index, SearchSettings())
    plain = await search.search("dark red horror", limit=4, mode="vector")
    page = await search.search("dark red horror", limit=4, mode="vector", min_probability=0.9)
    assert ids(page) == ids(plain) and all(h.probability is None for h in page.hits)
    assert page.notice == PROBABILITY_UNDEFINED_NOTICE


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
async def test_a_probability_off_the_scale_is_refused(
    calibrated: KeywordEncoder, index: EdgePosterIndex, bad: float
) -> None:
    search = PosterSearch(calibrated, index, SearchSettings())
    with pytest.raises(InvalidRequestError, match="min_probability must be between 0 and 1"):
        await search.search("x", min_probability=bad)
