"""Hybrid ranking: success@1 and nDCG@10 of vector, text and hybrid search, and latency.

Synthetic posters (ingest/synth.py) carry different facts in their words and their
pictures: the colours follow the first genre, the words (overview, tagline, keywords, a
Korean alternative title for a third) tell a story drawn independently. The posters are
ingested through the real ingest worker with a deterministic colour encoder: a poster's
vector is the mean colour of its top, middle and bottom thirds, and a text's vector is that
of the palette it describes, when it is one of the look descriptions below, else a fixed
random direction (as a real model's vector for a title is no guide to the poster). The
vector branch is therefore meaningful for looks and for nothing else, without real weights.

Three kinds of query, each with its relevant movies:

- title: the title of a sampled movie; relevant: the movies with that title;
- story: each story's English and Korean query ("a heist in a casino", "카지노를 터는 강도");
  relevant: the movies with that story;
- look: a description of each genre's palette ("dark red poster fading to black");
  relevant: the movies whose posters use that palette (first genre).

For each kind it prints success@1 and nDCG@10 of vector, text and hybrid search (the
default fusion and a few others for comparison), then the latency of hybrid against
vector-only search through PosterSearch in the same run (the query vectors are cached, so
both measure the index and the service, not the encoder), interleaved, with the load.

    python bench/bench_hybrid.py                  # 2,000 posters
    python bench/bench_hybrid.py --count 10000
    python bench/bench_hybrid.py --count 10000 --path /tmp/bench-hybrid   # kept for re-runs

With --path the posters and the collection stay in that folder; a re-run finds them there
and its ingest only checks that they are stored (remove the folder after changing how
movies are indexed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ingest.readers import read_dataset
from ingest.synth import PALETTES, STORIES, generate_synthetic, make_metadata, make_words
from ingest.worker import IngestOptions, run_ingest
from poster_index.edge import EdgePosterIndex
from poster_index.hybrid import DEFAULT_FUSION, FusionWeights
from poster_index.lexical import lexical_query
from postersearch.domain import Poster, SearchFilter, SearchHit
from postersearch.encoding import (
    EncodedTexts,
    EncoderInfo,
    ImageErrorCode,
    ImageFailure,
    ImageOutcome,
    TranslatorUnavailableError,
    Vectors,
    read_whole,
)
from search_service.core import PosterSearch
from search_service.settings import SearchSettings

DIM = 9
MODEL_ID = "bench/colour-thirds"
LOOKS: dict[str, str] = {
    "Drama": "muted slate blue poster fading to near black",
    "Comedy": "bright yellow and orange poster",
    "Thriller": "very dark blue-black poster",
    "Romance": "soft pink poster turning deep rose",
    "Action": "fiery orange poster burning into dark brown",
    "Horror": "dark red poster fading to black",
    "Crime": "black poster over a murky brown bottom",
    "Documentary": "plain light grey poster",
    "Adventure": "sky blue poster above sandy ochre",
    "Science Fiction": "deep navy poster glowing cyan below",
    "Family": "light blue sky over green grass poster",
    "Mystery": "dark purple poster sinking to black",
    "Fantasy": "violet poster over teal green",
    "Animation": "candy pink poster over bright sky blue",
    "Foreign": "warm tan poster over dark brown",
    "Music": "hot magenta poster over deep purple",
    "History": "faded parchment poster over brown",
    "War": "olive drab poster over dark khaki",
    "Western": "sunset orange poster over rust brown",
    "TV Movie": "pale steel blue poster over slate",
}
LOOK_GENRE = {text: genre for genre, text in LOOKS.items()}
FUSIONS: dict[str, FusionWeights] = {
    "hybrid (default)": DEFAULT_FUSION,
    "hybrid text 1, k 60": FusionWeights(vector=1.0, text=1.0, k=60),
    "hybrid text 3, k 1": FusionWeights(vector=1.0, text=3.0, k=1),
}


def _thirds(rgb: np.ndarray) -> np.ndarray:
    """Mean colour of the top, middle and bottom thirds, centred and L2-normalised."""
    h = rgb.shape[0]
    parts = [rgb[: h // 3], rgb[h // 3 : 2 * h // 3], rgb[2 * h // 3 :]]
    v = np.concatenate([p.reshape(-1, 3).mean(axis=0) for p in parts]) / 255.0 - 0.5
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def palette_vector(genre: str) -> np.ndarray:
    """The vector of an ideal poster of a genre's palette: top colour, blend, bottom colour."""
    top, bottom, _ = PALETTES[genre]
    column = np.array([top, [(a + b) / 2 for a, b in zip(top, bottom, strict=True)], bottom])
    return _thirds(np.repeat(column, 3, axis=0)[:, None, :].astype(np.float64))


@dataclass
class ColourEncoder:
    """A deterministic Encoder whose vectors follow a poster's drawn colours."""

    model_id: str = MODEL_ID

    async def info(self) -> EncoderInfo:
        return EncoderInfo(
            self.model_id, DIM, "cpu", "float32", 64, 1000, 1 << 24, 1 << 26, 1 << 26, 224
        )

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        out = []
        for text in texts:
            genre = LOOK_GENRE.get(text)
            if genre is not None:
                out.append(palette_vector(genre))
            else:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
                v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
                out.append(v / np.linalg.norm(v))
        return np.stack(out)

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        return EncodedTexts(await self.encode_texts(texts), read_whole(texts))

    async def translate(self, texts: Sequence[str]) -> list[str]:
        raise TranslatorUnavailableError("this stand-in encoder runs no translator")

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        out: list[ImageOutcome] = []
        for i, data in enumerate(images):
            try:
                with Image.open(io.BytesIO(data)) as image:
                    small = image.convert("RGB").resize((25, 36))
                out.append(_thirds(np.asarray(small, dtype=np.float64)))
            except OSError as exc:
                out.append(ImageFailure(i, ImageErrorCode.UNDECODABLE, str(exc)))
        return out

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    relevant: frozenset[str]


def make_queries(posters: list[Poster], stories: list[int], n_titles: int) -> list[Query]:
    """Title, story and look queries with their relevant movie ids."""
    by_title: dict[str, set[str]] = {}
    for p in posters:
        by_title.setdefault(p.title.casefold(), set()).add(p.movie_id)
    rng = np.random.default_rng(1)
    picked = rng.choice(len(posters), size=min(n_titles, len(posters)), replace=False)
    queries = [
        Query("title", posters[i].title, frozenset(by_title[posters[i].title.casefold()]))
        for i in picked
    ]
    for s, story in enumerate(STORIES):
        relevant = frozenset(p.movie_id for p, k in zip(posters, stories, strict=True) if k == s)
        queries += [Query("story", story.query, relevant), Query("story", story.query_ko, relevant)]
    for genre, text in LOOKS.items():
        relevant = frozenset(p.movie_id for p in posters if p.genres and p.genres[0] == genre)
        if relevant:
            queries.append(Query("look", text, relevant))
    return queries


def ndcg_at_10(hits: list[SearchHit], relevant: frozenset[str]) -> float:
    gains = [1.0 if h.poster.movie_id in relevant else 0.0 for h in hits[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


def success_at_1(hits: list[SearchHit], relevant: frozenset[str]) -> float:
    return 1.0 if hits and hits[0].poster.movie_id in relevant else 0.0


async def build(workdir: Path, count: int, seed: int) -> tuple[EdgePosterIndex, list[Poster]]:
    started = time.monotonic()
    manifest = await asyncio.to_thread(generate_synthetic, workdir / "synth", count, seed)
    posters = [r for r in read_dataset(manifest) if isinstance(r, Poster)]
    print(f"{count} synthetic posters ready in {time.monotonic() - started:.1f} s")
    index = EdgePosterIndex(workdir / "index")
    started = time.monotonic()
    summary = await run_ingest(posters, ColourEncoder(), index, IngestOptions(progress_bar=False))
    await asyncio.to_thread(index.optimize)
    print(f"ingested ({summary.describe()}) and indexed in {time.monotonic() - started:.1f} s")
    return index, posters


async def quality(index: EdgePosterIndex, queries: list[Query]) -> None:
    encoder = ColourEncoder()
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {}
    everything = SearchFilter()
    for q in queries:
        vector = (await encoder.encode_texts([q.text]))[0].tolist()
        lexical = lexical_query(q.text)
        results = {
            "vector": index.search(vector, everything, 10),
            "text": index.text_search(lexical, everything, 10),
        }
        for name, fusion in FUSIONS.items():
            results[name] = index.hybrid_search(vector, lexical, everything, 10, fusion=fusion)
        for name, hits in results.items():
            measured = (success_at_1(hits, q.relevant), ndcg_at_10(hits, q.relevant))
            runs.setdefault(q.kind, {}).setdefault(name, []).append(measured)
    print(f"\nquality (default fusion: {DEFAULT_FUSION})")
    print(f"{'queries':<16}{'search':<22}{'success@1':>10}{'nDCG@10':>10}")
    for kind, by_mode in runs.items():
        n = len(next(iter(by_mode.values())))
        for name, scores in by_mode.items():
            s1 = statistics.fmean(s for s, _ in scores)
            nd = statistics.fmean(d for _, d in scores)
            print(f"{f'{kind} ({n})':<16}{name:<22}{s1:>10.3f}{nd:>10.3f}")
        best_single = max(statistics.fmean(d for _, d in by_mode[m]) for m in ("vector", "text"))
        hybrid = statistics.fmean(d for _, d in by_mode["hybrid (default)"])
        print(f"{'':<16}hybrid - best single nDCG: {hybrid - best_single:+.3f}")


async def latency(index: EdgePosterIndex, queries: list[Query], repeats: int) -> None:
    search = PosterSearch(ColourEncoder(), index, SearchSettings())
    for q in queries:  # warm the vector cache and the shard's pages
        await search.search(q.text, mode="hybrid")
        await search.search(q.text, mode="vector")
    timings: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for q in queries:
            for mode in ("vector", "hybrid"):
                started = time.perf_counter()
                await search.search(q.text, mode=mode)
                elapsed = (time.perf_counter() - started) * 1000
                timings.setdefault(("all", mode), []).append(elapsed)
                timings.setdefault((q.kind, mode), []).append(elapsed)
    overall = {mode: timings[("all", mode)] for mode in ("vector", "hybrid")}
    print(f"\nlatency through PosterSearch, {len(overall['vector'])} searches per mode, limit 10")
    for mode, t in overall.items():
        p95 = float(np.percentile(t, 95))
        print(f"  {mode:<7} p50 {statistics.median(t):6.2f} ms   p95 {p95:6.2f} ms")
    for kind in ("all", *dict.fromkeys(q.kind for q in queries)):
        vector = statistics.median(timings[(kind, "vector")])
        hybrid = statistics.median(timings[(kind, "hybrid")])
        print(f"  {kind:<6} queries: hybrid p50 / vector p50: {hybrid / vector:.2f}x")


async def stages(index: EdgePosterIndex, queries: list[Query], repeats: int) -> None:
    """Where a search's time goes: the query's words, then the index alone per mode."""
    encoder = ColourEncoder()
    vectors = {q.text: (await encoder.encode_texts([q.text]))[0].tolist() for q in queries}
    lexical = {q.text: lexical_query(q.text) for q in queries}
    everything = SearchFilter()
    parts: dict[str, Callable[[str], object]] = {
        "BM25 query terms, uncached": lambda text: lexical_query.__wrapped__(text),
        "index: vector search": lambda text: index.search(vectors[text], everything, 10),
        "index: text search (lexical branch)": lambda text: index.text_search(
            lexical[text], everything, 10
        ),
        "index: hybrid search": lambda text: index.hybrid_search(
            vectors[text], lexical[text], everything, 10
        ),
    }
    timings: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(repeats):
        for q in queries:
            for name, run in parts.items():
                started = time.perf_counter()
                run(q.text)
                timings[name].append((time.perf_counter() - started) * 1000)
    print(f"\nwhere the time goes, {len(queries) * repeats} queries each, limit 10 (p50)")
    for name, t in timings.items():
        print(f"  {name:<38} {statistics.median(t):6.3f} ms")


async def main_async(args: argparse.Namespace) -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.path) / f"{args.count}-{args.seed}" if args.path else Path(tmp)
        index, posters = await build(workdir, args.count, args.seed)
        try:
            metadata = make_metadata(args.count, args.seed)
            stories = [w.story for w in make_words([m[1] for m in metadata], args.seed)]
            queries = make_queries(posters, stories, args.titles)
            await quality(index, queries)
            await latency(index, queries, args.repeats)
            await stages(index, queries, args.repeats)
        finally:
            index.close()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="synthetic posters")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--titles", type=int, default=200, help="title queries")
    parser.add_argument("--repeats", type=int, default=5, help="latency rounds")
    parser.add_argument("--path", help="folder keeping the posters and collection between runs")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
