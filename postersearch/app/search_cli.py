"""Commands ``search``, ``search-server``, ``serve`` and ``demo`` of ``poster-search``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from encoder_service.settings import DEFAULT_MODEL
from poster_index.settings import IndexSettings
from postersearch.app.demo import DemoOptions, run_demo
from postersearch.app.query import Ask, ask_embedded, ask_server
from postersearch.app.servers import run_search_server, run_serve
from postersearch.app.table import format_table
from postersearch.domain import SearchFilter, SearchMode
from postersearch.grpc_server import exit_code_now
from postersearch.settings_errors import one_line_settings_errors
from search_service.core import SearchPage
from search_service.errors import DependencyUnavailableError, SearchError
from search_service.settings import SearchSettings

_YEAR_RANGE = re.compile(r"^\s*(\d{4})?\s*(-)?\s*(\d{4})?\s*$")
_DECADE = re.compile(r"^\s*(\d{3})0s\s*$")


def parse_years(text: str) -> tuple[int | None, int | None]:
    """Parses "1980-1989", "1980", "1980-", "-1989" or "1980s" into an inclusive range."""
    decade = _DECADE.match(text)
    if decade:
        start = int(decade.group(1)) * 10
        return start, start + 9
    match = _YEAR_RANGE.match(text)
    if not match or not (match.group(1) or match.group(3)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a year range: use 1980-1989, 1980, 1980-, -1989 or 1980s"
        )
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(3)) if match.group(3) else None
    if match.group(2) is None:  # a single year
        return first, first
    return first, last


def _genres(values: list[str] | None) -> tuple[str, ...]:
    # Accepted repeated or comma-separated: --genre Horror --genre Thriller, --genre Horror,Thriller
    return tuple(g.strip() for v in values or () for g in v.split(",") if g.strip())


def filter_from_args(args: argparse.Namespace) -> SearchFilter:
    """The SearchFilter of the search command's options."""
    years = parse_years(args.year) if args.year else (None, None)
    genres = _genres(args.genre)
    return SearchFilter(
        genres_any=() if args.all_genres else genres,
        genres_all=genres if args.all_genres else (),
        genres_none=_genres(args.not_genre),
        year_from=years[0],
        year_to=years[1],
        min_rating=args.min_rating,
    )


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", metavar="PATH", help="Qdrant Edge folder (default QDRANT_PATH, ./data/index)"
    )
    parser.add_argument("--qdrant-url", help="use a Qdrant server instead (QDRANT_URL)")
    parser.add_argument("--collection", help="collection name (QDRANT_COLLECTION, posters)")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="in-process model id or folder (default: ENCODER_MODEL, else the model the "
        "collection was built with)",
    )
    parser.add_argument("--device", help="in-process encoder device: auto, cpu, cuda, mps")


def _add_poster_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poster-root",
        action="append",
        type=Path,
        help="folder whose poster files the page may show (repeatable; default: the "
        "folder holding the collection's posters)",
    )


def index_settings_from(args: argparse.Namespace) -> IndexSettings:
    """IndexSettings from QDRANT_* variables, overridden by --index/--qdrant-url/--collection."""
    overrides: dict[str, Any] = {}
    if args.index:
        overrides.update(backend="edge", path=args.index)
    if args.qdrant_url:
        overrides.update(backend="server", url=args.qdrant_url)
    if args.collection:
        overrides["collection"] = args.collection
    return IndexSettings(**overrides)


def search_settings_from(args: argparse.Namespace) -> SearchSettings:
    """SearchSettings from SEARCH_* variables, overridden by the command line."""
    overrides: dict[str, Any] = {}
    for option, field in (
        ("host", "host"),
        ("port", "port"),
        ("http_port", "http_port"),
        ("encoder", "encoder_target"),
        ("encoder_api_key", "encoder_api_key"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            overrides[field] = value
    return SearchSettings(**overrides)


def add_commands(subparsers: Any) -> None:
    """Adds the search area's subcommands to ``poster-search``."""
    p = subparsers.add_parser(
        "search",
        help="search posters by description, image or similar movie, with filters",
        description='Example: poster-search search "dark red horror poster" --genre Horror '
        "--year 1980-1989 --min-rating 6",
    )
    p.add_argument("query", nargs="?", default="", help="description, English or Korean")
    p.add_argument("--genre", action="append", help="genre (repeat or comma-separate)")
    p.add_argument("--all-genres", action="store_true", help="require every --genre, not any")
    p.add_argument("--not-genre", action="append", help="genre to leave out (repeatable)")
    p.add_argument("--year", help="year or range: 1980-1989, 1980, 1980-, -1989, 1980s")
    p.add_argument("--min-rating", type=float, help="minimum rating, 0-10")
    p.add_argument(
        "--mode",
        choices=[m.value for m in SearchMode],
        help="hybrid: image vectors and the movies' words fused (default where the "
        "collection has words); vector: the images alone; text: the words alone (BM25)",
    )
    p.add_argument("--limit", type=int, help="results per page, 1-100 (default 10)")
    p.add_argument("--offset", type=int, help="results to skip (paging)")
    p.add_argument(
        "--min-probability",
        type=float,
        metavar="P",
        help="keep only posters the model gives at least this match probability (0-1; "
        "SigLIP models); posters found by their words are kept",
    )
    p.add_argument(
        "--no-translate",
        action="store_true",
        help="search a Korean (or other translated script) query as typed only",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument("--image", type=Path, metavar="FILE", help="search by an image file")
    how.add_argument("--similar", metavar="MOVIE_ID", help="posters like this movie's")
    p.add_argument("--server", metavar="HOST:PORT", help="ask a running search server")
    p.add_argument("--api-key", help="search server API key (SEARCH_API_KEY)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_index_options(p)
    _add_model_options(p)
    p.set_defaults(func=search_command)

    p = subparsers.add_parser(
        "search-server", help="run the search gRPC service (and, with --http-port, the web page)"
    )
    p.add_argument("--host", help="interface to bind (SEARCH_HOST, 0.0.0.0)")
    p.add_argument("--port", type=int, help="gRPC port (SEARCH_PORT, 50052)")
    p.add_argument(
        "--encoder",
        metavar="TARGET",
        help="encoder service, host:port or dns:///host:port (SEARCH_ENCODER_TARGET); "
        "without it the model runs in-process",
    )
    p.add_argument("--encoder-api-key", help="encoder service key (SEARCH_ENCODER_API_KEY)")
    p.add_argument(
        "--http-port",
        type=int,
        help="also serve the web page and JSON API on this port (off unless given)",
    )
    _add_poster_root_option(p)
    _add_index_options(p)
    _add_model_options(p)
    p.set_defaults(func=search_server_command)

    p = subparsers.add_parser(
        "serve",
        help="encoder, search and the web page in one process over the embedded index",
    )
    p.add_argument("--host", help="interface to bind (SEARCH_HOST, 0.0.0.0)")
    p.add_argument("--port", type=int, help="search gRPC port (SEARCH_PORT, 50052)")
    p.add_argument("--encoder-port", type=int, default=50051, help="encoder gRPC port")
    p.add_argument("--http-port", type=int, help="web page port (SEARCH_HTTP_PORT, 8080)")
    _add_poster_root_option(p)
    _add_index_options(p)
    _add_model_options(p)
    p.set_defaults(func=serve_command)

    p = subparsers.add_parser(
        "demo",
        help="make a synthetic collection, ingest it and run example searches",
    )
    p.add_argument("--count", type=int, default=2000, help="synthetic posters (default 2000)")
    p.add_argument(
        "--dataset", type=Path, help="your own dataset instead (manifest, MovieLens, TMDB)"
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model to use; a random stand-in replaces it, with a notice, when it cannot be had",
    )
    p.add_argument("--workdir", type=Path, default=Path("data/demo"), help="where to keep data")
    p.add_argument("--limit", type=int, default=5, help="results per example search")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic collection")
    p.add_argument("--device", help="encoder device: auto, cpu, cuda, mps")
    p.set_defaults(func=demo_command)


@one_line_settings_errors
def search_command(args: argparse.Namespace) -> int:
    """Runs one search and prints a table; exit 0, 2 for a refused request, 1 when down."""
    try:
        flt = filter_from_args(args)
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mode = SearchMode(args.mode) if args.mode else None
    ask = Ask(
        args.query, flt, args.limit, args.offset, args.image, args.similar, mode,
        min_probability=args.min_probability, translate=not args.no_translate,
    )  # fmt: skip
    settings = search_settings_from(args)
    try:
        if args.server:
            page = asyncio.run(ask_server(ask, args.server, args.api_key or settings.api_key))
        else:
            page = asyncio.run(
                ask_embedded(ask, settings, index_settings_from(args), args.model, args.device)
            )
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, DependencyUnavailableError) else 2
    if args.json:
        print(json.dumps(_page_json(page), ensure_ascii=False, indent=2))
        return 0
    browsing = not args.query.strip() and args.image is None and args.similar is None
    if page.notice:
        print(f"note: {page.notice}", file=sys.stderr)
    if page.mode is not None:
        # On stderr with the notice, so that stdout is the table alone.
        print(f"mode: {page.mode.value}", file=sys.stderr)
    if page.translation is not None:
        print(f"translated: {page.translation.text} ({page.translation.model_id})", file=sys.stderr)
    if page.no_good_match:
        print("no good match")
        return 0
    print(format_table(page.hits, args.offset or 0, show_score=not browsing))
    return 0


def _page_json(page: SearchPage) -> dict[str, Any]:
    from search_service.understanding import probability_json, understanding_json

    return {
        "model_id": page.model_id,
        "mode": page.mode.value if page.mode is not None else None,
        "notice": page.notice,
        **understanding_json(page),
        "hits": [
            {
                "movie_id": h.poster.movie_id,
                "title": h.poster.title,
                "year": h.poster.year,
                "genres": list(h.poster.genres),
                "rating": h.poster.rating,
                "poster": h.poster.poster,
                "score": round(h.score, 6),
                "found_by": list(h.found_by),
                "probability": probability_json(h.probability),
            }
            for h in page.hits
        ],
    }


@one_line_settings_errors
def search_server_command(args: argparse.Namespace) -> int:
    """Runs the search gRPC server until SIGTERM or SIGINT."""
    code = asyncio.run(
        run_search_server(
            search_settings_from(args),
            index_settings_from(args),
            args.model,
            args.device,
            web=args.http_port is not None,
            poster_roots=args.poster_root or (),
        )
    )
    return exit_code_now(code, thread_prefix="encoder-")


@one_line_settings_errors
def serve_command(args: argparse.Namespace) -> int:
    """Runs encoder, search and the web page in one process."""
    code = asyncio.run(
        run_serve(
            search_settings_from(args),
            index_settings_from(args),
            args.encoder_port,
            args.model,
            args.device,
            args.poster_root or (),
        )
    )
    return exit_code_now(code, thread_prefix="encoder-")


@one_line_settings_errors
def demo_command(args: argparse.Namespace) -> int:
    """Runs the demo: collection, ingest, example searches."""
    if args.count < 1 and args.dataset is None:
        print("error: --count must be at least 1", file=sys.stderr)
        return 2
    options = DemoOptions(
        count=args.count,
        dataset=args.dataset,
        model=args.model,
        workdir=args.workdir,
        limit=args.limit,
        seed=args.seed,
        device=args.device,
    )
    return asyncio.run(run_demo(options))
