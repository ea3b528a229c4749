"""The web page and its JSON API, served beside the gRPC services by ``poster-search serve``.

The endpoints mirror the SearchService RPCs: each request is read into the RPC's proto
message (`web_ui.params`) and answered through `search_service.mapping`, as a gRPC call is,
and every rule about what a valid request is stays PosterSearch's, so the page, the JSON
API and gRPC accept and refuse the same requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from postersearch.callers import CALLER
from postersearch.grpc_server import bounded
from postersearch.status import Outcome, outcome_of
from postersearch.v1 import search_pb2
from search_service.errors import InvalidRequestError, SearchError
from search_service.mapping import run_search, run_search_by_image, run_similar
from search_service.understanding import understanding_json
from web_ui.files import POSTER_URL_PREFIX, PosterFiles
from web_ui.params import request_from_json, request_from_query, response_json
from web_ui.upload import PayloadTooLargeError, read_image

if TYPE_CHECKING:
    from search_service.core import PosterSearch, SearchPage

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 16 * 1024 * 1024
# A search request is a query of at most a few thousand characters and a filter: far
# below this. Bodies are counted as they stream in, so a larger one is never held.
DEFAULT_MAX_JSON_BYTES = 64 * 1024
# What the page and probes need answers without the key; the JSON API needs it when set.
API_PREFIX = "/api/"
PUBLIC_API_PATHS = frozenset({"/api/openapi.json"})
# The page loads nothing but its own files and the poster images (which may be http(s)
# URLs of the dataset); no script or style from anywhere else may run.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' http: https: data: blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": bounded(message)}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def known(_: Request, exc: Exception) -> Response:
        # The status comes from the one table (postersearch.status).
        outcome = outcome_of(exc) or Outcome.INTERNAL
        # A dependency that is down usually comes back within seconds.
        headers = {"Retry-After": "2"} if outcome.retry_later else None
        return _error(outcome.http, str(exc), headers=headers)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _error(exc.status_code, str(exc.detail), headers=exc.headers)

    async def validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "the server failed to answer; its log says why")

    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(SearchError, known)
    app.add_exception_handler(PayloadTooLargeError, known)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation)


async def _json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is {declared} bytes; at most {limit} are accepted")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLargeError(f"the body is over the limit of {limit} bytes")
    if not raw.strip():
        return {}
    try:
        return json.loads(bytes(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequestError("the request body is not valid JSON: nested too deep") from None


def _install_api_key(app: FastAPI, api_key: str) -> None:
    expected = f"Bearer {api_key}".encode()

    @app.middleware("http")
    async def require_key(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith(API_PREFIX) and path not in PUBLIC_API_PATHS:
            given = request.headers.get("authorization")
            if given is None:
                return _error(
                    401,
                    "missing 'Authorization: Bearer <key>' header",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            # Constant-time comparison, so the key cannot be guessed from response timing.
            if not hmac.compare_digest(given.encode(), expected):
                return _error(401, "wrong API key", headers={"WWW-Authenticate": "Bearer"})
        response: Response = await call_next(request)
        return response


def _page_json(page: SearchPage, files: PosterFiles) -> dict[str, Any]:
    mode = page.mode.value if page.mode is not None else None
    return response_json(
        page.hits, page.model_id, files, mode, page.notice, understanding_json(page)
    )


def create_app(
    search: PosterSearch,
    poster_roots: Sequence[Path] = (),
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    api_key: str | None = None,
) -> FastAPI:
    """The web page and JSON API over one PosterSearch.

    Args:
        search: Answers every query; its validation and errors are the API's.
        poster_roots: Folders whose files may be served as poster images. Posters whose
            path lies outside every root get no image (the page shows the title instead).
        max_upload_bytes: Largest image accepted by ``/api/search-by-image`` (413 above).
        max_json_bytes: Largest JSON body accepted by ``POST /api/search`` (413 above).
        api_key: When set, every ``/api/`` call but the schema needs
            ``Authorization: Bearer <key>`` (401 without it); the page, its files, the
            poster images and ``/healthz`` stay public.

    Returns:
        The FastAPI application; serve it with :func:`serve_http` or any ASGI server.
    """
    app = FastAPI(
        title="Poster search",
        summary="Find movie posters described in words (Korean or English).",
        # FastAPI's interactive docs load their scripts from a CDN; the schema is enough.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    files = PosterFiles(poster_roots)
    _install_error_handlers(app)
    if api_key:
        _install_api_key(app, api_key)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Answers while the process serves requests."""
        return {"status": "ok"}

    @app.get("/api/genres")
    async def genres() -> dict[str, Any]:
        """Every genre in the collection with its number of posters, most common first."""
        counts = await search.genre_counts()
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))
        return {"genres": [{"genre": name, "count": count} for name, count in ordered]}

    @app.get("/api/limits")
    async def limits() -> dict[str, int]:
        """What the page checks before sending: the largest image upload accepted, in bytes."""
        return {"max_upload_bytes": max_upload_bytes}

    @app.get("/api/search")
    async def search_get(request: Request) -> dict[str, Any]:
        """Posters matching ``query`` (``mode``: hybrid, vector or text), with the filters;
        ``exclude`` (repeatable), ``exclude_movie_ids`` (repeatable) and ``diverse``."""
        message = request_from_query(request.query_params, search_pb2.SearchRequest())
        return _page_json(await run_search(search, message), files)

    @app.post("/api/search")
    async def search_post(request: Request) -> dict[str, Any]:
        """The same search with a JSON SearchRequest body."""
        body = await _json_body(request, max_json_bytes)
        message = request_from_json(body, search_pb2.SearchRequest())
        return _page_json(await run_search(search, message), files)

    @app.get("/api/similar/{movie_id}")
    async def similar(movie_id: str, request: Request) -> dict[str, Any]:
        """Posters that look like this movie's poster; the movie itself is left out.

        ``query`` adds words to its look ("but in blue")."""
        message = request_from_query(
            request.query_params,
            search_pb2.SimilarPostersRequest(movie_id=movie_id),
            elsewhere=frozenset({"movie_id"}),
        )
        page = await run_similar(search, message)
        return response_json(page.hits, page.model_id, files)

    @app.post("/api/search-by-image")
    async def search_by_image(request: Request) -> dict[str, Any]:
        """Posters that look like the uploaded image (multipart ``image`` field or raw body).

        Filters, limit, offset, exclusions and ``query`` (words added to the image's look,
        "but in blue") travel in the query string.
        """
        message = request_from_query(
            request.query_params,
            search_pb2.SearchByImageRequest(),
            elsewhere=frozenset({"image"}),
        )
        # Decode work is charged to the uploading client, as for gRPC callers.
        CALLER.set(f"http:{request.client.host}" if request.client else "http:unknown")
        message.image = await read_image(request, max_upload_bytes)
        page = await run_search_by_image(search, message)
        return response_json(page.hits, page.model_id, files)

    @app.get(POSTER_URL_PREFIX + "{path:path}", include_in_schema=False)
    async def poster_file(path: str) -> Response:
        found = files.resolve(path)
        if found is None:
            return _error(404, "no such poster file")
        return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the process embedding it.

    ``poster-search serve`` runs gRPC servers in the same loop and stops everything on
    SIGINT/SIGTERM itself; uvicorn's own handlers would replace its handlers.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _run(server: uvicorn.Server, host: str, port: int) -> None:
    try:
        await server.serve()
    except SystemExit:
        # uvicorn exits the process when it cannot bind; here that would take the gRPC
        # servers down with no word, so it becomes an error the caller can handle.
        raise OSError(f"the web page cannot listen on {host}:{port}") from None


async def serve_http(app: FastAPI, host: str, port: int, grace_s: float | None = None) -> None:
    """Serves app with uvicorn inside the running event loop until cancelled.

    Cancelling the awaiting task stops the server gracefully (open connections get
    uvicorn's graceful shutdown) before the cancellation propagates. Signals are left to
    the caller, which cancels this task when it is told to stop; open connections get at
    most grace_s seconds (None: as long as they take).

    Raises:
        OSError: The address cannot be bound (port in use, no such interface).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # The project configures logging itself; uvicorn must not replace it.
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(grace_s) if grace_s is not None else None,
    )
    server = _EmbeddedServer(config)
    task = asyncio.ensure_future(_run(server, host, port))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
