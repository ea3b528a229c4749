"""`--not`, `--not-like`, `--diverse` and an image with words on the command line, over the
embedded index with the tiny SigLIP, and through a search server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from search_fixtures import TinyCollection

from postersearch.app.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ids(capsys: pytest.CaptureFixture[str], collection: TinyCollection, *argv: str) -> list[str]:
    code, out, err = _run(capsys, "search", *argv, "--index", str(collection.index_dir), "--json")
    assert code == 0, err
    return [hit["movie_id"] for hit in json.loads(out)["hits"]]


def test_not_and_not_like_change_the_answer(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    query = ("dark red horror poster", "--mode", "vector", "--limit", "24")
    plain = _ids(capsys, tiny_collection, *query)
    excluded = _ids(capsys, tiny_collection, *query, "--not", "blood", "--not", "a clown")
    assert sorted(excluded) == sorted(plain), "all 24 posters, in another order"
    assert excluded != plain
    first = plain[0]
    not_like = _ids(capsys, tiny_collection, *query, "--not-like", first)
    assert not_like[-1] == first, "the excluded movie's own poster is most like it"


def test_diverse_pages_add_up_on_the_command_line(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    query = ("dark red horror poster", "--diverse", "--not", "blood")
    whole = _ids(capsys, tiny_collection, *query, "--limit", "12")
    pages = [
        _ids(capsys, tiny_collection, *query, "--limit", "4", "--offset", str(4 * k))
        for k in range(3)
    ]
    assert [m for page in pages for m in page] == whole
    assert whole != _ids(capsys, tiny_collection, "dark red horror poster", "--limit", "12")


def test_an_image_with_words(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    poster = tiny_collection.posters[0]
    image = str(Path(poster.poster))
    alone = _ids(capsys, tiny_collection, "--image", image, "--limit", "24")
    assert alone[0] == poster.movie_id
    with_words = _ids(capsys, tiny_collection, "but in blue", "--image", image, "--limit", "24")
    assert sorted(with_words) == sorted(alone)
    assert with_words != alone
    similar = _ids(
        capsys, tiny_collection, "but in blue", "--similar", poster.movie_id, "--diverse"
    )
    assert poster.movie_id not in similar


def test_steering_mistakes_are_refused_readably(
    tiny_collection: TinyCollection, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(tiny_collection.index_dir)
    code, _, err = _run(capsys, "search", "heist", "--mode", "text", "--not", "x", "--index", index)
    assert code == 2
    assert "text mode" in err
    code, _, err = _run(capsys, "search", "heist", "--not-like", "nope", "--index", index)
    assert code == 2
    assert "'nope'" in err
    many = [arg for n in range(11) for arg in ("--not", f"thing {n}")]
    code, _, err = _run(capsys, "search", "heist", *many, "--index", index)
    assert code == 2
    assert "at most 10" in err
