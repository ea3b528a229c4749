"""Ingest throughput: a synthetic poster set through the whole path into Qdrant Edge.

Generates (once, cached under bench/out/) COUNT synthetic 500x750 JPEG posters, loads the
in-process encoder, and measures in the same run:

- the naive way on a sample: one poster per encode call, one upsert per poster,
  extrapolated to COUNT;
- the bare encoder: images/s of concurrent full batches of pre-read bytes, no index;
- the ingest worker (read, existence check, encode with several batches in flight,
  batched upserts) over all COUNT posters, then the HNSW build (optimize), so the total is
  the time until every poster is searchable through the graph.

    python bench/bench_ingest.py                         # 80k, tiny-768 model, CPU
    python bench/bench_ingest.py --count 5000 --naive-sample 100
    python bench/bench_ingest.py --limit 10000 --in-flight 8      # a slice of the 80k set
    python bench/bench_ingest.py --model siglip2-base-256 --device cuda --batch-size 256
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import time
from pathlib import Path

from encoder_service.local import LocalEncoder, open_local_encoder
from encoder_service.settings import EncoderSettings
from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, run_ingest
from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter
from postersearch.random_siglip import model_or_random

OUT = Path(__file__).resolve().parent / "out"


def model_path(name: str) -> str:
    """A folder for a random SigLIP shape name (built once), else name as given."""
    return model_or_random(name, OUT / "models")


async def naive(encoder: LocalEncoder, posters: list[Poster], index_dir: Path) -> list[float]:
    """Per-poster seconds of the one-at-a-time loop: read, encode one, upsert one."""
    info = await encoder.info()
    index = EdgePosterIndex(index_dir)
    index.ensure_collection(CollectionModel(info.model_id, info.dimension))
    times = []
    try:
        for poster in posters:
            started = time.perf_counter()
            data = Path(poster.poster).read_bytes()  # noqa: ASYNC240
            (vector,) = await encoder.encode_images([data])
            index.upsert([PosterVector(poster, vector.tolist())])  # type: ignore[union-attr]
            times.append(time.perf_counter() - started)
    finally:
        index.close()
    return times


async def bare_encoder(encoder: LocalEncoder, images: list[bytes], batch: int) -> float:
    """Images/s of the encoder alone, fed full batches concurrently."""
    chunks = [images[i : i + batch] for i in range(0, len(images), batch)]
    started = time.perf_counter()
    await asyncio.gather(*(encoder.encode_images(c) for c in chunks))
    return len(images) / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    data_dir = args.data or OUT / f"synth-{args.count}-seed{args.seed}"
    manifest = generate_synthetic(data_dir, args.count, args.seed)
    print(f"dataset: {args.count} posters in {data_dir} ({time.perf_counter() - started:.0f} s)")
    rows = [r for r in read_dataset(manifest) if isinstance(r, Poster)][: args.limit]
    mean_kb = statistics.mean(Path(p.poster).stat().st_size for p in rows[:500]) / 1024  # noqa: ASYNC240
    settings = EncoderSettings(
        model=model_path(args.model),
        device=args.device,
        max_batch_size=max(args.batch_size, 256),
    )
    loading = time.perf_counter()
    encoder = await open_local_encoder(settings)
    info = await encoder.info()
    print(
        f"encoder: {args.model} ({info.dimension}-d, {info.image_size}px, {info.device}, "
        f"{info.dtype}) loaded in {time.perf_counter() - loading:.1f} s; cores: {os.cpu_count()}"
    )
    work = OUT / "index-bench"
    shutil.rmtree(work, ignore_errors=True)
    try:
        naive_times = await naive(encoder, rows[: args.naive_sample], work / "naive")
        naive_rate = 1.0 / statistics.median(naive_times)
        sample = [Path(p.poster).read_bytes() for p in rows[: args.bare_sample]]  # noqa: ASYNC240
        bare_rate = await bare_encoder(encoder, sample, args.batch_size)

        index = EdgePosterIndex(work / "ingest")
        t0, c0 = time.perf_counter(), time.process_time()
        summary = await run_ingest(
            rows,
            encoder,
            index,
            IngestOptions(batch_size=args.batch_size, in_flight=args.in_flight, log_every_s=15),
        )
        t_ingest, c_ingest = time.perf_counter() - t0, time.process_time() - c0
        index.optimize()
        t_total, c_total = time.perf_counter() - t0, time.process_time() - c0
        stored = index.count()
        probe = index.get_vector(rows[-1].movie_id)
        assert probe is not None
        hits = index.search(probe, SearchFilter(), limit=1)
        assert hits and hits[0].poster.movie_id == rows[-1].movie_id
        index.close()
    finally:
        await encoder.close()

    n = len(rows)
    rate = summary.ingested / t_ingest
    print()
    print(
        f"posters: {n}, mean {mean_kb:.0f} KB; batch {args.batch_size}, in flight {args.in_flight}"
    )
    print(f"{'path':<46} {'posters/s':>10} {'time for all':>14} {'CPU time':>10}")
    naive_label = f"naive loop (median of {len(naive_times)}, extrapolated)"
    print(f"{naive_label:<46} {naive_rate:>10.1f} {n / naive_rate:>12.0f} s")
    bare_label = f"bare encoder, batches of {args.batch_size} (no index)"
    print(f"{bare_label:<46} {bare_rate:>10.1f} {n / bare_rate:>12.0f} s")
    label = "ingest worker (read, encode, upsert)"
    print(f"{label:<46} {rate:>10.1f} {t_ingest:>12.0f} s {c_ingest:>8.0f} s")
    label, build, c_build = (
        "  + HNSW build until searchable",
        t_total - t_ingest,
        c_total - c_ingest,
    )
    print(f"{label:<46} {'':>10} {build:>12.0f} s {c_build:>8.0f} s")
    label = "ingest total, every poster searchable"
    print(f"{label:<46} {n / t_total:>10.1f} {t_total:>12.0f} s {c_total:>8.0f} s")
    print()
    print(
        f"ingest vs naive: {rate / naive_rate:.1f}x posters/s, "
        f"{(n / naive_rate) / t_total:.1f}x less time to searchable"
    )
    print(f"ingest vs bare encoder: {rate / bare_rate:.2f} of the encoder's throughput")
    print(f"stored {stored} points; summary: {summary.describe()}")
    # CPU time is that of this process (all its threads); on a machine shared with other
    # jobs it shows the work done, where wall time also shows the waiting.
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=80_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help="synthetic set folder (default bench/out/)")
    parser.add_argument("--model", default="tiny-768", help="shape name or model folder/id")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--limit", type=int, help="ingest only the first LIMIT posters of the set")
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--bare-sample", type=int, default=2048)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # The model loaders' INFO lines are noise here; the ingest progress lines are not.
    for noisy in ("httpx", "sentence_transformers", "transformers", "encoder_service"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(main(parser.parse_args()))
