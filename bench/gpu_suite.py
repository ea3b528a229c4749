"""The GPU suite: the encoder, an 80k ingest until searchable, and end-to-end Search, in one run.

On one CUDA GPU, with the real architecture of the default model (SigLIP2 B/16-256, random
weights, bfloat16: speed does not depend on the weights), it measures:

1. encoder: posters/s of ~100 KB 500x750 JPEG posters through the bare tower (pixels
   decoded beforehand), through the in-process encoder that embedded ingest calls
   (``LocalEncoder.encode_images``, full batches in flight) and through gRPC
   ``EncodeImages`` (one client keeping as many batches in flight as the ingest part
   does), each of the last two with nvJPEG and with Pillow decoding;
2. ingest: 80,000 synthetic posters through the ingest worker and the gRPC encoder into a
   fresh Qdrant Edge index, then the HNSW build, until every poster is searchable: time,
   posters/s, and GPU utilisation sampled every half second;
3. search: ``SearchService/Search`` end to end over gRPC on that collection (a client in
   another process, every request its own text and one of five filters), p50 and p99 at
   1 and 32 clients.

It writes OUT/gpu_suite.json and OUT/gpu_suite.txt (the same table it prints) and checks
the targets on one H100/H200-class GPU: >= 4,000 posters/s through gRPC and >= 73% of the
bare tower; all 80k searchable <= 30 s after ingest starts; Search p50 <= 10 ms at 1 client.

    python bench/gpu_suite.py                      # one CUDA GPU, about 5-8 minutes
    python bench/gpu_suite.py --distinct 80000     # 80k distinct poster files (slower to make)
    python bench/gpu_suite.py --dry-run            # CPU, tiny sizes: that every part runs

The 80k rows reuse --distinct poster files (10,000 by default, rendered once and cached),
each row its own movie, so that making the set does not eat the time budget; every row is
still read, decoded and encoded.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from bench_encoder import bare_decode, grpc_images, make_posters, model_only
from bench_search import run_grpc, summarise, texts

from encoder_service.client import GrpcEncoder
from encoder_service.local import LocalEncoder
from encoder_service.model import ModelRuntime, dtype_name, resolve_device
from encoder_service.server import create_server as create_encoder_server
from encoder_service.settings import EncoderSettings
from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, run_ingest
from poster_index.edge import EdgePosterIndex
from postersearch.domain import Poster, SearchFilter
from postersearch.random_siglip import model_or_random
from search_service.core import PosterSearch
from search_service.server import create_server as create_search_server
from search_service.settings import SearchSettings

OUT = Path(__file__).resolve().parent / "out"
# The encoder rows of the gRPC service: concurrent unary calls from one client.
GRPC_PATH = "gRPC EncodeImages"
TARGET_GRPC_RATE = 4000.0
TARGET_GRPC_SHARE = 0.73
TARGET_SEARCHABLE_S = 30.0
TARGET_SEARCH_P50_MS = 10.0


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each part of the suite is."""

    model: str
    device: str
    encoder_posters: int
    batch: int
    repeats: int
    ingest_rows: int
    distinct: int
    in_flight: int
    search_requests: int
    clients: tuple[int, ...]


FULL = Sizes(
    model="siglip2-base-256",
    device="cuda",
    encoder_posters=4096,
    batch=256,
    repeats=3,
    ingest_rows=80_000,
    distinct=10_000,
    in_flight=8,
    search_requests=400,
    clients=(1, 32),
)
# Every part, on the CPU, small enough for a test.
DRY_RUN = Sizes(
    model="tiny",
    device="cpu",
    encoder_posters=16,
    batch=8,
    repeats=1,
    ingest_rows=120,
    distinct=30,
    in_flight=2,
    search_requests=20,
    clients=(1, 32),
)


class GpuSampler:
    """Samples GPU utilisation (percent) every interval_s in a thread while running."""

    def __init__(self, device: str, interval_s: float = 0.5) -> None:
        self._index = torch.device(device).index or 0
        self._enabled = device.startswith("cuda") and torch.cuda.is_available()
        self._interval_s = interval_s
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> float | None:
        try:
            return float(torch.cuda.utilization(self._index))
        except Exception:  # without pynvml torch cannot say: ask nvidia-smi
            pass
        try:
            done = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-i", str(self._index)],
                capture_output=True, text=True, timeout=5, check=True,
            )  # fmt: skip
            return float(done.stdout.split()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            value = self._read()
            if value is not None:
                self._samples.append(value)

    def __enter__(self) -> GpuSampler:
        if self._enabled:
            self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self) -> dict[str, Any]:
        """Mean and max utilisation and the sample count; None values without samples."""
        if not self._samples:
            return {"samples": 0, "mean_pct": None, "max_pct": None}
        return {
            "samples": len(self._samples),
            "mean_pct": statistics.fmean(self._samples),
            "max_pct": max(self._samples),
        }


async def in_process_images(encoder: LocalEncoder, posters: list[bytes], batch: int) -> float:
    """Seconds for the in-process encoder on every poster, all full batches in flight."""
    chunks = [posters[i : i + batch] for i in range(0, len(posters), batch)]
    started = time.perf_counter()
    results = await asyncio.gather(*(encoder.encode_images(c) for c in chunks))
    elapsed = time.perf_counter() - started
    encoded = sum(isinstance(o, np.ndarray) for outcomes in results for o in outcomes)
    if encoded != len(posters):
        raise RuntimeError(f"only {encoded} of {len(posters)} posters got vectors")
    return elapsed


async def encoder_part(
    runtime: ModelRuntime, settings: EncoderSettings, sizes: Sizes
) -> list[dict[str, Any]]:
    """posters/s of the bare tower, the in-process encoder and gRPC, nvJPEG on and off."""
    posters = make_posters(sizes.encoder_posters)
    decoded = {p: bare_decode(p, runtime.image.size) for p in set(posters)}
    pixels = [decoded[p] for p in posters]
    n, batch = len(posters), sizes.batch
    model_only(runtime, pixels[:batch], batch)
    bare = [model_only(runtime, pixels, batch) for _ in range(sizes.repeats)]
    rows = [{"path": "bare tower (pixels decoded beforehand)", "jpeg": "-",
             "posters_per_s": n / statistics.median(bare)}]  # fmt: skip
    for gpu_jpeg in (True, False):
        encoder = LocalEncoder(runtime, settings.model_copy(update={"gpu_jpeg": gpu_jpeg}))
        if gpu_jpeg and not encoder.gpu_jpeg:
            await encoder.close()
            rows.append({"path": "in-process and gRPC", "jpeg": "nvJPEG", "posters_per_s": None,
                         "note": "unavailable here: needs CUDA and torchvision"})  # fmt: skip
            continue
        decoder = "nvJPEG" if gpu_jpeg else "Pillow"
        server, port = create_encoder_server(settings, encoder)
        await server.start()
        client = GrpcEncoder(f"127.0.0.1:{port}", timeout_s=600)
        try:
            await in_process_images(encoder, posters[:batch], batch)
            await grpc_images(client, posters[:batch], batch, sizes.in_flight)
            local, remote = [], []
            for _ in range(sizes.repeats):
                local.append(await in_process_images(encoder, posters, batch))
                remote.append(await grpc_images(client, posters, batch, sizes.in_flight))
        finally:
            await client.close()
            await server.stop(0)
            await encoder.close()
        rows.append({"path": "in-process encode_images (embedded ingest)", "jpeg": decoder,
                     "posters_per_s": n / statistics.median(local)})  # fmt: skip
        rows.append({"path": GRPC_PATH, "jpeg": decoder, "in_flight": sizes.in_flight,
                     "posters_per_s": n / statistics.median(remote)})  # fmt: skip
    bare_rate = rows[0]["posters_per_s"]
    for row in rows:
        if row["posters_per_s"] is not None:
            row["share_of_bare"] = row["posters_per_s"] / bare_rate
    return rows


def ingest_rows(sizes: Sizes, cache: Path) -> list[Poster]:
    """ingest_rows posters, each its own movie, over the first --distinct poster files."""
    started = time.perf_counter()
    manifest = generate_synthetic(cache / f"synth-{sizes.distinct}-seed0", sizes.distinct)
    print(f"poster files: {sizes.distinct} in {time.perf_counter() - started:.0f} s", flush=True)
    files = [r for r in read_dataset(manifest) if isinstance(r, Poster)]
    rows = []
    for i in range(sizes.ingest_rows):
        base = files[i % len(files)]
        copy = i // len(files)
        rows.append(
            base
            if copy == 0
            else dataclasses.replace(
                base, movie_id=f"{base.movie_id}-{copy}", title=f"{base.title} {copy + 1}"
            )
        )
    return rows


async def ingest_part(
    encoder: LocalEncoder, settings: EncoderSettings, sizes: Sizes, cache: Path, index_dir: Path
) -> tuple[dict[str, Any], EdgePosterIndex]:
    """The ingest worker over gRPC into a fresh Edge index, then the HNSW build."""
    rows = await asyncio.to_thread(ingest_rows, sizes, cache)
    shutil.rmtree(index_dir, ignore_errors=True)
    index = EdgePosterIndex(index_dir)
    server, port = create_encoder_server(settings, encoder)
    await server.start()
    client = GrpcEncoder(f"127.0.0.1:{port}", timeout_s=600)
    options = IngestOptions(batch_size=sizes.batch, in_flight=sizes.in_flight,
                            progress_bar=False, log_every_s=10)  # fmt: skip
    try:
        with GpuSampler(sizes.device) as sampler:
            started = time.perf_counter()
            summary = await run_ingest(rows, client, index, options)
            ingested_s = time.perf_counter() - started
            await asyncio.to_thread(index.optimize)
            searchable_s = time.perf_counter() - started
    finally:
        await client.close()
        await server.stop(0)
    # Rows sharing a poster file share its vector: the last row is among its copies.
    last, copies = rows[-1].movie_id, -(-len(rows) // sizes.distinct)
    vector = index.get_vector(last)
    hits = index.search(vector, SearchFilter(), limit=copies + 1) if vector is not None else []
    if index.count() != len(rows) or last not in {h.poster.movie_id for h in hits}:
        raise RuntimeError(f"after ingest the index holds {index.count()} of {len(rows)} posters")
    result = {
        "rows": len(rows),
        "distinct_files": sizes.distinct,
        "ingested": summary.ingested,
        "ingest_s": ingested_s,
        "hnsw_build_s": searchable_s - ingested_s,
        "searchable_s": searchable_s,
        "posters_per_s": len(rows) / searchable_s,
        "gpu_utilisation": sampler.summary(),
    }
    return result, index


async def search_part(
    encoder: LocalEncoder, index: EdgePosterIndex, sizes: Sizes
) -> list[dict[str, Any]]:
    """gRPC Search end to end from a client process, at each client count."""
    settings = SearchSettings(host="127.0.0.1", port=0)
    search = PosterSearch(encoder, index, settings)
    server, port = create_search_server(settings, search)
    await server.start()
    target = f"127.0.0.1:{port}"
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    rows = []
    try:
        await run_grpc(pool, target, 4, texts("warm", max(20, sizes.search_requests // 10)))
        for clients in sizes.clients:
            requests = sizes.search_requests * (1 if clients == 1 else 4)
            run = await run_grpc(pool, target, clients, texts(f"suite-{clients}", requests))
            rows.append(summarise("gRPC Search", clients, [run]))
    finally:
        pool.shutdown()
        await server.stop(0)
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(result: dict[str, Any]) -> str:
    """The suite's figures as text, with each target's verdict on a GPU run."""
    meta = result["meta"]
    lines = [
        f"GPU suite {meta['date']}: {meta['hardware']}, torch {meta['torch']}, "
        f"{meta['model']} ({meta['dtype']}), load average {meta['load_average']:.1f}"
        + (" [DRY RUN: tiny sizes on the CPU, figures mean nothing]" if meta["dry_run"] else ""),
        f"encoder: {meta['encoder']}",
        "",
        f"{'encoder path':<46}{'JPEG':>8}{'posters/s':>12}{'of bare':>9}",
    ]
    for row in result["encoder"]:
        share = row.get("share_of_bare")
        path = row["path"] + (f", {row['in_flight']} in flight" if "in_flight" in row else "")
        lines.append(
            f"{path:<46}{row['jpeg']:>8}{_fmt(row['posters_per_s'], '.1f'):>12}"
            f"{_fmt(share, '.2f'):>9}" + (f"  ({row['note']})" if "note" in row else "")
        )
    ingest = result["ingest"]
    gpu = ingest["gpu_utilisation"]
    lines += [
        "",
        f"ingest: {ingest['rows']} posters ({ingest['distinct_files']} distinct files), gRPC "
        f"encoder, Qdrant Edge: ingest {ingest['ingest_s']:.1f} s + HNSW build "
        f"{ingest['hnsw_build_s']:.1f} s = all searchable after {ingest['searchable_s']:.1f} s, "
        f"{ingest['posters_per_s']:.0f} posters/s",
        f"GPU utilisation during ingest: mean {_fmt(gpu['mean_pct'], '.0f')}%, max "
        f"{_fmt(gpu['max_pct'], '.0f')}% ({gpu['samples']} samples)",
        "",
        f"{'search':<14}{'clients':>8}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'req/s':>9}",
    ]
    for row in result["search"]:
        lines.append(
            f"{row['mode']:<14}{row['clients']:>8}{row['requests']:>10}{row['errors']:>8}"
            f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['rps']:>9.1f}"
        )
    if not meta["dry_run"]:
        lines += ["", "targets:"]
        lines += [f"  {'met   ' if ok else 'MISSED'} {what}" for what, ok in result["targets"]]
    lines.append(f"suite time: {meta['elapsed_s']:.0f} s")
    return "\n".join(lines)


def targets(result: dict[str, Any]) -> list[tuple[str, bool]]:
    """Each target of one H100/H200-class GPU, and whether this run met it."""
    grpc_jpeg = [
        r for r in result["encoder"] if r["path"] == GRPC_PATH and r["posters_per_s"] is not None
    ]
    best = max(grpc_jpeg, key=lambda r: r["posters_per_s"])
    one_client = next(r for r in result["search"] if r["clients"] == 1)
    searchable = result["ingest"]["searchable_s"]
    return [
        (f">= {TARGET_GRPC_RATE:.0f} posters/s through gRPC ({best['posters_per_s']:.0f}, "
         f"{best['jpeg']})", best["posters_per_s"] >= TARGET_GRPC_RATE),
        (f">= {TARGET_GRPC_SHARE:.0%} of the bare tower through gRPC "
         f"({best['share_of_bare']:.0%})", best["share_of_bare"] >= TARGET_GRPC_SHARE),
        (f"every poster searchable <= {TARGET_SEARCHABLE_S:.0f} s after ingest starts "
         f"({searchable:.1f} s)", searchable <= TARGET_SEARCHABLE_S),
        (f"Search p50 <= {TARGET_SEARCH_P50_MS:.0f} ms at 1 client "
         f"({one_client['p50_ms']:.2f} ms)", one_client["p50_ms"] <= TARGET_SEARCH_P50_MS),
    ]  # fmt: skip


async def run(sizes: Sizes, dry_run: bool, out: Path, cache: Path) -> dict[str, Any]:
    """Runs the three parts and writes out/gpu_suite.json and out/gpu_suite.txt.

    The random model and the poster files are built once under cache and reused.
    """
    started = time.perf_counter()
    device = resolve_device(sizes.device)
    settings = EncoderSettings(
        model=model_or_random(sizes.model, cache / "models"),
        device=device,
        host="127.0.0.1",
        port=0,
        max_batch_size=max(sizes.batch, 32),
        max_queue=max(4096, sizes.batch * (sizes.in_flight + 4)),
        decode_workers=os.cpu_count() or 1,
    )
    runtime = await asyncio.to_thread(ModelRuntime.load, settings)
    await asyncio.to_thread(runtime.warm_up)
    hardware = (
        torch.cuda.get_device_name(torch.device(device))
        if device.startswith("cuda")
        else f"CPU, {os.cpu_count()} cores"
    )
    print(f"{hardware}; encoder: {runtime.describe()}", flush=True)
    encoder_rows = await encoder_part(runtime, settings, sizes)
    print("encoder part done", flush=True)
    encoder = LocalEncoder(runtime, settings)
    try:
        ingest, index = await ingest_part(encoder, settings, sizes, cache, out / "index")
        print("ingest part done", flush=True)
        try:
            search_rows = await search_part(encoder, index, sizes)
        finally:
            index.close()
    finally:
        await encoder.close()
    result: dict[str, Any] = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "hardware": hardware,
            "torch": torch.__version__,
            "device": device,
            "dtype": dtype_name(runtime.dtype),
            "model": f"{sizes.model} (random weights)",
            "encoder": runtime.describe(),
            "dry_run": dry_run,
            "sizes": dataclasses.asdict(sizes),
            "load_average": os.getloadavg()[0],
            "elapsed_s": time.perf_counter() - started,
        },
        "encoder": encoder_rows,
        "ingest": ingest,
        "search": search_rows,
    }
    result["targets"] = [] if dry_run else targets(result)
    text = table(result)
    await asyncio.to_thread(write_results, out, result, text)
    print()
    print(text)
    return result


def write_results(out: Path, result: dict[str, Any], text: str) -> None:
    """out/gpu_suite.json (every figure) and out/gpu_suite.txt (the table)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_suite.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "gpu_suite.txt").write_text(text + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: check it runs")
    parser.add_argument("--out", type=Path, default=OUT / "gpu-suite", help="JSON and table")
    parser.add_argument("--cache", type=Path, default=OUT, help="models and posters, reused")
    parser.add_argument("--device", help="default cuda (cpu with --dry-run)")
    parser.add_argument("--rows", type=int, help="ingest rows (default 80000)")
    parser.add_argument("--distinct", type=int, help="distinct poster files (default 10000)")
    args = parser.parse_args()
    sizes = DRY_RUN if args.dry_run else FULL
    overrides = {
        key: value
        for key, value in (("device", args.device), ("ingest_rows", args.rows),
                           ("distinct", args.distinct))
        if value is not None
    }  # fmt: skip
    sizes = dataclasses.replace(sizes, **overrides)
    if not args.dry_run and sizes.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU here: run it on one, or check it with --dry-run", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("ingest").setLevel(logging.INFO)
    asyncio.run(run(sizes, args.dry_run, args.out, args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
