"""Ingest through the encoder service over a real gRPC channel (port 0)."""

from __future__ import annotations

from pathlib import Path

from ingest_doubles import HashEncoder

from encoder_service.client import GrpcEncoder
from encoder_service.server import create_server
from encoder_service.settings import EncoderSettings
from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, run_ingest
from poster_index.edge import EdgePosterIndex


async def test_requests_fit_the_services_message_limit(
    tmp_path: Path, edge_index: EdgePosterIndex
) -> None:
    # Posters of ~75 KB against a 300 KB message limit: a batch of 12 must be split.
    limit = 300_000
    served = HashEncoder(max_batch_size=8, max_message_bytes=limit)
    settings = EncoderSettings(host="127.0.0.1", port=0, max_message_bytes=limit)
    server, port = create_server(settings, encoder=served)
    await server.start()
    client = GrpcEncoder(f"127.0.0.1:{port}")
    try:
        rows = list(read_dataset(generate_synthetic(tmp_path / "synth", 12, seed=4)))
        summary = await run_ingest(
            rows, client, edge_index, IngestOptions(batch_size=12, progress_bar=False)
        )
    finally:
        await client.close()
        await server.stop(None)
    assert summary.ingested == 12
    assert edge_index.count() == 12
    assert sum(served.batch_sizes) == 12
    assert max(served.batch_sizes) <= 3, "each request stays under the message limit"
