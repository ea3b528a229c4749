"""Exclusions, image plus words and diverse pages through PosterSearch and over gRPC, on a
real Edge collection whose expected answers are worked out from the same vectors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np
import pytest
from search_fixtures import IMAGE_PREFIX, KeywordEncoder, Seeded, passes, text_vector

from poster_index.edge import EdgePosterIndex
from postersearch.app.query import Ask, ask_core, ask_server
from postersearch.domain import SearchFilter, SearchMode
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.errors import InvalidRequestError, NotFoundError
from search_service.mapping import filter_to_pb
from search_service.server import create_server
from search_service.settings import SearchSettings
from search_service.steering import MAX_EXCLUSIONS, NO_STEERING, Steering, steering

Ids = Callable[[object], list[str]]

QUERY = "dark red horror movie poster with a single face"
HORROR = SearchFilter(genres_any=("Horror", "Thriller"))


@pytest.fixture
def search(encoder: KeywordEncoder, index: EdgePosterIndex) -> PosterSearch:
    return PosterSearch(encoder, index, SearchSettings())


def recommended(
    seeded: Seeded,
    positive: np.ndarray,
    negatives: Sequence[np.ndarray],
    flt: SearchFilter,
    leave_out: str | None = None,
) -> list[str]:
    """Qdrant's best-score rule written out: posters nearer the query than to every negative
    by their similarity, then the others, least like a negative first."""
    ahead, behind = [], []
    for poster in seeded.posters:
        if not passes(poster, flt) or poster.movie_id == leave_out:
            continue
        v = seeded.vectors[poster.movie_id]
        positive_score = float(v @ positive)
        negative_score = max(float(v @ n) for n in negatives)
        if positive_score > negative_score:
            ahead.append((-positive_score, poster.movie_id))
        else:
            behind.append((negative_score, poster.movie_id))
    return [mid for _, mid in sorted(ahead)] + [mid for _, mid in sorted(behind)]


def unit(v: np.ndarray) -> np.ndarray:
    normalised: np.ndarray = v / np.linalg.norm(v)
    return normalised


@pytest.mark.parametrize("flt", [SearchFilter(), HORROR], ids=["all", "horror"])
async def test_excluded_descriptions_rank_as_qdrants_best_score_rule(
    search: PosterSearch, seeded: Seeded, ids: Ids, flt: SearchFilter
) -> None:
    exclude = ("blood", "a clown")
    page = await search.search(QUERY, flt, 100, mode="vector", steering=steering(exclude))
    negatives = [text_vector(t) for t in exclude]
    expected = recommended(seeded, text_vector(QUERY), negatives, flt)
    assert ids(page) == expected[:100]
    plain = await search.search(QUERY, flt, 100, mode="vector")
    assert ids(plain) != ids(page), "the exclusions must change the answer"
    assert all(h.found_by == ("vector",) for h in page.hits)


async def test_not_like_a_movie_uses_its_stored_vector(
    search: PosterSearch, seeded: Seeded, ids: Ids
) -> None:
    plain = await search.search(QUERY, SearchFilter(), 3, mode="vector")
    first = ids(plain)[0]
    page = await search.search(
        QUERY, SearchFilter(), 100, mode="vector", steering=steering(exclude_movie_ids=[first])
    )
    expected = recommended(seeded, text_vector(QUERY), [seeded.vectors[first]], SearchFilter())
    assert ids(page) == expected[:100]
    assert expected[-1] == first, "the movie is most like itself"
    assert first not in ids(page)


async def test_steered_pages_add_up(search: PosterSearch, ids: Ids) -> None:
    steer = steering(["blood"], diverse=True)
    for mode in ("vector", "hybrid"):
        whole = ids(await search.search(QUERY, HORROR, 30, 0, mode, steer))
        pages = [ids(await search.search(QUERY, HORROR, 6, k * 6, mode, steer)) for k in range(5)]
        assert [m for page in pages for m in page] == whole
        assert len(set(whole)) == len(whole) == 30


async def test_a_diverse_page_differs_from_the_plain_one_and_keeps_the_filter(
    search: PosterSearch, seeded: Seeded, ids: Ids
) -> None:
    plain = await search.search(QUERY, HORROR, 10, mode="vector")
    diverse = await search.search(QUERY, HORROR, 10, mode="vector", steering=Steering(diverse=True))
    assert ids(diverse)[0] == ids(plain)[0], "the most relevant poster still leads"
    assert ids(diverse) != ids(plain)
    by_id = {p.movie_id: p for p in seeded.posters}
    assert all(passes(by_id[m], HORROR) for m in ids(diverse))

    def spread(movie_ids: list[str]) -> float:
        vectors = np.stack([seeded.vectors[m] for m in movie_ids])
        similarity = vectors @ vectors.T
        return float(similarity[np.triu_indices(len(movie_ids), 1)].mean())

    assert spread(ids(diverse)) < spread(ids(plain))


async def test_an_image_with_words_ranks_by_both(
    search: PosterSearch, seeded: Seeded, ids: Ids
) -> None:
    image = IMAGE_PREFIX + b"a lighthouse at night"
    page = await search.search_by_image(image, SearchFilter(), 100, words="but in blue")
    both = unit(text_vector("a lighthouse at night")) + unit(text_vector("but in blue"))
    assert ids(page) == seeded.expected(unit(both), SearchFilter())[:100]
    alone = await search.search_by_image(image, SearchFilter(), 100)
    assert ids(alone) != ids(page)


async def test_similar_with_words_and_exclusions_still_leaves_the_movie_out(
    search: PosterSearch, seeded: Seeded, ids: Ids
) -> None:
    movie = seeded.posters[0].movie_id
    steer = steering(["blood"])
    page = await search.similar(movie, SearchFilter(), 100, words="in blue", steering=steer)
    positive = unit(unit(seeded.vectors[movie]) + unit(text_vector("in blue")))
    expected = recommended(seeded, positive, [text_vector("blood")], SearchFilter(), movie)
    assert ids(page) == expected[:100]
    assert movie not in ids(page)


async def test_steering_that_cannot_apply_is_refused_readably(search: PosterSearch) -> None:
    with pytest.raises(InvalidRequestError, match="text mode"):
        await search.search(QUERY, mode="text", steering=steering(["blood"]))
    with pytest.raises(InvalidRequestError, match="query is empty"):
        await search.search("", HORROR, steering=Steering(diverse=True))
    with pytest.raises(NotFoundError, match="nope"):
        await search.search(QUERY, steering=steering(exclude_movie_ids=["nope"]))
    with pytest.raises(InvalidRequestError, match="excluded description is too long"):
        # Longer than the encoder reads (the stand-in encoder takes 1,000 characters).
        await search.search(QUERY, steering=steering(["x" * 1001]))
    with pytest.raises(InvalidRequestError, match=f"at most {MAX_EXCLUSIONS}"):
        steering([f"thing {n}" for n in range(MAX_EXCLUSIONS + 1)])


def test_steering_drops_blanks_and_repeats() -> None:
    steer = steering(["  blood ", "", "blood", "gore"], [" m001 ", "m001"], True)
    assert steer == Steering(("blood", "gore"), ("m001",), True)


async def test_excluded_descriptions_are_encoded_once(
    search: PosterSearch, encoder: KeywordEncoder
) -> None:
    for _ in range(2):
        await search.search(QUERY, steering=steering(["blood"]))
    assert sum(call.count("blood") for call in encoder.text_calls) == 1


@pytest.fixture
async def stub(
    encoder: KeywordEncoder, index: EdgePosterIndex
) -> AsyncIterator[search_pb2_grpc.SearchServiceStub]:
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(encoder, index, settings))
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield search_pb2_grpc.SearchServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)


def hit_ids(response: search_pb2.SearchResponse) -> list[str]:
    return [hit.poster.movie_id for hit in response.hits]


async def test_grpc_carries_exclusions_diversity_and_words(
    stub: search_pb2_grpc.SearchServiceStub, search: PosterSearch, ids: Ids
) -> None:
    response = await stub.Search(
        search_pb2.SearchRequest(
            query=QUERY, filter=filter_to_pb(HORROR), limit=20, exclude=["blood"],
            exclude_movie_ids=["m001"], diverse=True, mode=search_pb2.SEARCH_MODE_VECTOR,
        )
    )  # fmt: skip
    steer = steering(["blood"], ["m001"], True)
    assert hit_ids(response) == ids(await search.search(QUERY, HORROR, 20, 0, "vector", steer))

    image = IMAGE_PREFIX + b"a lighthouse at night"
    response = await stub.SearchByImage(
        search_pb2.SearchByImageRequest(image=image, query="in blue", limit=20, exclude=["fog"])
    )
    expected = await search.search_by_image(
        image, SearchFilter(), 20, 0, "in blue", steering(["fog"])
    )
    assert hit_ids(response) == ids(expected)

    response = await stub.SimilarPosters(
        search_pb2.SimilarPostersRequest(movie_id="m000", query="in blue", diverse=True, limit=20)
    )
    expected = await search.similar(
        "m000", SearchFilter(), 20, 0, "in blue", Steering(diverse=True)
    )
    assert hit_ids(response) == ids(expected)
    assert "m000" not in hit_ids(response)


async def test_grpc_refuses_bad_steering_with_the_right_status(
    stub: search_pb2_grpc.SearchServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Search(
            search_pb2.SearchRequest(query=QUERY, exclude=[str(n) for n in range(11)])
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Search(search_pb2.SearchRequest(query=QUERY, exclude_movie_ids=["nope"]))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_command_line_client_sends_steering_to_a_server(
    encoder: KeywordEncoder, index: EdgePosterIndex, search: PosterSearch, tmp_path: Path
) -> None:
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(encoder, index, settings))
    await server.start()
    image = tmp_path / "query.img"
    image.write_bytes(IMAGE_PREFIX + b"a lighthouse at night")
    steer = steering(["blood"], ["m001"], True)
    asks = [
        Ask(QUERY, HORROR, 12, 0, mode=SearchMode.VECTOR, steering=steer),
        Ask("in blue", SearchFilter(), 12, 0, image=image, steering=steer),
        Ask("in blue", SearchFilter(), 12, 0, similar="m000", steering=steer),
    ]
    try:
        for ask in asks:
            remote = await ask_server(ask, f"127.0.0.1:{port}")
            local = await ask_core(search, ask)
            assert [h.poster.movie_id for h in remote.hits] == [
                h.poster.movie_id for h in local.hits
            ]
            plain = await ask_core(search, replace(ask, steering=NO_STEERING))
            assert [h.poster.movie_id for h in plain.hits] != [
                h.poster.movie_id for h in local.hits
            ]
    finally:
        await server.stop(0)
