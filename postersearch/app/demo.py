"""``poster-search demo``: a collection made, ingested and searched, in one command.

It runs the real pipeline end to end in one process: synthetic posters (or the person's own
dataset), the in-process encoder, the embedded Qdrant Edge index, and searches in English
and Korean printed as tables.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from encoder_service.settings import DEFAULT_MODEL, EncoderSettings
from ingest.readers import read_dataset
from ingest.synth import generate_synthetic
from ingest.worker import IngestOptions, run_ingest
from poster_index.base import DEFAULT_COLLECTION, PosterIndex
from poster_index.settings import IndexSettings
from postersearch.app.demo_model import (
    ModelChoice,
    hub_unavailable_reason,
    stand_in_model,
    stand_in_notice,
    stand_in_translator,
    stand_in_translator_notice,
)
from postersearch.app.table import format_table
from postersearch.app.wiring import encoder_settings, open_index, open_local_encoder
from postersearch.domain import SearchFilter
from postersearch.encoding import Encoder
from search_service.core import PosterSearch, SearchPage
from search_service.errors import SearchError
from search_service.settings import SearchSettings

if TYPE_CHECKING:
    from encoder_service.local import LocalEncoder

_MARKER = "demo.json"

# (title, query text, filter): English and Korean descriptions, then one narrowed by filters,
# then a story, which only the words about the movies tell (hybrid mode finds it by them).
EXAMPLES: tuple[tuple[str, str, SearchFilter], ...] = (
    ("English", "dark red horror movie poster with a single face", SearchFilter()),
    ("Korean (neon signs, a cyberpunk feel)", "네온사인이 많은 사이버펑크 느낌", SearchFilter()),
    (
        "English, Comedy or Family from the 1980s-90s rated 6 or more",
        "a bright, cheerful poster",
        SearchFilter(genres_any=("Comedy", "Family"), year_from=1980, year_to=1999, min_rating=6),
    ),
    ("Korean, Horror only", "어두운 빨간색 공포 영화 포스터", SearchFilter(genres_any=("Horror",))),
    ("English, a story rather than a look", "a heist in a casino", SearchFilter()),
)


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs on.

    Attributes:
        count: Synthetic posters to make (ignored with a dataset).
        dataset: The person's own dataset instead of synthetic posters.
        model: Model to try first; the random stand-in replaces it when it cannot be had.
        workdir: Where posters, the index and the stand-in model are kept between runs.
        limit: Results shown per search.
        seed: Seed of the synthetic collection.
        device: Device of the in-process encoder; None for ENCODER_DEVICE or "auto".
    """

    count: int = 2000
    dataset: Path | None = None
    model: str = DEFAULT_MODEL
    workdir: Path = Path("data/demo")
    limit: int = 5
    seed: int = 0
    device: str | None = None


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, text: str = "") -> None:
        print(text, file=self._out, flush=True)


async def _open(model: str, device: str | None, translator: str | None) -> LocalEncoder:
    if translator is None:
        return await open_local_encoder(encoder_settings(model, device))
    return await open_local_encoder(encoder_settings(model, device, translator=translator))


async def _choose_translator(options: DemoOptions, say: _Printer) -> str | None:
    """The translator's folder when the configured one cannot be had: a random stand-in,
    so that the Korean examples still run with a translation beside them. None keeps the
    configured one (ENCODER_TRANSLATOR, or none when it is set empty)."""
    configured = EncoderSettings().translator
    if not configured:
        return None
    reason = await asyncio.to_thread(hub_unavailable_reason, configured)
    if reason is None:
        return None
    say(stand_in_translator_notice(configured, reason))
    folder = options.workdir / "random-translator"
    return str((await asyncio.to_thread(stand_in_translator, folder)).resolve())


async def _load_encoder(
    options: DemoOptions, say: _Printer
) -> tuple[Encoder, ModelChoice, str | None]:
    stand_in_dir = options.workdir / "random-siglip"
    translator = await _choose_translator(options, say)
    reason = await asyncio.to_thread(hub_unavailable_reason, options.model)
    if reason is None:
        choice = ModelChoice(options.model, True)
        say(f"       loading {options.model}")
    else:
        # Said before the stand-in is built, so the notice leads whatever building prints.
        say(stand_in_notice(options.model, reason))
        folder = (await asyncio.to_thread(stand_in_model, stand_in_dir)).resolve()
        choice = ModelChoice(str(folder), False)

    try:
        encoder = await _open(choice.model, options.device, translator)
    except Exception as exc:
        if not choice.real:
            raise
        say(stand_in_notice(options.model, str(exc)))
        folder = (await asyncio.to_thread(stand_in_model, stand_in_dir)).resolve()
        choice = ModelChoice(str(folder), False)
        encoder = await _open(choice.model, options.device, translator)
    say(f"       encoder: {encoder.describe()}")
    return encoder, choice, translator


def _index_settings(index_dir: Path) -> IndexSettings:
    return IndexSettings(backend="edge", path=str(index_dir), collection=DEFAULT_COLLECTION)


def _open_demo_index(index_dir: Path, identity: dict[str, str], say: _Printer) -> PosterIndex:
    """The demo's index, emptied first when it holds another dataset or model."""
    marker = index_dir / _MARKER
    identity = {**identity, "dataset": str(Path(identity["dataset"]).resolve())}
    if index_dir.exists():
        try:
            previous = json.loads(marker.read_text())
        except (OSError, ValueError):
            previous = None
        if previous != identity:
            say(f"       the index at {index_dir} holds another dataset or model: starting afresh")
            shutil.rmtree(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(identity))
    return open_index(_index_settings(index_dir))


async def _ingest(options: DemoOptions, encoder: Encoder, model: str, say: _Printer) -> Path:
    if options.dataset is not None:
        dataset = options.dataset
        say(f"[2/4] dataset: {dataset}")
    else:
        out = options.workdir / f"synthetic-{options.count}-seed{options.seed}"
        say(f"[2/4] dataset: {options.count} synthetic posters in {out}")
        started = time.monotonic()
        dataset = await asyncio.to_thread(generate_synthetic, out, options.count, options.seed)
        say(f"       ready in {time.monotonic() - started:.1f} s")
    rows = await asyncio.to_thread(lambda: list(read_dataset(dataset)))
    index_dir = options.workdir / "index"
    identity = {"dataset": str(dataset), "model": model}
    index = await asyncio.to_thread(_open_demo_index, index_dir, identity, say)
    try:
        say(f"[3/4] ingest: {len(rows)} rows into the embedded Qdrant Edge index {index_dir}")
        summary = await run_ingest(rows, encoder, index, IngestOptions(progress_bar=False))
        say(f"       {summary.describe()}")
        if summary.ingested:
            started = time.monotonic()
            await asyncio.to_thread(index.optimize)
            say(f"       search index (HNSW) built in {time.monotonic() - started:.1f} s")
    finally:
        await asyncio.to_thread(index.close)
    return index_dir


async def _search_examples(
    encoder: Encoder, index_dir: Path, options: DemoOptions, say: _Printer
) -> int:
    index = await asyncio.to_thread(open_index, _index_settings(index_dir))
    searched = 0
    try:
        search = PosterSearch(encoder, index, SearchSettings())
        say(f"[4/4] searches over {await asyncio.to_thread(index.count)} posters")
        first_hit: str | None = None
        known = {g.casefold() for g in await search.genre_counts()}
        for title, text, example_filter in EXAMPLES:
            # Another dataset may spell its genres otherwise ("Children" for "Family"): the
            # example keeps the genres this collection has.
            flt = replace(
                example_filter,
                genres_any=tuple(g for g in example_filter.genres_any if g.casefold() in known),
            )
            if example_filter.genres_any and not flt.genres_any:
                continue
            say()
            say(f'{title}: "{text}"' + _describe(flt))
            try:
                started = time.perf_counter()
                page = await search.search(text, flt, limit=options.limit)
                elapsed_ms = (time.perf_counter() - started) * 1000
            except SearchError as exc:
                say(f"  (skipped: {exc})")
                continue
            say(format_table(page.hits))
            if page.translation is not None:
                say(f"  also searched in English as: {page.translation.text}")
            say(f"  {elapsed_ms:.1f} ms, {_mode(page)}")
            searched += 1
            first_hit = first_hit or (page.hits[0].poster.movie_id if page.hits else None)
        searched += await _title_example(search, options, say)
        if first_hit is not None:
            say()
            say(f"Posters similar to movie {first_hit} (the movie itself left out)")
            page = await search.similar(first_hit, limit=options.limit)
            say(format_table(page.hits))
        say()
        say("Top rated Horror posters (filters alone, no description)")
        try:
            browse = await search.search("", SearchFilter(genres_any=("Horror",)), limit=3)
            say(format_table(browse.hits, show_score=False))
        except SearchError as exc:
            say(f"  (skipped: {exc})")
    finally:
        await asyncio.to_thread(index.close)
    return searched


def _mode(page: SearchPage) -> str:
    mode = f"{page.mode.value} mode" if page.mode is not None else "browsing"
    return f"{mode} ({page.notice})" if page.notice else mode


async def _title_example(search: PosterSearch, options: DemoOptions, say: _Printer) -> int:
    """Searches the title of a stored movie: hybrid search puts that movie first."""
    try:
        rated = await search.search("", SearchFilter(min_rating=0.0), limit=1)
    except SearchError:
        return 0
    if not rated.hits:
        return 0
    title = rated.hits[0].poster.title
    say()
    say(f'Hybrid, the title of a movie in the collection: "{title}"')
    started = time.perf_counter()
    page = await search.search(title, limit=options.limit)
    elapsed_ms = (time.perf_counter() - started) * 1000
    say(format_table(page.hits))
    say(f"  {elapsed_ms:.1f} ms, {_mode(page)}")
    return 1


def _describe(flt: SearchFilter) -> str:
    parts = []
    if flt.genres_any:
        parts.append("genre " + " or ".join(flt.genres_any))
    if flt.year_from is not None or flt.year_to is not None:
        parts.append(f"years {flt.year_from or ''}-{flt.year_to or ''}")
    if flt.min_rating is not None:
        parts.append(f"rating >= {flt.min_rating:g}")
    return f"  [{'; '.join(parts)}]" if parts else ""


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Makes (or reads) a collection, ingests it and prints example searches.

    Returns:
        0 when the example searches ran.
    """
    say = _Printer(out)
    say("Poster search demo: describe a poster in English or Korean, get matching posters.")
    say(f"[1/4] model: trying {options.model}")
    encoder, choice, translator = await _load_encoder(options, say)
    try:
        index_dir = await _ingest(options, encoder, choice.model, say)
        searched = await _search_examples(encoder, index_dir, options, say)
    finally:
        await encoder.close()
    if not choice.real:
        say()
        say("Reminder: these rankings come from a random stand-in model and mean nothing;")
        say(f"see the note at the top for how to run {options.model} instead.")
    say()
    say("Try your own searches over this collection:")
    say(f'  poster-search search "a lonely astronaut" --index {index_dir} --limit 5')
    # The search command reads its translator from ENCODER_TRANSLATOR, like every command.
    use_translator = f"ENCODER_TRANSLATOR={translator} " if translator else ""
    say(
        f'  {use_translator}poster-search search "우주를 배경으로 한 공상과학 영화" '
        f"--index {index_dir} --json"
    )
    say(f'  poster-search search "an astronaut stranded in space" --mode text --index {index_dir}')
    say(f"  poster-search search --genre Horror --year 1980-1989 --index {index_dir}")
    say(f"  poster-search serve --index {index_dir}    # web page on http://localhost:8080/")
    return 0 if searched else 1
