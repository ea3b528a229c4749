"""The whole path with the real in-process encoder (tiny random SigLIP) into Qdrant Edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoder_service.local import open_local_encoder
from encoder_service.settings import EncoderSettings
from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, run_ingest
from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster, SearchFilter


async def test_synthetic_posters_through_the_local_encoder(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    manifest = generate_synthetic(tmp_path / "synth", 40, seed=5)
    (tmp_path / "synth" / "posters" / "000" / "synth-000003.jpg").write_bytes(b"not a jpeg")
    rows = list(read_dataset(manifest))
    settings = EncoderSettings(model=str(tiny_model_dir), device="cpu", decode_workers=2)
    encoder = await open_local_encoder(settings)
    index = EdgePosterIndex(tmp_path / "index")
    try:
        info = await encoder.info()
        summary = await run_ingest(
            rows,
            encoder,
            index,
            IngestOptions(batch_size=16, in_flight=2, report_path=tmp_path / "r.jsonl"),
        )
        assert (summary.ingested, dict(summary.skipped)) == (39, {"undecodable": 1})
        assert index.collection_model() == CollectionModel(info.model_id, info.dimension)
        assert index.count() == 39

        # The stored vector is the encoder's vector of that poster: searching with it
        # finds the poster itself first.
        poster = next(p for p in rows if isinstance(p, Poster) and p.movie_id == "synth-000007")
        (vector,) = await encoder.encode_images([Path(poster.poster).read_bytes()])  # noqa: ASYNC240
        assert isinstance(vector, np.ndarray)
        hits = index.search(vector.tolist(), SearchFilter(), limit=3)
        assert hits[0].poster == poster
        assert abs(hits[0].score - 1.0) < 1e-3
    finally:
        await encoder.close()
        index.close()
