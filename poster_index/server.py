"""The server backend: a Qdrant server (or qdrant-client's local mode) through qdrant-client."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import grpc
import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from poster_index.base import (
    DEFAULT_COLLECTION,
    VECTOR_NAME,
    IndexDamagedError,
    IndexUnavailableError,
    ModelMismatchError,
    PayloadUpdate,
    PosterIndexError,
    StoredContent,
)
from poster_index.filters import rated_only_client, to_client_filter
from poster_index.model_record import check_same_model
from poster_index.payload import (
    FIELD_GENRES,
    FIELD_IMAGE_HASH,
    FIELD_METADATA_HASH,
    FIELD_MOVIE_ID,
    FIELD_RATING,
    FIELD_YEAR,
    HASH_FIELDS,
    INDEX_OWNED_FIELDS,
    payload_to_poster,
    point_id,
    point_payload,
)
from poster_index.tuning import DEFAULT_TUNING, IndexTuning
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter, SearchHit

_MAX_GENRES = 10_000
_RETRIEVE_CHUNK = 1_000
_META_MODEL_ID = "poster_search_model_id"
_META_DIMENSION = "poster_search_dimension"
_UNAVAILABLE_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
}
_PAYLOAD_INDEXES: tuple[tuple[str, models.PayloadSchemaType], ...] = (
    (FIELD_GENRES, models.PayloadSchemaType.KEYWORD),
    (FIELD_YEAR, models.PayloadSchemaType.INTEGER),
    (FIELD_RATING, models.PayloadSchemaType.FLOAT),
    (FIELD_MOVIE_ID, models.PayloadSchemaType.KEYWORD),
)

P = ParamSpec("P")
R = TypeVar("R")


def _mapped_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turns the client's transport failures into IndexUnavailableError.

    Also holds the index's I/O lock for the call: qdrant-client's local mode keeps its
    collections in plain Python objects that concurrent calls from worker threads corrupt,
    so there every call runs alone (a server takes concurrent calls; no lock then).
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        lock = getattr(args[0], "_io_lock", None) if args else None
        try:
            with lock if lock is not None else contextlib.nullcontext():
                return fn(*args, **kwargs)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code in _UNAVAILABLE_CODES or code is None:
                raise IndexUnavailableError(f"Qdrant server unavailable: {code}") from exc
            raise PosterIndexError(f"Qdrant request failed: {code}: {exc}") from exc
        except (ResponseHandlingException, httpx.TransportError, ConnectionError) as exc:
            raise IndexUnavailableError(f"Qdrant server unavailable: {exc}") from exc
        except UnexpectedResponse as exc:
            if exc.status_code in (401, 403, 502, 503, 504):
                raise IndexUnavailableError(f"Qdrant server refused: {exc}") from exc
            raise PosterIndexError(f"Qdrant request failed: {exc}") from exc

    return wrapper


def quantization_config(tuning: IndexTuning) -> models.ScalarQuantization | None:
    """The collection's quantization for a Qdrant server: int8 kept in RAM, or none.

    qdrant-client's local mode accepts and ignores it (it searches exactly in numpy).
    """
    if not tuning.int8:
        return None
    return models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=tuning.int8_quantile, always_ram=True
        )
    )


class ServerPosterIndex:
    """Posters in a collection of a Qdrant server, reached through a QdrantClient.

    The model id and dimension are stored as the collection's metadata. Durability is the
    server's: upserts wait for the server to apply them (wait=True).
    """

    def __init__(
        self,
        client: QdrantClient,
        collection: str = DEFAULT_COLLECTION,
        tuning: IndexTuning = DEFAULT_TUNING,
        shard_number: int | None = None,
        replication_factor: int | None = None,
    ) -> None:
        """Wraps a client; nothing is sent until the first call.

        Args:
            client: A connected client (server URL, or ":memory:"/path for local mode).
            collection: Collection name.
            tuning: HNSW build and query parameters.
            shard_number: Shards of the collection if this creates it (None: the server's).
            replication_factor: Copies of each shard if this creates the collection.
        """
        self._client = client
        self._collection = collection
        self._tuning = tuning
        self._shard_number = shard_number
        self._replication_factor = replication_factor
        self._lock = threading.Lock()
        self._model: CollectionModel | None = None
        options = client.init_options
        local = options.get("path") is not None or options.get("location") == ":memory:"
        self._io_lock: threading.RLock | None = threading.RLock() if local else None

    @_mapped_errors
    def _read_model(self) -> CollectionModel | None:
        if not self._client.collection_exists(self._collection):
            return None
        info = self._client.get_collection(self._collection)
        if info.status == models.CollectionStatus.RED:
            # Qdrant's own word that an optimization failed on the collection's data.
            raise IndexDamagedError(
                f"Qdrant reports collection {self._collection!r} as damaged (status red); "
                "see the Qdrant server's log, or re-ingest into a fresh collection"
            )
        meta = info.config.metadata or {}
        if _META_MODEL_ID in meta and _META_DIMENSION in meta:
            return CollectionModel(str(meta[_META_MODEL_ID]), int(meta[_META_DIMENSION]))
        vectors = info.config.params.vectors
        params = vectors.get(VECTOR_NAME) if isinstance(vectors, dict) else None
        size = params.size if params is not None else 0
        # A collection this code did not create: known size, unknown model.
        return CollectionModel("", size)

    @_mapped_errors
    def ensure_collection(self, model: CollectionModel) -> None:
        """Creates the collection with its payload indexes, or checks the existing one.

        Raises:
            ModelMismatchError: It exists with another model id or dimension.
            IndexUnavailableError: The server cannot be reached.
        """
        with self._lock:
            recorded = self._read_model()
            if recorded is not None:
                check_same_model(recorded, model, f"Qdrant collection {self._collection!r}")
                self._model = recorded
                return
            t = self._tuning
            self._client.create_collection(
                self._collection,
                vectors_config={
                    VECTOR_NAME: models.VectorParams(
                        size=model.dimension,
                        distance=models.Distance.COSINE,
                    )
                },
                hnsw_config=models.HnswConfigDiff(
                    m=t.m,
                    ef_construct=t.ef_construct,
                    full_scan_threshold=t.full_scan_kb,
                    payload_m=t.payload_m,
                ),
                quantization_config=quantization_config(t),
                optimizers_config=models.OptimizersConfigDiff(
                    indexing_threshold=t.indexing_threshold_kb,
                    default_segment_number=t.segments,
                ),
                metadata={_META_MODEL_ID: model.model_id, _META_DIMENSION: model.dimension},
                shard_number=self._shard_number,
                replication_factor=self._replication_factor,
            )
            # Before any point, so HNSW builds on the server add links per genre.
            for field, schema in _PAYLOAD_INDEXES:
                self._client.create_payload_index(
                    self._collection, field, field_schema=schema, wait=True
                )
            self._model = model

    def collection_model(self) -> CollectionModel | None:
        """The model recorded with the collection, or None when there is no collection."""
        return self._read_model()

    def _stored_payloads(self, ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict]:
        """point id -> the named payload fields, for each of ids that is stored."""
        found: dict[str, dict] = {}
        for start in range(0, len(ids), _RETRIEVE_CHUNK):
            records = self._client.retrieve(
                self._collection,
                ids=list(ids[start : start + _RETRIEVE_CHUNK]),
                with_payload=list(fields),
                with_vectors=False,
            )
            found.update({str(r.id): dict(r.payload or {}) for r in records})
        return found

    @_mapped_errors
    def upsert(
        self, items: Sequence[PosterVector], image_hashes: Mapping[str, str] | None = None
    ) -> None:
        """Stores posters with their vectors, replacing any with the same movie id.

        Index-owned payload fields (a caption) of a replaced point are kept unless the
        poster sets them; image_hashes (movie id -> poster file hash) are recorded.

        Raises:
            ModelMismatchError: A vector's size is not the collection's dimension.
        """
        if not items:
            return
        hashes = image_hashes or {}
        dimension = self._model.dimension if self._model is not None else None
        for item in items:
            if dimension is not None and len(item.vector) != dimension:
                raise ModelMismatchError(
                    f"movie {item.poster.movie_id!r} has a {len(item.vector)}-d vector; "
                    f"the collection holds {dimension}-d vectors"
                )
        ids = [point_id(item.poster.movie_id) for item in items]
        stored = self._stored_payloads(ids, INDEX_OWNED_FIELDS)
        points = [
            models.PointStruct(
                id=pid,
                vector={VECTOR_NAME: [float(x) for x in item.vector]},
                payload=point_payload(
                    item.poster, hashes.get(item.poster.movie_id), stored.get(pid)
                ),
            )
            for pid, item in zip(ids, items, strict=True)
        ]
        self._client.upsert(self._collection, points=points, wait=True)

    @_mapped_errors
    def update_payloads(self, items: Sequence[PayloadUpdate]) -> None:
        """Replaces the payload of stored posters, keeping their vectors."""
        if not items:
            return
        ids = [point_id(item.poster.movie_id) for item in items]
        stored = self._stored_payloads(ids, INDEX_OWNED_FIELDS)
        for pid, item in zip(ids, items, strict=True):
            if pid in stored:
                self._client.overwrite_payload(
                    self._collection,
                    payload=point_payload(item.poster, item.image_hash, stored[pid]),
                    points=[pid],
                    wait=True,
                )

    @_mapped_errors
    def stored_content(self, movie_ids: Iterable[str]) -> dict[str, StoredContent]:
        """The recorded hashes of each of movie_ids that is stored."""
        by_point = {point_id(m): m for m in movie_ids}
        stored = self._stored_payloads(list(by_point), HASH_FIELDS)
        return {
            by_point[pid]: StoredContent(
                metadata_hash=payload.get(FIELD_METADATA_HASH),
                image_hash=payload.get(FIELD_IMAGE_HASH),
            )
            for pid, payload in stored.items()
        }

    @_mapped_errors
    def movie_ids(self) -> set[str]:
        """Every movie id in the collection."""
        found: set[str] = set()
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self._collection,
                limit=_RETRIEVE_CHUNK,
                offset=offset,
                with_payload=[FIELD_MOVIE_ID],
                with_vectors=False,
            )
            found.update(str((r.payload or {})[FIELD_MOVIE_ID]) for r in records)
            if offset is None:
                return found

    @_mapped_errors
    def delete(self, movie_ids: Iterable[str]) -> set[str]:
        """Deletes movies by id; returns those that were stored."""
        stored = self.existing_ids(list(dict.fromkeys(movie_ids)))
        if stored:
            self._client.delete(
                self._collection,
                points_selector=models.PointIdsList(points=[point_id(m) for m in stored]),
                wait=True,
            )
        return stored

    @_mapped_errors
    def existing_ids(self, movie_ids: Iterable[str]) -> set[str]:
        """The subset of movie_ids already stored."""
        by_point = {point_id(m): m for m in movie_ids}
        wanted = list(by_point)
        found: set[str] = set()
        for start in range(0, len(wanted), _RETRIEVE_CHUNK):
            records = self._client.retrieve(
                self._collection,
                ids=wanted[start : start + _RETRIEVE_CHUNK],
                with_payload=False,
                with_vectors=False,
            )
            found.update(by_point[str(r.id)] for r in records)
        return found

    def _search_params(
        self, flt: SearchFilter, qfilter: models.Filter | None, page: int
    ) -> models.SearchParams:
        t = self._tuning
        # Same plan as the Edge backend: int8 candidates rescored with the original vectors.
        quantization = models.QuantizationSearchParams(rescore=True, oversampling=t.oversampling)
        if not flt.is_empty:
            # Exact search when the filter is narrow.
            estimate = self._client.count(self._collection, count_filter=qfilter, exact=False)
            if t.use_exact(estimate.count, bool(flt.genres_none)):
                return models.SearchParams(exact=True, quantization=quantization)
        acorn = None
        if t.acorn_max_selectivity is not None and not flt.is_empty:
            acorn = models.AcornSearchParams(enable=True, max_selectivity=t.acorn_max_selectivity)
        return models.SearchParams(
            hnsw_ef=max(t.hnsw_ef, page), acorn=acorn, quantization=quantization
        )

    @_mapped_errors
    def search(
        self,
        vector: Sequence[float],
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """Nearest posters to vector (cosine) among those passing flt, best first."""
        excluded = point_id(exclude_movie_id) if exclude_movie_id is not None else None
        qfilter = to_client_filter(flt, excluded)
        response = self._client.query_points(
            self._collection,
            query=[float(x) for x in vector],
            using=VECTOR_NAME,
            query_filter=qfilter,
            search_params=self._search_params(flt, qfilter, limit + offset),
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [
            SearchHit(payload_to_poster(p.payload or {}), float(p.score)) for p in response.points
        ]

    @_mapped_errors
    def browse(self, flt: SearchFilter, limit: int, offset: int = 0) -> list[SearchHit]:
        """Posters passing flt, highest rating first, then the unrated; score is the rating."""
        base = to_client_filter(flt)
        rated = self._client.query_points(
            self._collection,
            query=models.OrderByQuery(
                order_by=models.OrderBy(key=FIELD_RATING, direction=models.Direction.DESC)
            ),
            query_filter=base,
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        hits = []
        for p in rated.points:
            poster = payload_to_poster(p.payload or {})
            hits.append(SearchHit(poster, poster.rating or 0.0))
        if len(hits) < limit:
            # Ordering by rating skips posters without one; they follow the rated ones.
            n_rated = self._client.count(
                self._collection, count_filter=rated_only_client(base, rated=True), exact=True
            ).count
            unrated = self._client.query_points(
                self._collection,
                query_filter=rated_only_client(base, rated=False),
                limit=limit - len(hits),
                offset=max(0, offset - n_rated),
                with_payload=True,
            )
            hits.extend(SearchHit(payload_to_poster(p.payload or {}), 0.0) for p in unrated.points)
        return hits

    def _record(self, movie_id: str, with_vector: bool) -> Any:
        records = self._client.retrieve(
            self._collection,
            ids=[point_id(movie_id)],
            with_payload=True,
            with_vectors=[VECTOR_NAME] if with_vector else False,
        )
        return records[0] if records else None

    @_mapped_errors
    def get_vector(self, movie_id: str) -> list[float] | None:
        """The stored vector of a movie, or None when it is not in the collection."""
        record = self._record(movie_id, with_vector=True)
        if record is None or not isinstance(record.vector, dict):
            return None
        vector = record.vector.get(VECTOR_NAME)
        return [float(x) for x in vector] if isinstance(vector, list) else None

    @_mapped_errors
    def get_poster(self, movie_id: str) -> Poster | None:
        """The stored payload of a movie, or None."""
        record = self._record(movie_id, with_vector=False)
        return payload_to_poster(record.payload or {}) if record is not None else None

    @_mapped_errors
    def genre_counts(self) -> dict[str, int]:
        """Every genre in the collection with its number of posters."""
        response = self._client.facet(
            self._collection, key=FIELD_GENRES, limit=_MAX_GENRES, exact=True
        )
        return {str(hit.value): int(hit.count) for hit in response.hits}

    @_mapped_errors
    def count(self, flt: SearchFilter | None = None) -> int:
        """Number of posters passing flt (all when None)."""
        result = self._client.count(
            self._collection, count_filter=to_client_filter(flt), exact=True
        )
        return int(result.count)

    def close(self) -> None:
        """Closes the client's connections."""
        self._client.close()
