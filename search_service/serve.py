"""Long-running commands: the search server alone, and everything in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from poster_index.base import IndexUnavailableError, PosterIndex
from poster_index.settings import IndexSettings
from postersearch.domain import CollectionModel, SearchFilter
from postersearch.encoding import Encoder
from postersearch.grpc_server import drain_and_stop
from postersearch.metrics import start_metrics_server
from search_service.core import PosterSearch
from search_service.embedded import (
    LoadingEncoder,
    local_model_for,
    open_encoder,
    open_search_index,
)
from search_service.server import create_server
from search_service.settings import SearchSettings

log = logging.getLogger(__name__)


async def _wait_for_stop(*watch: asyncio.Task[Any]) -> None:
    """Returns on SIGINT or SIGTERM, or when any watched task ends (it stopped itself)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([waiter, *watch], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _log_encoder_path(encoder: Encoder) -> None:
    """Logs what an in-process encoder runs on (device, dtype, backend); nothing for gRPC."""
    from encoder_service.local import LocalEncoder

    if isinstance(encoder, LocalEncoder):
        log.info("encoder: %s", encoder.describe())


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
    from web_ui.app import create_app, serve_http

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


async def _stop(task: asyncio.Task[Any] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close_within(encoder: Encoder, grace_s: float) -> None:
    """Releases the encoder; work its threads still do is left to end with the process."""
    try:
        await asyncio.wait_for(encoder.close(), max(0.5, grace_s))
    except TimeoutError:
        log.warning("releasing the encoder took longer than the grace; exiting anyway")


def _failed(task: asyncio.Task[Any] | None) -> bool:
    """Whether task ended by itself with an error (logged here)."""
    if task is None or not task.done() or task.cancelled() or task.exception() is None:
        return False
    log.error("the web page stopped: %s", task.exception())
    return True


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
    from encoder_service.admission import admitted
    from encoder_service.settings import EncoderSettings

    start_metrics_server(settings.metrics_port)
    index = await asyncio.to_thread(open_search_index, index_settings)
    collection = await asyncio.to_thread(_collection_or_none, index)
    chosen = local_model_for(model, collection)
    failed = asyncio.Event()
    load: asyncio.Task[None] | None = None
    encoder: Encoder
    if settings.encoder_target:
        encoder = await open_encoder(settings)
    else:
        loading = LoadingEncoder(chosen or "named by ENCODER_MODEL")
        encoder = loading

        async def load_model() -> None:
            try:
                loaded = await open_encoder(settings, chosen, device)
                _log_encoder_path(loaded)
                loading.attach(loaded)
            except Exception:
                log.exception("could not load the model; stopping")
                failed.set()

        load = asyncio.create_task(load_model())
    # Image searches pass the same decode admission as the encoder service's callers.
    encoder = admitted(encoder, EncoderSettings().decode_budget())
    search = PosterSearch(encoder, index, settings)
    server, port = create_server(settings, search)
    await server.start()
    log.info("search listening on %s:%d", settings.host, port)
    failure = asyncio.create_task(failed.wait())
    http: asyncio.Task[None] | None = None
    try:
        if web:
            http = await _start_web(search, index, settings, poster_roots)
        await _wait_for_stop(failure, *([http] if http is not None else []))
        if _failed(http):
            failed.set()
        log.info("stopping: in-flight calls get %.1f s", settings.grace_s)
    finally:
        # Everything stops at once, so the whole stop fits in one grace.
        await asyncio.gather(_stop(http), _stop(failure), _stop(load), server.stop())
        await _close_within(encoder, settings.grace_s)
        await asyncio.to_thread(index.close)
    log.info("search stopped")
    return 1 if failed.is_set() else 0


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
    from encoder_service.admission import admitted
    from encoder_service.server import create_server as create_encoder_server
    from encoder_service.settings import EncoderSettings

    start_metrics_server(settings.metrics_port)
    index = await asyncio.to_thread(open_search_index, index_settings)
    collection = await asyncio.to_thread(_collection_or_none, index)
    local = settings.model_copy(update={"encoder_target": ""})
    encoder_settings = EncoderSettings(host=settings.host, port=encoder_port)
    loaded = await open_encoder(local, local_model_for(model, collection), device)
    _log_encoder_path(loaded)
    # One admission for both doors: the web page and search gRPC in this process, and
    # the encoder service's callers, share the decode budget.
    encoder = admitted(
        loaded,
        encoder_settings.decode_budget(),
    )
    search = PosterSearch(encoder, index, settings)
    encoder_server, bound_encoder_port = create_encoder_server(encoder_settings, encoder)
    search_server, search_port = create_server(settings, search)
    await encoder_server.start()
    await search_server.start()
    log.info("serving: encoder gRPC :%d, search gRPC :%d", bound_encoder_port, search_port)
    http = await _start_web(search, index, settings, poster_roots)
    web_failed = False
    try:
        await _wait_for_stop(http)
        web_failed = _failed(http)
        log.info("stopping: in-flight calls get %.1f s", settings.grace_s)
    finally:
        # Everything stops at once, so the whole stop fits in one grace.
        await asyncio.gather(
            _stop(http), search_server.stop(), drain_and_stop(encoder_server, settings.grace_s)
        )
        await _close_within(encoder, settings.grace_s)
        await asyncio.to_thread(index.close)
    log.info("stopped")
    return 1 if web_failed else 0
