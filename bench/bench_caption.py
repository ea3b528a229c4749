"""Captioning throughput: synthetic posters captioned into a Qdrant Edge index.

Generates (once, cached under bench/out/) COUNT synthetic 500x750 JPEG posters, stores them
in an Edge index with placeholder vectors, loads a captioning model and measures in the
same run:

- the naive way on a sample: per poster, read, decode, caption it alone, write its payload;
- the captioning run (``poster-search caption``'s code): pages of BATCH posters decoded
  while the previous page is captioned as one batch, one payload update per page.

Both are extrapolated to 80,000 posters. A shape name (tiny, blip-base, blip-large) builds
that BLIP architecture with random weights. Every caption is made exactly --caption-tokens
long (a random decoder would stop anywhere): speed does not depend on the weights, so the
figure holds for the real checkpoint writing captions of that length.

    python bench/bench_caption.py                                # blip-base, CPU, 32 posters
    python bench/bench_caption.py --model blip-large --device cuda --count 2048 --batch-size 64
    python bench/bench_caption.py --model Salesforce/blip2-opt-2.7b --device cuda  # real one
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

from encoder_service.model import dtype_name
from ingest.caption import CaptionOptions, run_caption
from ingest.caption_config import CaptionerConfig
from ingest.captioner import Captioner, decode_poster
from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from poster_index.edge import EdgePosterIndex
from poster_index.payload import FIELD_CAPTION
from postersearch.domain import CollectionModel, Poster, PosterVector
from postersearch.random_captioner import captioner_or_random

OUT = Path(__file__).resolve().parent / "out"
TARGET = 80_000
_DIM = 8


def _store(index_dir: Path, posters: list[Poster]) -> None:
    shutil.rmtree(index_dir, ignore_errors=True)
    index = EdgePosterIndex(index_dir)
    try:
        index.ensure_collection(CollectionModel("bench/placeholder", _DIM))
        vector = [1.0] + [0.0] * (_DIM - 1)
        index.upsert([PosterVector(p, vector) for p in posters])
    finally:
        index.close()


def naive(captioner: Captioner, posters: list[Poster], index_dir: Path) -> list[float]:
    """Per-poster seconds of the one-at-a-time loop."""
    _store(index_dir, posters)
    index = EdgePosterIndex(index_dir)
    times = []
    try:
        for poster in posters:
            started = time.perf_counter()
            image = decode_poster(Path(poster.poster).read_bytes())
            assert not isinstance(image, str), image
            (caption,) = captioner.caption([image])
            index.set_payload_field(FIELD_CAPTION, {poster.movie_id: caption})
            times.append(time.perf_counter() - started)
    finally:
        index.close()
    return times


def warm_up(captioner: Captioner, posters: list[Poster]) -> None:
    """One batch of the run's size, so kernels and allocator are warm for both paths."""
    images = [decode_poster(Path(p.poster).read_bytes()) for p in posters]
    captioner.caption([img for img in images if not isinstance(img, str)])


async def main(args: argparse.Namespace) -> None:
    data_dir = args.data or OUT / f"synth-{args.count}-{args.seed}"
    manifest = generate_synthetic(data_dir, args.count, seed=args.seed)
    posters = [p for p in read_dataset(manifest) if isinstance(p, Poster)]
    model = captioner_or_random(args.model, OUT / "captioners")
    tokens = args.caption_tokens
    config = CaptionerConfig(
        model=model, device=args.device, max_new_tokens=tokens, min_new_tokens=tokens
    )
    started = time.perf_counter()
    captioner = Captioner(config)
    print(
        f"model {args.model} on {captioner.device} ({dtype_name(captioner.dtype)}), "
        f"loaded in {time.perf_counter() - started:.1f} s; {len(posters)} posters, "
        f"captions of {args.caption_tokens} tokens"
    )
    work = OUT / "bench-caption"
    sample = posters[: args.naive_sample]
    warm_up(captioner, posters[: args.batch_size])

    naive_times = naive(captioner, sample, work / "naive")
    naive_rate = 1.0 / statistics.median(naive_times)

    _store(work / "run", posters)
    index = EdgePosterIndex(work / "run")
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = await run_caption(
            index,
            captioner,
            CaptionOptions(batch_size=args.batch_size, progress_bar=False, log_every_s=30),
        )
        t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
        assert summary.captioned == len(posters), summary.describe()
        assert index.count_missing(FIELD_CAPTION) == 0
    finally:
        index.close()
    rate = summary.captioned / t_run

    print()
    print(f"{'path':<48} {'posters/s':>10} {'80k posters':>12} {'CPU time':>10}")
    label = f"naive loop (median of {len(naive_times)})"
    print(f"{label:<48} {naive_rate:>10.2f} {TARGET / naive_rate / 60:>10.1f} min")
    label = f"caption run, batches of {args.batch_size}"
    print(
        f"{label:<48} {rate:>10.2f} {TARGET / rate / 60:>10.1f} min {c_run:>8.1f} s"
        f"  ({t_run:.1f} s for {summary.captioned})"
    )
    print()
    print(f"caption run vs naive: {rate / naive_rate:.1f}x posters/s")
    print(f"summary: {summary.describe()}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help="synthetic set folder (default bench/out/)")
    parser.add_argument("--model", default="blip-base", help="shape name or model folder/id")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--caption-tokens", type=int, default=20)
    parser.add_argument("--naive-sample", type=int, default=8)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("httpx", "transformers", "ingest.captioner"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(main(parser.parse_args()))
