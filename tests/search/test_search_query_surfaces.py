"""Translation, the probability cutoff and the cut-query notice through gRPC and the CLI.

The CLI runs the tiny random SigLIP and the tiny random translator in-process, loaded
through the same code path as real checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from search_fixtures import KeywordEncoder, TinyCollection

from poster_index.edge import EdgePosterIndex
from postersearch.app.cli import main
from postersearch.app.query import Ask, ask_server
from postersearch.domain import Poster, SearchFilter, SearchHit
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.merge import merge_rankings
from search_service.server import create_server
from search_service.settings import SearchSettings

KOREAN = "네온사인이 많은 사이버펑크 느낌"


@pytest.fixture
async def stub(index: EdgePosterIndex) -> AsyncIterator[tuple[str, KeywordEncoder]]:
    encoder = KeywordEncoder(
        translator="opus-test",
        translations={KOREAN: "many neon signs, cyberpunk"},
        logit_scale=10.0,
        logit_bias=-2.0,
    )
    settings = SearchSettings(host="127.0.0.1", port=0)
    server, port = create_server(settings, PosterSearch(encoder, index, settings))
    await server.start()
    try:
        yield f"127.0.0.1:{port}", encoder
    finally:
        await server.stop(0)


async def test_grpc_carries_translation_probability_and_the_cutoff(
    stub: tuple[str, KeywordEncoder],
) -> None:
    target, _ = stub
    async with grpc.aio.insecure_channel(target) as channel:
        service = search_pb2_grpc.SearchServiceStub(channel)
        vector = search_pb2.SEARCH_MODE_VECTOR
        response = await service.Search(
            search_pb2.SearchRequest(query=KOREAN, limit=5, mode=vector)
        )
        assert response.translation.text == "many neon signs, cyberpunk"
        assert response.translation.model_id == "opus-test"
        assert list(response.translation.scripts) == ["Hangul"]
        assert all(hit.HasField("probability") for hit in response.hits)
        assert response.query_tokens.read_text == KOREAN
        plain = await service.Search(
            search_pb2.SearchRequest(query=KOREAN, limit=5, mode=vector, no_translate=True)
        )
        assert not plain.HasField("translation")
        cut = await service.Search(
            search_pb2.SearchRequest(query=KOREAN, limit=5, mode=vector, min_probability=1.0)
        )
        assert list(cut.hits) == [] and cut.no_good_match
        assert cut.notice.startswith("no good match")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await service.Search(search_pb2.SearchRequest(query="x", min_probability=2.0))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The command-line client reads every field back.
    page = await ask_server(Ask(KOREAN, SearchFilter(), limit=3, min_probability=0.0), target)
    assert page.translation is not None and page.translation.text == "many neon signs, cyberpunk"
    assert all(hit.probability is not None for hit in page.hits)
    none = await ask_server(Ask(KOREAN, SearchFilter(), min_probability=1.0), target)
    assert none.no_good_match and none.hits == []
    untranslated = await ask_server(Ask(KOREAN, SearchFilter(), translate=False), target)
    assert untranslated.translation is None


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def with_translator(tiny_translator_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENCODER_TRANSLATOR", str(tiny_translator_dir))
    return tiny_translator_dir


def test_cli_json_shows_the_translation_and_merged_hits(
    tiny_collection: TinyCollection, with_translator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(tiny_collection.index_dir)
    common = ("--index", index, "--json", "--mode", "vector", "--limit", "6")
    code, out, _ = _run(capsys, "search", KOREAN, *common)
    assert code == 0
    answer = json.loads(out)
    translation = answer["translation"]
    assert translation["source"] == KOREAN and translation["model_id"] == str(with_translator)
    assert translation["text"] and translation["scripts"] == ["Hangul"]
    assert all(0.0 <= hit["probability"] <= 1.0 for hit in answer["hits"])
    # The hits are those of the query and of its translation, merged by best score.
    rankings = []
    for text in (KOREAN, translation["text"]):
        code, out, _ = _run(capsys, "search", text, *common, "--no-translate")
        alone = json.loads(out)
        assert alone["translation"] is None
        rankings.append(alone["hits"])
    assert [h["movie_id"] for h in answer["hits"]] == _merged_ids(rankings)
    assert answer["query_tokens"]["read_text"] == KOREAN


def _merged_ids(rankings: list[list[dict[str, object]]]) -> list[str]:
    as_hits = [
        [SearchHit(Poster(str(h["movie_id"]), "", ()), float(h["score"])) for h in ranking]  # type: ignore[arg-type]
        for ranking in rankings
    ]
    return [h.poster.movie_id for h in merge_rankings(as_hits, "best")][:6]


def test_cli_no_translate_and_a_missing_translator(
    tiny_collection: TinyCollection,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = str(tiny_collection.index_dir)
    # The default translator is a hub id; tests run offline, so it cannot be had.
    monkeypatch.delenv("ENCODER_TRANSLATOR", raising=False)
    code, out, _ = _run(capsys, "search", KOREAN, "--index", index, "--json")
    answer = json.loads(out)
    assert code == 0 and answer["hits"] and answer["translation"] is None
    assert "translation failed" in answer["notice"] and "cannot be loaded" in answer["notice"]
    code, out, _ = _run(capsys, "search", KOREAN, "--index", index, "--json", "--no-translate")
    answer = json.loads(out)
    assert code == 0 and answer["translation"] is None and answer["notice"] == ""


def test_cli_a_long_query_gets_a_notice(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(tiny_collection.index_dir)
    # Words the tiny tokenizer never merged: well over 120 tokens, the model reads 32.
    query = " ".join(f"zq{i}x" for i in range(40))
    code, out, _ = _run(capsys, "search", query, "--index", index, "--json", "--mode", "vector")
    answer = json.loads(out)
    assert code == 0
    tokens = answer["query_tokens"]
    assert tokens["tokens"] >= 120 and tokens["read"] == 32
    assert query.startswith(tokens["read_text"])
    assert f"the query is {tokens['tokens']} tokens long but the model reads 32" in answer["notice"]
    code, _, err = _run(capsys, "search", query, "--index", index, "--mode", "vector")
    assert code == 0 and "tokens long but the model reads 32" in err


def test_cli_min_probability(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(tiny_collection.index_dir)
    base = ("search", "dark red horror", "--index", index, "--mode", "vector", "--limit", "8")
    code, out, _ = _run(capsys, *base, "--json")
    probabilities = [hit["probability"] for hit in json.loads(out)["hits"]]
    assert probabilities == sorted(probabilities, reverse=True)
    cutoff = (probabilities[2] + probabilities[3]) / 2
    code, out, _ = _run(capsys, *base, "--json", "--min-probability", repr(cutoff))
    assert [h["probability"] for h in json.loads(out)["hits"]] == probabilities[:3]
    code, out, err = _run(capsys, *base, "--min-probability", "1")
    assert code == 0 and out.strip() == "no good match" and "no good match:" in err
    code, _, err = _run(capsys, *base, "--min-probability", "3")
    assert code == 2 and "min_probability must be between 0 and 1" in err
