"""The index calls a sync needs, on Qdrant Edge and qdrant-client's local mode alike.

Hashes recorded with each point, payload replaced with the vector kept, delete by id, the
list of every stored movie, and the caption that belongs to the index, not to the dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from index_samples import IndexFactory, unit_vector

from poster_index.base import PayloadUpdate, PosterIndex, StoredContent
from poster_index.edge import EdgePosterIndex
from poster_index.payload import FIELD_CAPTION, metadata_hash, point_id
from poster_index.remote import ServerPosterIndex
from postersearch.domain import Poster, PosterVector

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]


def _set_caption(index: PosterIndex, movie_id: str, caption: str) -> None:
    """What the captioning step does: a payload field written straight into Qdrant."""
    if isinstance(index, EdgePosterIndex):
        import qdrant_edge as edge

        shard = index._ready()
        shard.update(
            edge.UpdateOperation.set_payload([point_id(movie_id)], {FIELD_CAPTION: caption})
        )
        shard.flush()
    else:
        assert isinstance(index, ServerPosterIndex)
        index._client.set_payload(
            index._collection, {FIELD_CAPTION: caption}, points=[point_id(movie_id)], wait=True
        )


def _caption(index: PosterIndex, movie_id: str) -> object:
    record: Any
    if isinstance(index, EdgePosterIndex):
        (record,) = index._ready().retrieve([point_id(movie_id)], True, False)
    else:
        assert isinstance(index, ServerPosterIndex)
        (record,) = index._client.retrieve(index._collection, [point_id(movie_id)])
    return (record.payload or {}).get(FIELD_CAPTION)


def test_hashes_are_recorded_with_the_point(
    index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    poster = make_poster(movie_id="1", title="One")
    index.upsert([PosterVector(poster, unit_vector(1))], image_hashes={"1": "img-1"})
    unhashed = make_poster(movie_id="2")
    index.upsert([PosterVector(unhashed, unit_vector(2))])
    assert index.stored_content(["1", "2", "3"]) == {
        "1": StoredContent(metadata_hash(poster), "img-1"),
        "2": StoredContent(metadata_hash(unhashed), None),
    }


def test_metadata_hash_follows_every_payload_field(make_poster: Callable[..., Poster]) -> None:
    poster = make_poster(movie_id="1", title="One", genres=("Drama",), year=1999, rating=7.0)
    same = metadata_hash(poster)
    assert metadata_hash(replace(poster)) == same
    for changed in (
        replace(poster, title="Two"),
        replace(poster, genres=("Drama", "Crime")),
        replace(poster, year=2000),
        replace(poster, year=None),
        replace(poster, rating=7.1),
        replace(poster, poster="/elsewhere.jpg"),
    ):
        assert metadata_hash(changed) != same


def test_payload_update_keeps_the_vector(
    open_backend: IndexFactory, index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    old = make_poster(movie_id="1", title="Old", year=1999, rating=5.0)
    index.upsert([PosterVector(old, unit_vector(3))], image_hashes={"1": "img"})
    new = replace(old, title="New", year=None, rating=8.5, genres=("Horror",))
    index.update_payloads(
        [PayloadUpdate(new, "img"), PayloadUpdate(make_poster(movie_id="9"), "x")]
    )
    assert index.get_poster("1") == new  # the year left the dataset, so it left the payload
    vector = index.get_vector("1")
    assert vector is not None and vector == pytest.approx(unit_vector(3), abs=1e-6)
    assert index.stored_content(["1"])["1"] == StoredContent(metadata_hash(new), "img")
    assert index.existing_ids(["9"]) == set()  # an update never creates a point
    assert index.count() == 1


def test_caption_survives_updates_and_re_encodes(
    index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    poster = make_poster(movie_id="1", title="Old")
    index.upsert([PosterVector(poster, unit_vector(1))], image_hashes={"1": "a"})
    _set_caption(index, "1", "a red face on black")
    index.update_payloads([PayloadUpdate(replace(poster, title="New"), "a")])
    assert _caption(index, "1") == "a red face on black"
    index.upsert([PosterVector(replace(poster, title="Newer"), unit_vector(2))], {"1": "b"})
    assert _caption(index, "1") == "a red face on black"
    assert index.get_poster("1") == replace(poster, title="Newer", caption="a red face on black")


def test_delete_by_id_and_list_every_id(
    open_backend: IndexFactory, index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    index.upsert([PosterVector(make_poster(movie_id=str(i)), unit_vector(i)) for i in range(1, 6)])
    assert index.movie_ids() == {"1", "2", "3", "4", "5"}
    assert index.delete(["2", "4", "404"]) == {"2", "4"}
    assert index.delete(["2"]) == set()  # deleting again is a no-op
    assert index.movie_ids() == {"1", "3", "5"}
    assert index.count() == 3
    assert index.get_poster("2") is None


def test_many_ids_are_listed_past_one_page(
    index: PosterIndex, make_poster: Callable[..., Poster]
) -> None:
    posters = [
        PosterVector(make_poster(movie_id=f"m{i}"), unit_vector(1 + i % 8)) for i in range(2500)
    ]
    for start in range(0, len(posters), 500):
        index.upsert(posters[start : start + 500])
    assert index.movie_ids() == {f"m{i}" for i in range(2500)}
    assert len(index.stored_content([f"m{i}" for i in range(0, 2500, 2)])) == 1250
