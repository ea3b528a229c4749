"""The captioning run against both index backends, with a tiny random BLIP loaded from disk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from caption_samples import store, vector_of, write_posters
from PIL import Image
from qdrant_client import QdrantClient

from ingest.caption import CaptionOptions, NoCollectionError, locate_poster, run_caption
from ingest.caption_config import CaptionerConfig, CaptionerError
from ingest.captioner import Captioner, decode_poster
from poster_index.base import PosterIndex
from poster_index.edge import EdgePosterIndex
from poster_index.lexical import lexical_query
from poster_index.payload import FIELD_CAPTION
from poster_index.remote import ServerPosterIndex
from postersearch.domain import Poster, SearchFilter

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]


@pytest.fixture(scope="module")
def captioner(tiny_captioner_dir: Path) -> Captioner:
    return Captioner(CaptionerConfig(model=str(tiny_captioner_dir), device="cpu"))


@pytest.fixture(params=["edge", "server"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PosterIndex]:
    idx: PosterIndex
    if request.param == "edge":
        idx = EdgePosterIndex(tmp_path / "index")
    else:
        idx = ServerPosterIndex(QdrantClient(location=":memory:"))
    yield idx
    idx.close()


def _options(tmp_path: Path, **fields: object) -> CaptionOptions:
    defaults: dict[str, object] = {
        "batch_size": 4,
        "report_path": tmp_path / "report.jsonl",
        "progress_bar": False,
    }
    defaults.update(fields)
    return CaptionOptions(**defaults)  # type: ignore[arg-type]


def _alone(captioner: Captioner, poster: Poster) -> str:
    with Image.open(poster.poster) as img:
        return captioner.caption([img.convert("RGB")])[0]


def test_every_poster_gets_its_own_caption_and_keeps_its_vector(
    index: PosterIndex, captioner: Captioner, tmp_path: Path
) -> None:
    posters = write_posters(tmp_path / "posters", 10)
    store(index, posters)

    summary = asyncio.run(run_caption(index, captioner, _options(tmp_path)))

    assert summary.captioned == 10 and summary.failed_total == 0
    assert index.count_missing(FIELD_CAPTION) == 0
    captions = {}
    for i, poster in enumerate(posters):
        stored = index.get_poster(poster.movie_id)
        assert stored is not None and stored.caption
        # The caption is this poster's: the model captioning its image alone writes it.
        assert stored.caption == _alone(captioner, poster)
        assert stored.title == poster.title and stored.poster == poster.poster
        assert np.allclose(index.get_vector(poster.movie_id) or [], vector_of(i), atol=1e-6)
        captions[poster.movie_id] = stored.caption
    assert len(set(captions.values())) > 1, "the random model should follow the pixels"


def test_a_second_run_captions_only_posters_without_one(
    index: PosterIndex, captioner: Captioner, tmp_path: Path
) -> None:
    posters = write_posters(tmp_path / "posters", 6)
    store(index, posters[:4])
    asyncio.run(run_caption(index, captioner, _options(tmp_path)))
    before = {p.movie_id: index.get_poster(p.movie_id) for p in posters[:4]}
    store(index, posters[4:])

    summary = asyncio.run(run_caption(index, captioner, _options(tmp_path)))

    assert (summary.captioned, summary.already_captioned) == (2, 4)
    assert {p.movie_id: index.get_poster(p.movie_id) for p in posters[:4]} == before
    assert index.count_missing(FIELD_CAPTION) == 0


def test_unreadable_posters_are_reported_and_tried_again(
    index: PosterIndex, captioner: Captioner, tmp_path: Path
) -> None:
    posters = write_posters(tmp_path / "posters", 6)
    Path(posters[1].poster).write_bytes(b"this is not a jpeg")
    good = Path(posters[2].poster).read_bytes()
    Path(posters[2].poster).write_bytes(good[: len(good) // 3])  # truncated
    Path(posters[3].poster).unlink()
    store(index, posters)

    summary = asyncio.run(run_caption(index, captioner, _options(tmp_path)))

    assert summary.captioned == 3
    assert dict(summary.failed) == {"undecodable": 2, "missing_file": 1}
    lines = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert {r["movie_id"]: r["reason"] for r in lines} == {
        "m0001": "undecodable",
        "m0002": "undecodable",
        "m0003": "missing_file",
    }
    assert all(r["detail"] and r["poster"] for r in lines)
    for bad in ("m0001", "m0002", "m0003"):
        stored = index.get_poster(bad)
        assert stored is not None and stored.caption is None
    assert index.count_missing(FIELD_CAPTION) == 3

    # Fixed on disk, the next run captions exactly those.
    Path(posters[3].poster).write_bytes(good)
    again = asyncio.run(run_caption(index, captioner, _options(tmp_path)))
    assert (again.captioned, again.failed_total, again.already_captioned) == (1, 2, 3)


def test_a_batch_the_model_fails_on_is_retried_poster_by_poster(
    index: PosterIndex, captioner: Captioner, tmp_path: Path
) -> None:
    posters = write_posters(tmp_path / "posters", 4)
    store(index, posters)
    # A poster the model cannot take: its pixels are fine, its size breaks the batch.
    bad = Image.new("RGB", (40, 60))

    class OneBadPoster:
        def caption(self, images: Sequence[Image.Image]) -> list[str]:
            if any(img.size == bad.size for img in images):
                raise RuntimeError("the model cannot take this image")
            return captioner.caption(images)

    bad.save(posters[2].poster, "JPEG")
    summary = asyncio.run(run_caption(index, OneBadPoster(), _options(tmp_path)))

    assert summary.captioned == 3 and dict(summary.failed) == {"caption_failed": 1}
    stored = index.get_poster(posters[2].movie_id)
    assert stored is not None and stored.caption is None


def test_no_collection_is_refused(tmp_path: Path, captioner: Captioner) -> None:
    index = EdgePosterIndex(tmp_path / "nothing")
    with pytest.raises(NoCollectionError):
        asyncio.run(run_caption(index, captioner, _options(tmp_path)))


def test_a_folder_that_is_no_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CaptionerError, match="cannot load the captioning model"):
        Captioner(CaptionerConfig(model=str(tmp_path), device="cpu"))


def test_a_prompt_prefix_is_not_stored(tiny_captioner_dir: Path) -> None:
    prompted = Captioner(
        CaptionerConfig(model=str(tiny_captioner_dir), device="cpu", prompt="a poster")
    )
    image = Image.new("RGB", (32, 48), (200, 30, 30))
    caption = prompted.caption([image])[0]
    assert not caption.lower().startswith("a poster")


def test_relative_posters_are_found_under_the_roots(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.jpg").write_bytes(b"x")
    roots = (tmp_path / "a", tmp_path / "b")
    assert locate_poster("x.jpg", roots) == str(tmp_path / "b" / "x.jpg")
    assert locate_poster("y.jpg", roots) == str(tmp_path / "a" / "y.jpg")
    assert locate_poster("/abs/z.jpg", roots) == "/abs/z.jpg"
    assert locate_poster("https://h/z.jpg", roots) == "https://h/z.jpg"


def test_decode_reports_what_is_wrong() -> None:
    assert "not an image" in str(decode_poster(b"nope"))
    assert "empty" in str(decode_poster(b""))


def test_large_posters_wait_in_the_queue_at_most_1024_px(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 4500), (10, 20, 30)).save(path, "JPEG")
    image = decode_poster(path.read_bytes())
    assert isinstance(image, Image.Image)
    assert image.size == (683, 1024) and image.mode == "RGB"


def test_captions_are_words_that_text_search_finds(
    index: PosterIndex, captioner: Captioner, tmp_path: Path
) -> None:
    """A caption written after ingest joins the movie's words for lexical search."""
    posters = write_posters(tmp_path / "posters", 6)
    store(index, posters)
    asyncio.run(run_caption(index, captioner, _options(tmp_path)))
    for poster in posters:
        stored = index.get_poster(poster.movie_id)
        assert stored is not None and stored.caption
        hits = index.text_search(lexical_query(stored.caption), SearchFilter(), limit=6)
        assert poster.movie_id in [h.poster.movie_id for h in hits]
