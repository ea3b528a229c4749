"""Dataset readers: manifest CSV/JSONL, MovieLens and TMDB, malformed rows included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.movielens import split_title
from ingest.readers import DatasetFormatError, RejectedRow, detect_format, read_dataset
from postersearch.domain import Poster


def _split(rows: list[Poster | RejectedRow]) -> tuple[list[Poster], list[RejectedRow]]:
    return (
        [r for r in rows if isinstance(r, Poster)],
        [r for r in rows if isinstance(r, RejectedRow)],
    )


MANIFEST_CSV = """id,title,genres,year,rating,poster
1,Alien,Horror|Science Fiction,1979,8.5,posters/1.jpg
2,Amélie,Comedy|Romance,2001,,/abs/2.jpg
3,Remote,,,,https://example.org/p/3.jpg
,No Id,Drama,2000,5,p.jpg
5,,Drama,2000,5,p.jpg
6,Bad Year,Drama,19x9,5,p.jpg
7,Too Good,Drama,2000,11,p.jpg
1,Duplicate,Drama,2000,5,p.jpg
9,No Poster,Drama,2000,5,
10,"Quoted, title",Drama,1850,5,p.jpg
"""


def test_manifest_csv(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text(MANIFEST_CSV, encoding="utf-8")
    posters, rejected = _split(list(read_dataset(path)))
    assert [p.movie_id for p in posters] == ["1", "2", "3"]
    alien = posters[0]
    assert alien == Poster(
        "1", "Alien", ("Horror", "Science Fiction"), 1979, 8.5, str(tmp_path / "posters/1.jpg")
    )
    assert posters[1].poster == "/abs/2.jpg" and posters[1].rating is None
    assert posters[2].poster == "https://example.org/p/3.jpg" and posters[2].genres == ()
    reasons = {r.line: r.reason for r in rejected}
    assert reasons[5] == "missing id"
    assert reasons[6] == "missing title"
    assert "bad year" in reasons[7]
    assert "outside 0-10" in reasons[8]
    assert "duplicate id '1'" in reasons[9] and "line 2" in reasons[9]
    assert reasons[10] == "missing poster"
    assert "1850 outside" in reasons[11]
    assert all(r.source == "manifest.csv" for r in rejected)
    assert {r.raw_id for r in rejected} == {None, "5", "6", "7", "1", "9", "10"}


def test_manifest_jsonl(tmp_path: Path) -> None:
    lines = [
        {
            "id": 1,
            "title": "Alien",
            "genres": ["Horror", "Science Fiction"],
            "year": 1979,
            "rating": 8.5,
            "poster": "a.jpg",
        },
        {"id": "2", "title": "Heat", "genres": "Action|Crime", "year": "1995", "poster": "b.jpg"},
        "not json {",
        {"id": "4", "title": "Bad genres", "genres": 5, "poster": "c.jpg"},
        {"id": "5", "title": "Bad rating", "rating": -1, "poster": "c.jpg"},
        [1, 2],
        {"id": "7", "title": "NaN", "rating": "nan", "poster": "c.jpg"},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    path = tmp_path / "data.jsonl"
    path.write_text(text, encoding="utf-8")
    posters, rejected = _split(list(read_dataset(path)))
    assert posters == [
        Poster("1", "Alien", ("Horror", "Science Fiction"), 1979, 8.5, str(tmp_path / "a.jpg")),
        Poster("2", "Heat", ("Action", "Crime"), 1995, None, str(tmp_path / "b.jpg")),
    ]
    reasons = {r.line: r.reason for r in rejected}
    assert reasons[3].startswith("invalid JSON")
    assert "bad genres" in reasons[4]
    assert "outside 0-10" in reasons[5]
    assert reasons[6] == "not a JSON object"
    assert "outside 0-10" in reasons[7]


def test_manifest_folder_is_detected(tmp_path: Path) -> None:
    (tmp_path / "manifest.jsonl").write_text('{"id": "1", "title": "A", "poster": "a.jpg"}\n')
    assert detect_format(tmp_path) == "manifest"
    assert [p.movie_id for p in read_dataset(tmp_path) if isinstance(p, Poster)] == ["1"]


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Matrix, The (1999)", "The Matrix", 1999),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "The City of Lost Children (Cité des enfants perdus, La)",
            1995,
        ),
        ("Babylon 5", "Babylon 5", None),
        ("Fawlty Towers (1975-1979)", "Fawlty Towers", 1975),
        ("Hachiko  (2009) ", "Hachiko", 2009),
    ],
)
def test_movielens_titles(raw: str, title: str, year: int | None) -> None:
    assert split_title(raw) == (title, year)


def _movielens(folder: Path) -> None:
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '2,"Matrix, The (1999)",Action|Sci-Fi|Thriller\n'
        "3,Unknown Film (2015),(no genres listed)\n"
        "4,,Drama\n"
        "5,Old (1066),Drama\n"
        "1,Toy Story again (1995),Comedy\n",
        encoding="utf-8",
    )
    (folder / "links.csv").write_text(
        "movieId,imdbId,tmdbId\n1,0114709,862\n2,0133093,603\n3,0000001,\n", encoding="utf-8"
    )
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "1,1,4.0,964982703\n2,1,5.0,964982703\n1,2,3.5,964981247\n"
        "3,2,9.0,964981247\n4,2,oops,1\n",
        encoding="utf-8",
    )
    posters = folder / "posters"
    posters.mkdir()
    (posters / "1.jpg").write_bytes(b"x")
    (posters / "603.png").write_bytes(b"x")


def test_movielens(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    _movielens(folder)
    assert detect_format(folder) == "movielens"
    assert detect_format(folder / "movies.csv") == "movielens"
    posters, rejected = _split(list(read_dataset(folder)))
    assert posters == [
        Poster(
            "1",
            "Toy Story",
            ("Adventure", "Animation", "Children", "Comedy", "Fantasy"),
            1995,
            9.0,
            str(folder / "posters/1.jpg"),
        ),
        # Found by its tmdbId; the out-of-range 9.0 and the unreadable rating are left out.
        Poster(
            "2",
            "The Matrix",
            ("Action", "Sci-Fi", "Thriller"),
            1999,
            7.0,
            str(folder / "posters/603.png"),
        ),
        # No poster file: the expected path, for the fetch step to report as missing.
        Poster("3", "Unknown Film", (), 2015, None, str(folder / "posters/3.jpg")),
    ]
    assert [(r.line, r.raw_id) for r in rejected] == [(5, "4"), (6, "5"), (7, "1")]
    assert rejected[0].reason == "missing title"
    assert "1066" in rejected[1].reason
    assert "duplicate" in rejected[2].reason


def test_movielens_posters_option(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    _movielens(folder)
    elsewhere = tmp_path / "covers"
    elsewhere.mkdir()
    (elsewhere / "862.webp").write_bytes(b"x")
    posters, _ = _split(list(read_dataset(folder, "movielens", posters=elsewhere)))
    assert posters[0].poster == str(elsewhere / "862.webp")


TMDB_HEADER = (
    "adult,belongs_to_collection,budget,genres,homepage,id,imdb_id,original_language,"
    "original_title,overview,popularity,poster_path,production_companies,"
    "production_countries,release_date,revenue,runtime,spoken_languages,status,tagline,"
    "title,video,vote_average,vote_count\n"
)


def _tmdb_row(
    movie_id: str,
    title: str,
    genres: str = "[{'id': 18, 'name': 'Drama'}]",
    date: str = "1995-10-30",
    vote: str = "7.7",
    votes: str = "5415",
    poster: str = "/rhIRbceoE9lR4veEXuwCC2wARtG.jpg",
) -> str:
    cells = [
        "False",
        "",
        "0",
        genres,
        "",
        movie_id,
        "tt0114709",
        "en",
        title,
        "An overview",
        "21.9",
        poster,
        "[]",
        "[]",
        date,
        "0",
        "81.0",
        "[]",
        "Released",
        "",
        title,
        "False",
        vote,
        votes,
    ]
    return ",".join(f'"{c}"' for c in cells) + "\n"


def test_tmdb(tmp_path: Path) -> None:
    path = tmp_path / "movies_metadata.csv"
    path.write_text(
        TMDB_HEADER
        + _tmdb_row(
            "862", "Toy Story", "[{'id': 16, 'name': 'Animation'}, {'id': 35, 'name': 'Comedy'}]"
        )
        + _tmdb_row("8844", "Jumanji", "[]", date="", vote="0.0", votes="0")
        + _tmdb_row("1997-08-20", "Shifted")
        + _tmdb_row("15", "Broken genres", "[{'id': 18, 'name': 'Dra")
        + _tmdb_row("16", "Bad date", date="1995-13")
        + _tmdb_row("17", "Bad vote", vote="12")
        + _tmdb_row("18", "No poster", poster="")
        + _tmdb_row("862", "Toy Story duplicate"),
        encoding="utf-8",
    )
    assert detect_format(path) == "tmdb"
    assert detect_format(tmp_path) == "tmdb"
    posters, rejected = _split(list(read_dataset(path)))
    base = "https://image.tmdb.org/t/p/w500/rhIRbceoE9lR4veEXuwCC2wARtG.jpg"
    assert posters == [
        Poster(
            "862", "Toy Story", ("Animation", "Comedy"), 1995, 7.7, base, overview="An overview"
        ),
        # No votes: unrated rather than rated 0.
        Poster("8844", "Jumanji", (), None, None, base, overview="An overview"),
    ]
    reasons = {r.raw_id: r.reason for r in rejected}
    assert "bad id '1997-08-20'" in reasons["1997-08-20"]
    assert reasons["15"] == "unparseable genres"
    assert "bad release_date" in reasons["16"]
    assert "outside 0-10" in reasons["17"]
    assert reasons["18"] == "no poster_path"
    assert "duplicate" in reasons["862"]
    assert len(rejected) == 6


def test_tmdb_poster_sources(tmp_path: Path) -> None:
    path = tmp_path / "movies_metadata.csv"
    path.write_text(TMDB_HEADER + _tmdb_row("862", "Toy Story"), encoding="utf-8")
    (posters,) = _split(list(read_dataset(path, poster_base_url="http://127.0.0.1:9/img/")))[0]
    assert posters.poster == "http://127.0.0.1:9/img/rhIRbceoE9lR4veEXuwCC2wARtG.jpg"
    local = tmp_path / "posters"
    local.mkdir()
    (local / "rhIRbceoE9lR4veEXuwCC2wARtG.jpg").write_bytes(b"x")
    (found,) = _split(list(read_dataset(path)))[0]
    assert found.poster == str(local / "rhIRbceoE9lR4veEXuwCC2wARtG.jpg")


def test_unknown_paths_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetFormatError):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(DatasetFormatError):
        detect_format(tmp_path / "missing")
    with pytest.raises(DatasetFormatError):
        read_dataset(tmp_path, "nonsense")


def test_tmdb_words_and_keywords(tmp_path: Path) -> None:
    """original_title (when not the title), overview and tagline come from the metadata;
    keywords from keywords.csv beside it, a broken keywords row costing only its keywords."""
    row = _tmdb_row("496243", "Parasite").split('","')
    row[8], row[19] = "기생충", "Act like you own the place."
    (tmp_path / "movies_metadata.csv").write_text(
        TMDB_HEADER + '","'.join(row) + _tmdb_row("862", "Toy Story"), encoding="utf-8"
    )
    (tmp_path / "keywords.csv").write_text(
        "id,keywords\n"
        "496243,\"[{'id': 1, 'name': 'class differences'}, {'id': 2, 'name': 'con artist'}]\"\n"
        "862,\"[{'id': 3, 'name': 'toy'\"\n",
        encoding="utf-8",
    )
    parasite, toy_story = _split(list(read_dataset(tmp_path)))[0]
    assert parasite.original_title == "기생충"
    assert parasite.tagline == "Act like you own the place."
    assert parasite.overview == "An overview"
    assert parasite.keywords == ("class differences", "con artist")
    assert toy_story.original_title == ""
    assert toy_story.keywords == ()


def test_movielens_tags(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    _movielens(folder)
    (folder / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n"
        "1,1,pixar,1\n2,1,Pixar,2\n3,1,toys,3\n4,2,cyberpunk,4\n5,2,,5\n",
        encoding="utf-8",
    )
    posters = {p.movie_id: p for p in _split(list(read_dataset(folder)))[0]}
    # Distinct case-insensitively, the most used first, the first spelling kept.
    assert posters["1"].tags == ("pixar", "toys")
    assert posters["2"].tags == ("cyberpunk",)
    assert posters["3"].tags == ()


def test_manifest_words_round_trip(tmp_path: Path) -> None:
    """The optional words survive write_manifest and read_dataset, in CSV and JSONL."""
    from ingest.manifest import write_manifest

    movie = Poster(
        "1",
        "Parasite",
        ("Drama",),
        2019,
        8.5,
        str(tmp_path / "p.jpg"),
        original_title="기생충",
        alternative_titles=("Gisaengchung", "寄生虫"),
        overview="A poor family schemes its way into a rich household.",
        tagline="Act like you own the place.",
        keywords=("class differences", "con artist"),
        tags=("dark comedy",),
    )
    bare = Poster("2", "Heat", (), None, None, str(tmp_path / "h.jpg"))
    for name in ("manifest.csv", "manifest.jsonl"):
        path = tmp_path / name
        write_manifest(path, [movie, bare])
        assert _split(list(read_dataset(path))) == ([movie, bare], [])
    jsonl = (tmp_path / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    assert "overview" not in json.loads(jsonl[1]), "a movie without words writes none"


def test_manifest_words_of_the_wrong_type_reject_the_row(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    rows = [
        {"id": "1", "title": "A", "poster": "a.jpg", "keywords": "heist|casino"},
        {"id": "2", "title": "B", "poster": "b.jpg", "keywords": [1, 2]},
        {"id": "3", "title": "C", "poster": "c.jpg", "overview": ["not", "text"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    posters, rejected = _split(list(read_dataset(path)))
    assert [p.keywords for p in posters] == [("heist", "casino")]
    assert [(r.line, r.raw_id) for r in rejected] == [(2, "2"), (3, "3")]
    assert "bad text" in rejected[0].reason
    assert "bad overview" in rejected[1].reason


BAD_BYTE = b"\xff"


@pytest.mark.parametrize("kind", ["jsonl", "csv", "movielens", "tmdb"])
def test_a_row_that_is_not_utf8_is_skipped_not_fatal(tmp_path: Path, kind: str) -> None:
    """One stray byte (a Latin-1 title, a cut multi-byte character) costs its row only."""
    if kind == "jsonl":
        path = tmp_path / "manifest.jsonl"
        good = [json.dumps({"id": str(i), "title": f"T{i}", "poster": "p.jpg"}) for i in (1, 3)]
        path.write_bytes(
            good[0].encode() + b"\n" + b'{"id": "2", "title": "Caf' + BAD_BYTE + b'", '
            b'"poster": "p.jpg"}\n' + good[1].encode() + b"\n"
        )
        bad_line = 2
    elif kind == "csv":
        path = tmp_path / "manifest.csv"
        path.write_bytes(b"id,title,poster\n1,T1,p.jpg\n2,Caf" + BAD_BYTE + b",p.jpg\n3,T3,p.jpg\n")
        bad_line = 3
    elif kind == "movielens":
        path = tmp_path / "ml"
        path.mkdir()
        (path / "movies.csv").write_bytes(
            b"movieId,title,genres\n1,T1 (1995),Drama\n2,Caf" + BAD_BYTE + b" (1996),Drama\n"
            b"3,T3 (1997),Drama\n"
        )
        bad_line = 3
    else:
        path = tmp_path / "movies_metadata.csv"
        header = b"id,title,genres,release_date,vote_average,vote_count,poster_path\n"
        row = "{},{},[],2000-01-01,7,10,/{}.jpg\n"
        path.write_bytes(
            header + row.format(1, "T1", 1).encode() + row.format(2, "Caf", 2).encode()
            .replace(b"Caf", b"Caf" + BAD_BYTE) + row.format(3, "T3", 3).encode()
        )  # fmt: skip
        bad_line = 3
    posters, rejected = _split(list(read_dataset(path)))
    assert [p.movie_id for p in posters] == ["1", "3"]
    (row_error,) = rejected
    assert row_error.line == bad_line
    assert "not UTF-8" in row_error.reason and "0xff" in row_error.reason


def test_json_nested_too_deep_is_a_skipped_row(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_text(
        "[" * 100_000 + "\n" + json.dumps({"id": "1", "title": "T", "poster": "p"}) + "\n"
    )
    posters, rejected = _split(list(read_dataset(path)))
    assert [p.movie_id for p in posters] == ["1"]
    assert rejected[0].line == 1
