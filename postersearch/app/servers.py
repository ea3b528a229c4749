"""Long-running commands: the encoder server, the search server, and everything in one process.

Each runs the same way: listen at once, load what takes long meanwhile (health says
NOT_SERVING), serve until `run_until_stopped` returns, then stop everything within one grace.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from encoder_service.admission import admitted
from encoder_service.server import EncoderServer
from encoder_service.settings import EncoderSettings
from poster_index.base import IndexUnavailableError, PosterIndex
from poster_index.settings import IndexSettings
from postersearch.app.lifecycle import cancel, close_within, failed, run_until_stopped
from postersearch.app.wiring import LoadingEncoder, encoder_settings, open_encoder, open_index
from postersearch.domain import CollectionModel, SearchFilter
from postersearch.encoding import Encoder
from postersearch.metrics import start_metrics_server
from search_service.core import PosterSearch
from search_service.server import create_server
from search_service.settings import SearchSettings
from web_ui.app import create_app, serve_http

log = logging.getLogger(__name__)


async def run_encoder_server(settings: EncoderSettings) -> int:
    """Runs the encoder server until SIGTERM or SIGINT (``poster-search encoder``).

    The port answers from the start (health NOT_SERVING) while the model loads.

    Returns:
        The process exit code: 0 after a clean stop, 1 when the model failed to load.
    """
    start_metrics_server(settings.metrics_port)
    server = EncoderServer(settings)
    await server.start()
    log.info("encoder listening on %s:%d, loading %s", settings.host, server.port, settings.model)
    try:
        encoder = await open_encoder(settings)
    except Exception:
        log.exception("could not load the model %s", settings.model)
        await server.stop(0)
        return 1
    server.attach(encoder)
    # The translator loads while the server already answers (lazy import: torch).
    from encoder_service.local import load_translator

    translator = asyncio.create_task(load_translator(encoder))
    info = await encoder.info()
    log.info(
        "serving %s (%d-d, %s, %s) on port %d",
        info.model_id,
        info.dimension,
        info.device,
        info.dtype,
        server.port,
    )
    await run_until_stopped()
    log.info("stopping: in-flight calls get %.1f s", settings.grace_seconds)
    started = time.monotonic()
    await cancel(translator)
    await server.stop()
    await close_within(encoder, settings.grace_seconds - (time.monotonic() - started))
    return 0


def _collection_or_none(index: PosterIndex) -> CollectionModel | None:
    try:
        return index.collection_model()
    except IndexUnavailableError as exc:
        log.warning("cannot read the collection yet (%s); health stays NOT_SERVING", exc)
        return None


async def _start_web(
    search: PosterSearch, index: PosterIndex, settings: SearchSettings, roots: Sequence[Path]
) -> asyncio.Task[None]:
    """Starts the web page and JSON API over search, logs where; returns its task."""
    chosen = list(roots) or await asyncio.to_thread(guess_poster_roots, index)
    app = create_app(search, chosen, api_key=settings.http_api_key)
    task = asyncio.create_task(
        serve_http(app, settings.host, settings.http_port, grace_s=settings.grace_s)
    )
    if settings.api_key and not settings.http_api_key:
        log.warning(
            "SEARCH_API_KEY guards gRPC only: the web page's JSON API on port %d is open "
            "(set SEARCH_HTTP_API_KEY to guard it too)",
            settings.http_port,
        )
    host = "localhost" if settings.host in {"0.0.0.0", "::"} else settings.host
    log.info(
        "web page http://%s:%d/ (posters from %s)",
        host,
        settings.http_port,
        ", ".join(str(r) for r in chosen) or "nowhere",
    )
    return task


async def run_search_server(
    settings: SearchSettings,
    index_settings: IndexSettings,
    model: str | None = None,
    device: str | None = None,
    web: bool = False,
    poster_roots: Sequence[Path] = (),
) -> int:
    """Serves SearchService until SIGTERM or SIGINT (``poster-search search-server``).

    The port answers at once; an in-process model loads meanwhile, with health
    NOT_SERVING and searches UNAVAILABLE until it is ready. With web, the web page and
    JSON API answer on ``settings.http_port`` too, over the same search.
    """
    start_metrics_server(settings.metrics_port)
    index = await asyncio.to_thread(open_index, index_settings, False)
    collection = await asyncio.to_thread(_collection_or_none, index)
    local = encoder_settings(model, device, collection)
    load_failed = asyncio.Event()
    load: asyncio.Task[None] | None = None
    encoder: Encoder
    if settings.encoder_target:
        encoder = await open_encoder(
            local, settings.encoder_target, settings.encoder_api_key, settings.encoder_timeout_s
        )
    else:
        loading = LoadingEncoder(local.model)
        encoder = loading

        async def load_model() -> None:
            try:
                loading.attach(await open_encoder(local))
            except Exception:
                log.exception("could not load the model; stopping")
                load_failed.set()

        load = asyncio.create_task(load_model())
    # Image searches pass the same decode admission as the encoder service's callers.
    encoder = admitted(encoder, local.decode_budget())
    search = PosterSearch(encoder, index, settings)
    server, port = create_server(settings, search)
    await server.start()
    log.info("search listening on %s:%d", settings.host, port)
    failure = asyncio.create_task(load_failed.wait())
    http: asyncio.Task[None] | None = None
    try:
        if web:
            http = await _start_web(search, index, settings, poster_roots)
        await run_until_stopped(failure, *([http] if http is not None else []))
        if failed(http, "the web page"):
            load_failed.set()
        log.info("stopping: in-flight calls get %.1f s", settings.grace_s)
    finally:
        # Everything stops at once, so the whole stop fits in one grace.
        await asyncio.gather(cancel(http), cancel(failure), cancel(load), server.stop())
        await close_within(encoder, settings.grace_s)
        await asyncio.to_thread(index.close)
    log.info("search stopped")
    return 1 if load_failed.is_set() else 0


def guess_poster_roots(index: PosterIndex, sample: int = 100) -> list[Path]:
    """The folder holding the collection's local poster files, from a sample of them.

    The web page serves poster files only from its roots; with none given, the common
    folder of the stored posters is the narrowest root that shows them all.
    """
    try:
        hits = index.browse(SearchFilter(), sample)
    except Exception:
        return []
    folders = {
        os.path.dirname(os.path.abspath(h.poster.poster))
        for h in hits
        if h.poster.poster and not h.poster.poster.startswith(("http://", "https://"))
    }
    if not folders:
        return []
    return [Path(os.path.commonpath(sorted(folders)))]


async def run_serve(
    settings: SearchSettings,
    index_settings: IndexSettings,
    encoder_port: int,
    model: str | None = None,
    device: str | None = None,
    poster_roots: Sequence[Path] = (),
) -> int:
    """Encoder gRPC, search gRPC and the web page in one process (``poster-search serve``).

    One in-process encoder answers both the encoder service and the searches, so the
    model is loaded once and searches skip the gRPC hop.
    """
    start_metrics_server(settings.metrics_port)
    index = await asyncio.to_thread(open_index, index_settings, False)
    collection = await asyncio.to_thread(_collection_or_none, index)
    local = encoder_settings(model, device, collection, host=settings.host, port=encoder_port)
    loaded = await open_encoder(local)
    # One admission for both doors: the web page and search gRPC in this process, and
    # the encoder service's callers, share the decode budget.
    encoder = admitted(loaded, local.decode_budget())
    search = PosterSearch(encoder, index, settings)
    encoder_server = EncoderServer(local, encoder)
    search_server, search_port = create_server(settings, search)
    await encoder_server.start()
    await search_server.start()
    log.info("serving: encoder gRPC :%d, search gRPC :%d", encoder_server.port, search_port)
    http = await _start_web(search, index, settings, poster_roots)
    web_failed = False
    try:
        await run_until_stopped(http)
        web_failed = failed(http, "the web page")
        log.info("stopping: in-flight calls get %.1f s", settings.grace_s)
    finally:
        # Everything stops at once, so the whole stop fits in one grace.
        await asyncio.gather(
            cancel(http), search_server.stop(), encoder_server.stop(settings.grace_s)
        )
        await close_within(encoder, settings.grace_s)
        await asyncio.to_thread(index.close)
    log.info("stopped")
    return 1 if web_failed else 0
