"""Encoder throughput and latency: the gRPC service against bare in-process model calls.

Builds the real architecture of the default model (SigLIP2 B/16-256) with random weights,
since speed does not depend on the weights, then measures in one run:

- posters/s for ~500x750 JPEG posters: a bare loop (Pillow decode + model, no service),
  the model alone on pre-decoded pixels, and the gRPC service (EncodeImages calls from
  one client, --in-flight batches at once as ingest sends them, with dynamic batching and
  parallel decoding), all on the same posters;
- the latency of one text query: a bare forward against EncodeText through gRPC;
- 32 clients sending one query each at once against the same 32 queries one at a time;
- on the CPU, the fast path (each tower with int8 Linear layers, ENCODER_QUANTIZE) beside
  float32: p50 of one query, posters/s of the image tower, and agreement: the cosine of
  the two vectors of each of 500 varied English and Korean queries (and of each distinct
  poster), min and mean. The weights are random, so the agreement is that of this
  architecture at random initialisation, not of the trained checkpoint.

Measurements alternate between the paths and report medians, so that other load on the
machine hits both alike.

    python bench/bench_encoder.py                       # CPU: small defaults, a few minutes
    python bench/bench_encoder.py --model-dir /tmp/siglip2-random   # build once, reuse
    python bench/bench_encoder.py --device cuda --dtype bfloat16 --count 4096 --batch-size 256
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from PIL import Image, ImageDraw

from encoder_service.client import GrpcEncoder
from encoder_service.local import LocalEncoder
from encoder_service.model import ModelRuntime, dtype_name, resolve_device
from encoder_service.server import create_server
from encoder_service.settings import EncoderSettings
from ingest.settings import IngestSettings
from postersearch.random_siglip import SIGLIP2_BASE_256, build_random_siglip

QUERY = "dark red horror movie poster with a single face"
# Batches of EncodeImages in flight from one client: ingest's default (INGEST_IN_FLIGHT).
IN_FLIGHT: int = IngestSettings.model_fields["in_flight"].default

_EN_SUBJECTS = ["a single face", "a lone astronaut", "two lovers on a beach", "a haunted house",
                "a detective under a street lamp", "a dragon over a castle", "soldiers in the mud",
                "a family on a sofa", "a neon city at night", "a car chase in the desert",
                "a girl with a red umbrella", "a robot in a field of flowers"]  # fmt: skip
_EN_STYLES = ["dark red", "black and white", "bright pastel", "neon", "minimalist", "grainy",
              "hand-drawn", "golden", "cold blue", "vintage 1970s"]  # fmt: skip
_EN_GENRES = ["horror", "comedy", "science fiction", "romance", "war", "animated", "noir",
              "thriller", "documentary", "fantasy"]  # fmt: skip
_KO_SUBJECTS = ["한 사람의 얼굴", "외로운 우주비행사", "해변의 연인", "유령의 집",
                "가로등 아래 탐정", "성 위를 나는 용", "진흙 속의 군인들", "소파 위의 가족",
                "밤의 네온 도시", "사막의 자동차 추격", "빨간 우산을 든 소녀",
                "꽃밭의 로봇"]  # fmt: skip
_KO_STYLES = ["어두운 빨간색", "흑백", "밝은 파스텔", "네온사인이 많은", "미니멀한",
              "거친 질감의",
              "손그림 느낌의", "황금빛", "차가운 파란색", "70년대 빈티지"]  # fmt: skip
_KO_GENRES = ["공포", "코미디", "공상과학", "로맨스", "전쟁", "애니메이션", "누아르", "스릴러",
              "다큐멘터리", "판타지"]  # fmt: skip


def varied_queries(count: int, seed: int = 0) -> list[str]:
    """count distinct search texts, half English and half Korean, short to long."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        korean = len(out) % 2 == 1
        subjects, styles, genres = (
            (_KO_SUBJECTS, _KO_STYLES, _KO_GENRES)
            if korean
            else (_EN_SUBJECTS, _EN_STYLES, _EN_GENRES)
        )
        subject, style, genre = rng.choice(subjects), rng.choice(styles), rng.choice(genres)
        shape = int(rng.integers(0, 4))
        if korean:
            text = [f"{genre}", f"{style} {genre} 영화 포스터",
                    f"{subject}, {style} {genre} 영화 포스터",
                    f"{style} {genre} 영화, {subject}, "
                    f"{rng.choice(subjects)}, 아래에 제목"][shape]  # fmt: skip
        else:
            text = [f"{genre}", f"{style} {genre} poster",
                    f"{style} {genre} movie poster with {subject}",
                    f"a {style} {genre} film poster showing {subject} and "
                    f"{rng.choice(subjects)}, title at the bottom"][shape]  # fmt: skip
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def make_posters(count: int, seed: int = 0) -> list[bytes]:
    """count poster-like 500x750 JPEGs (gradient, shapes, grain), about 90-100 KB each."""
    rng = np.random.default_rng(seed)
    unique = []
    for _ in range(min(count, 64)):
        y = np.linspace(0, 1, 750)[:, None, None]
        top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        base = (top * (1 - y) + bottom * y).repeat(500, axis=1)
        grain = rng.normal(0, 12, base.shape)
        img = Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(img)
        for _ in range(8):
            x0, y0 = int(rng.integers(0, 450)), int(rng.integers(0, 700))
            box = (x0, y0, x0 + int(rng.integers(20, 250)), y0 + int(rng.integers(20, 350)))
            draw.ellipse(box, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw.rectangle((0, 600, 500, 750), fill=(15, 15, 15))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        unique.append(buf.getvalue())
    return [unique[i % len(unique)] for i in range(count)]


def bare_decode(data: bytes, size: int) -> torch.Tensor:
    """What a plain script does: open, convert, resize with the processor's filter."""
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)


def bare_images(runtime: ModelRuntime, posters: list[bytes], batch: int) -> float:
    """Seconds for a plain loop: decode a batch one poster at a time, then run the model."""
    start = time.perf_counter()
    for i in range(0, len(posters), batch):
        runtime.encode_pixels([bare_decode(p, runtime.image.size) for p in posters[i : i + batch]])
    return time.perf_counter() - start


def model_only(runtime: ModelRuntime, pixels: list[torch.Tensor], batch: int) -> float:
    """Seconds for the model alone on pixels decoded beforehand."""
    start = time.perf_counter()
    for i in range(0, len(pixels), batch):
        runtime.encode_pixels(pixels[i : i + batch])
    return time.perf_counter() - start


async def grpc_images(
    client: GrpcEncoder, posters: list[bytes], batch: int, in_flight: int = IN_FLIGHT
) -> float:
    """Seconds to encode every poster through EncodeImages, in_flight batches at once.

    One client keeps in_flight unary calls open, as ingest does, so that the next batches
    decode while the model runs.
    """
    if in_flight < 1:
        raise ValueError(f"in_flight must be at least 1, not {in_flight}")
    slots = asyncio.Semaphore(in_flight)

    async def encode(chunk: list[bytes]) -> int:
        async with slots:
            outcomes = await client.encode_images(chunk)
        return sum(isinstance(o, np.ndarray) for o in outcomes)

    chunks = [posters[i : i + batch] for i in range(0, len(posters), batch)]
    start = time.perf_counter()
    encoded = sum(await asyncio.gather(*(encode(c) for c in chunks)))
    elapsed = time.perf_counter() - start
    if encoded != len(posters):
        raise RuntimeError(f"only {encoded} of {len(posters)} posters got vectors")
    return elapsed


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def _timed_grpc_text(client: GrpcEncoder) -> float:
    start = time.perf_counter()
    await client.encode_texts([QUERY])
    return (time.perf_counter() - start) * 1000


async def run(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    on_gpu = device != "cpu"
    count = args.count or (4096 if on_gpu else 8)
    repeats = args.repeats or (3 if on_gpu else 5)
    batch = args.batch_size or (256 if on_gpu else 4)
    queries = args.text_queries or (200 if on_gpu else 10)
    model_dir = Path(args.model_dir) if args.model_dir else Path(tempfile.mkdtemp()) / "siglip"
    if not (model_dir / "config.json").exists():
        print(f"building SigLIP2 B/16-256 with random weights in {model_dir} ...", flush=True)
        build_random_siglip(model_dir, SIGLIP2_BASE_256)
    settings = EncoderSettings(
        model=str(model_dir),
        device=device,
        dtype=args.dtype,
        host="127.0.0.1",
        port=0,
        # At least 32, so that the 32 concurrent queries below can share one pass.
        max_batch_size=max(batch, 32),
        max_queue=max(4096, batch * (args.in_flight + 2)),
        decode_workers=args.decode_workers or os.cpu_count() or 1,
        quantize=args.quantize,
        torch_threads=args.torch_threads,
    )
    runtime = await asyncio.to_thread(ModelRuntime.load, settings)
    runtime.warm_up()
    posters = make_posters(count)
    size = runtime.image.size
    # make_posters repeats at most 64 distinct files: decode those once for "model alone".
    decoded = {p: bare_decode(p, size) for p in set(posters)}
    pixels = [decoded[p] for p in posters]
    cores = os.cpu_count()
    kind = torch.cuda.get_device_name(0) if device.startswith("cuda") else f"CPU, {cores} cores"
    print(f"device: {device} ({kind}), dtype {dtype_name(runtime.dtype)}, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"encoder: {runtime.describe()}")
    if not on_gpu:
        print("no GPU: running on the CPU with small defaults so that this ends in minutes")
    print(f"model: SigLIP2 B/16-256 architecture, random weights, {runtime.dimension}-d vectors")
    kb = sum(map(len, posters)) / len(posters) / 1024
    print(f"posters: {count} JPEG 500x750 (mean {kb:.0f} KB), batch {batch}, "
          f"{repeats} repeats, medians")  # fmt: skip

    encoder = LocalEncoder(runtime, settings)
    server, port = create_server(settings, encoder)
    await server.start()
    client = GrpcEncoder(f"127.0.0.1:{port}", timeout_s=600)
    try:
        # One small pass of each path first: thread pools, channel and allocator warm up.
        await grpc_images(client, posters[:batch], batch, args.in_flight)
        bare_images(runtime, posters[:batch], batch)
        seconds: dict[str, list[float]] = {"bare": [], "model": [], "grpc": []}
        for repeat in range(repeats):
            # The order rotates, so that no path always runs first or last.
            order = ["bare", "model", "grpc"]
            for path in order[repeat % 3 :] + order[: repeat % 3]:
                if path == "bare":
                    seconds[path].append(bare_images(runtime, posters, batch))
                elif path == "model":
                    seconds[path].append(model_only(runtime, pixels, batch))
                else:
                    seconds[path].append(await grpc_images(client, posters, batch, args.in_flight))
        bare_s, model_s, grpc_s = seconds["bare"], seconds["model"], seconds["grpc"]
        bare_rate = count / statistics.median(bare_s)
        model_rate = count / statistics.median(model_s)
        grpc_rate = count / statistics.median(grpc_s)

        for _ in range(3):
            runtime.encode_texts([QUERY])
            await client.encode_texts([QUERY])
        bare_ms, grpc_ms = [], []
        for query in range(queries):
            if query % 2:
                grpc_ms.append(await _timed_grpc_text(client))
            bare_ms.append(_timed(lambda: runtime.encode_texts([QUERY])) * 1000)
            if not query % 2:
                grpc_ms.append(await _timed_grpc_text(client))
        # 32 clients with one query each: served one at a time, then all at once.
        clients = [GrpcEncoder(f"127.0.0.1:{port}", timeout_s=600) for _ in range(32)]
        texts = [f"{QUERY} {i}" for i in range(32)]
        # Connected beforehand, so that connection set-up does not spread the queries out.
        await asyncio.gather(*(c.info() for c in clients))
        start = time.perf_counter()
        for text in texts:
            await client.encode_texts([text])
        serial_qps = 32 / (time.perf_counter() - start)
        passes = runtime.forward_passes["text"]
        start = time.perf_counter()
        await asyncio.gather(*(c.encode_texts([t]) for c, t in zip(clients, texts, strict=True)))
        concurrent_qps = 32 / (time.perf_counter() - start)
        concurrent_passes = runtime.forward_passes["text"] - passes
        for extra in clients:
            await extra.close()
    finally:
        await client.close()
        await server.stop(0)
        await encoder.close()

    bare_p50, grpc_p50 = statistics.median(bare_ms), statistics.median(grpc_ms)
    print()
    print(f"images  bare loop (Pillow decode + model)   {bare_rate:10.2f} posters/s")
    print(f"images  model alone (pre-decoded pixels)    {model_rate:10.2f} posters/s")
    grpc_label = f"gRPC EncodeImages, {args.in_flight} in flight"
    print(f"images  {grpc_label:<36}{grpc_rate:10.2f} posters/s")
    print(f"        gRPC / bare loop = {grpc_rate / bare_rate:.2f}, "
          f"gRPC / model alone = {grpc_rate / model_rate:.2f}")  # fmt: skip
    print(f"text    bare forward, one query, p50        {bare_p50:10.1f} ms")
    print(f"text    gRPC EncodeText, one query, p50     {grpc_p50:10.1f} ms")
    print(f"        bare / gRPC latency = {bare_p50 / grpc_p50:.2f} ({queries} queries each)")
    print(f"text    32 queries one after another        {serial_qps:10.2f} queries/s")
    print(f"text    32 clients at once (dynamic batch)  {concurrent_qps:10.2f} queries/s "
          f"in {concurrent_passes} forward passes, {concurrent_qps / serial_qps:.1f}x")  # fmt: skip
    if any(t.precision == "int8" for t in runtime.towers.values()):
        await asyncio.to_thread(fast_path, runtime, settings, args, batch)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {cores} cores")


def _encode_all(
    encode: Callable[[list[Any]], np.ndarray], items: list[Any], batch: int
) -> np.ndarray:
    return np.concatenate([encode(items[i : i + batch]) for i in range(0, len(items), batch)])


def _agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    cosines = np.sum(a.astype(np.float64) * b, axis=1)
    return float(cosines.min()), float(cosines.mean())


_BLOCK = 5


def fast_path(
    fast: ModelRuntime, settings: EncoderSettings, args: argparse.Namespace, batch: int
) -> None:
    """The int8 path against float32, same model, same inputs, alternating; prints both."""
    print()
    print("building the float32 baseline (ENCODER_QUANTIZE=none) beside the fast path ...")
    baseline = ModelRuntime.load(settings.model_copy(update={"quantize": "none"}))
    baseline.warm_up()
    queries = varied_queries(args.agreement_queries)
    timed = queries[: args.fast_queries]
    for runtime in (baseline, fast):
        for text in timed[:3]:
            runtime.encode_texts([text])
    latency: dict[str, list[float]] = {"float32": [], "fast": []}
    # The paths take turns in blocks of _BLOCK queries, the first of each block untimed: a
    # service runs one path only, and a query right after the other path's pass would pay
    # for that pass's weights in the caches.
    for block, start in enumerate(range(0, len(timed), _BLOCK)):
        pair = [("float32", baseline), ("fast", fast)]
        for name, runtime in pair if block % 2 else pair[::-1]:
            runtime.encode_texts([timed[start]])
            for text in timed[start : start + _BLOCK]:
                started = time.perf_counter()
                runtime.encode_texts([text])
                latency[name].append((time.perf_counter() - started) * 1000)
    text_cos = _agreement(
        _encode_all(baseline.encode_texts, queries, 32), _encode_all(fast.encode_texts, queries, 32)
    )
    distinct = make_posters(min(args.agreement_posters, 64), seed=1)
    pixels = [bare_decode(p, fast.image.size) for p in distinct]
    image_s: dict[str, list[float]] = {"float32": [], "fast": []}
    for repeat in range(args.fast_repeats):
        pair = [("float32", baseline), ("fast", fast)]
        for name, runtime in pair if repeat % 2 else pair[::-1]:
            image_s[name].append(model_only(runtime, pixels[:batch], batch))
    image_cos = _agreement(
        _encode_all(baseline.encode_pixels, pixels, batch),
        _encode_all(fast.encode_pixels, pixels, batch),
    )
    f32_ms, fast_ms = statistics.median(latency["float32"]), statistics.median(latency["fast"])
    f32_rate = batch / statistics.median(image_s["float32"])
    fast_rate = batch / statistics.median(image_s["fast"])
    print(f"fast path: {fast.describe()}")
    print("random weights: the agreement is this architecture's at random initialisation")
    print(f"{'':<44}{'float32':>10}{'fast path':>12}{'ratio':>8}")
    print(f"{'text   one query, p50 (ms, ' + str(len(timed)) + ' queries)':<44}"
          f"{f32_ms:>10.1f}{fast_ms:>12.1f}{f32_ms / fast_ms:>7.2f}x")  # fmt: skip
    print(f"{'images model alone, batch ' + str(batch) + ' (posters/s)':<44}"
          f"{f32_rate:>10.2f}{fast_rate:>12.2f}{fast_rate / f32_rate:>7.2f}x")  # fmt: skip
    print(f"agreement  text: cosine over {len(queries)} English and Korean queries "
          f"min {text_cos[0]:.4f}, mean {text_cos[1]:.4f}")  # fmt: skip
    print(f"agreement  image: cosine over {len(pixels)} distinct posters "
          f"min {image_cos[0]:.4f}, mean {image_cos[1]:.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", default="auto", help="auto, bfloat16, float16 or float32")
    parser.add_argument("--count", type=int, help="posters (default 8 on CPU, 4096 on GPU)")
    parser.add_argument("--batch-size", type=int, help="posters per batch (4 CPU, 256 GPU)")
    parser.add_argument("--repeats", type=int, help="measurements of each path (5 CPU, 3 GPU)")
    parser.add_argument("--text-queries", type=int, help="queries timed (10 CPU, 200 GPU)")
    parser.add_argument(
        "--in-flight", type=int, default=IN_FLIGHT, help="EncodeImages calls open at once"
    )
    parser.add_argument("--decode-workers", type=int, help="default: every core")
    parser.add_argument("--model-dir", help="reuse (or build once into) this folder")
    parser.add_argument("--quantize", default="auto", help="auto, int8 or none (ENCODER_QUANTIZE)")
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--fast-queries", type=int, default=40, help="CPU fast path: queries timed")
    parser.add_argument("--fast-repeats", type=int, default=4, help="CPU fast path: image batches")
    parser.add_argument("--agreement-queries", type=int, default=500)
    parser.add_argument("--agreement-posters", type=int, default=32, help="distinct, at most 64")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
