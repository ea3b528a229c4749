"""The server backend: a remote Qdrant server (or qdrant-client's local mode) through
qdrant-client. Named remote, not server, as it serves nothing: it is a client of Qdrant."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar, cast

import grpc
import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from poster_index.base import (
    DEFAULT_COLLECTION,
    VECTOR_NAME,
    IndexDamagedError,
    IndexUnavailableError,
    PayloadUpdate,
    PosterIndexError,
    StoredContent,
)
from poster_index.filters import to_client_filter, unrated_only_client
from poster_index.hybrid import (
    BRANCH_TEXT,
    DEFAULT_FUSION,
    FusionWeights,
    RungAnswer,
    fused_limit,
    fused_window,
    ranked_hybrid,
)
from poster_index.lexical import FIELD_TEXT_TERMS, TEXT_VECTOR, LexicalQuery, text_payload
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
from poster_index.plan import (
    Walk,
    exact_route,
    laddered,
    planned_browse,
    planned_search,
    recommend_walk,
    walk_for,
)
from poster_index.points import RETRIEVE_CHUNK, check_dimensions, stored_movie_ids
from poster_index.steer import Steer, fused_in_process, mmr_candidates
from poster_index.text_filters import text_match_client
from poster_index.tuning import DEFAULT_TUNING, IndexTuning, full_scan_kb_for, segment_kb
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter, SearchHit

_MAX_GENRES = 10_000
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
    (FIELD_TEXT_TERMS, models.PayloadSchemaType.INTEGER),
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


def quantization_config(
    tuning: IndexTuning,
) -> models.TurboQuantization | models.ScalarQuantization | None:
    """The collection's quantization for a Qdrant server, kept in RAM, as on Edge; or none.

    qdrant-client's local mode accepts and ignores it (it searches exactly in numpy).
    """
    if tuning.quantization == "turbo4":
        return models.TurboQuantization(
            turbo=models.TurboQuantQuantizationConfig(
                bits=models.TurboQuantBitSize.BITS4, always_ram=True
            )
        )
    if tuning.quantization == "int8":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=tuning.int8_quantile, always_ram=True
            )
        )
    return None


def _sparse_query(query: LexicalQuery) -> models.SparseVector:
    return models.SparseVector(indices=query.indices, values=[1.0] * len(query.indices))


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
        self._text: bool | None = None
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
                # BM25 term frequencies; Qdrant weighs each term by its IDF at query time.
                sparse_vectors_config={
                    TEXT_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
                hnsw_config=models.HnswConfigDiff(
                    m=t.m,
                    ef_construct=t.ef_construct,
                    full_scan_threshold=full_scan_kb_for(t, model.dimension),
                    payload_m=t.payload_m,
                ),
                quantization_config=quantization_config(t),
                optimizers_config=models.OptimizersConfigDiff(
                    indexing_threshold=t.indexing_threshold_kb,
                    default_segment_number=t.segments,
                    # Segments of about segment_points posters, as on Edge, so that the
                    # full-scan threshold (a whole segment) scans every filtered query.
                    max_segment_size=segment_kb(t, model.dimension),
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

    def _stored_payloads(
        self, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """point id -> the named payload fields, for each of ids that is stored."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), RETRIEVE_CHUNK):
            records = self._client.retrieve(
                self._collection,
                ids=list(ids[start : start + RETRIEVE_CHUNK]),
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
        if self._model is None:
            # Written by another process (ingest shards, a second replica): its record holds.
            self._model = self._read_model()
        if self._model is not None:
            check_dimensions(items, self._model.dimension)
        ids = [point_id(item.poster.movie_id) for item in items]
        stored = self._stored_payloads(ids, INDEX_OWNED_FIELDS)
        with_text = self.has_text()
        points = []
        for pid, item in zip(ids, items, strict=True):
            payload = point_payload(item.poster, hashes.get(item.poster.movie_id), stored.get(pid))
            vectors: dict[str, Any] = {VECTOR_NAME: [float(x) for x in item.vector]}
            if with_text:
                payload, terms = text_payload(payload)
                if terms is not None:
                    vectors[TEXT_VECTOR] = models.SparseVector(
                        indices=terms.indices, values=terms.values
                    )
            points.append(models.PointStruct(id=pid, vector=vectors, payload=payload))
        self._client.upsert(self._collection, points=points, wait=True)

    @_mapped_errors
    def update_payloads(self, items: Sequence[PayloadUpdate]) -> None:
        """Replaces the payload of stored posters, keeping their vectors."""
        if not items:
            return
        ids = [point_id(item.poster.movie_id) for item in items]
        stored = self._stored_payloads(ids, INDEX_OWNED_FIELDS)
        with_text = self.has_text()
        for pid, item in zip(ids, items, strict=True):
            if pid not in stored:
                continue
            payload = point_payload(item.poster, item.image_hash, stored[pid])
            operations: list[models.UpdateOperation] = []
            if with_text:
                # The movie's words may have changed: its BM25 vector follows them, in the
                # same request as the payload.
                payload, terms = text_payload(payload)
                operations.append(
                    models.UpdateVectorsOperation(
                        update_vectors=models.UpdateVectors(
                            points=[
                                models.PointVectors(
                                    id=pid,
                                    vector={
                                        TEXT_VECTOR: models.SparseVector(
                                            indices=terms.indices, values=terms.values
                                        )
                                    },
                                )
                            ]
                        )
                    )
                    if terms is not None
                    else models.DeleteVectorsOperation(
                        delete_vectors=models.DeleteVectors(points=[pid], vector=[TEXT_VECTOR])
                    )
                )
            operations.insert(
                0,
                models.OverwritePayloadOperation(
                    overwrite_payload=models.SetPayload(payload=payload, points=[pid])
                ),
            )
            self._client.batch_update_points(self._collection, operations, wait=True)

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
                limit=RETRIEVE_CHUNK,
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

        def retrieve(ids: list[str]) -> list[str]:
            records = self._client.retrieve(
                self._collection, ids=ids, with_payload=False, with_vectors=False
            )
            return [str(r.id) for r in records]

        return stored_movie_ids(retrieve, movie_ids)

    def optimize(self) -> bool:
        """Nothing to do: the server's optimizer builds the graph as points arrive.

        Returns:
            False: nothing was optimized by this call.
        """
        return False

    def _walk(
        self,
        vector: Sequence[float],
        flt: SearchFilter,
        exclude_movie_id: str | None,
        walk: Walk,
    ) -> list[SearchHit]:
        excluded = point_id(exclude_movie_id) if exclude_movie_id is not None else None
        response = self._client.query_points(
            self._collection,
            query=[float(x) for x in vector],
            using=VECTOR_NAME,
            query_filter=to_client_filter(flt, excluded),
            search_params=_params(walk),
            limit=walk.limit,
            with_payload=True,
        )
        return [
            SearchHit(payload_to_poster(p.payload or {}), float(p.score)) for p in response.points
        ]

    @_mapped_errors
    def search(
        self,
        vector: Sequence[float],
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """Nearest posters to vector (cosine) among those passing flt, best first.

        Answered by the search plan (`poster_index.plan`): pages add up to one long answer.
        """
        return planned_search(
            self._walk, self._share, self._tuning, vector, flt, limit, offset, exclude_movie_id
        )

    def _share(self, flt: SearchFilter) -> float:
        """Qdrant's estimate of the share of the posters that pass flt (payload indexes)."""
        count = self._client.count
        passing = count(self._collection, count_filter=to_client_filter(flt), exact=False).count
        return int(passing) / max(int(count(self._collection, exact=False).count), 1)

    @_mapped_errors
    def has_text(self) -> bool:
        """True when the collection stores words for lexical and hybrid search."""
        if self._text is None:
            # Collections made before lexical search have no text vector.
            info = self._client.get_collection(self._collection)
            sparse = info.config.params.sparse_vectors or {}
            self._text = TEXT_VECTOR in sparse
        return self._text

    @_mapped_errors
    def refresh_text(self, movie_ids: Iterable[str]) -> int:
        """Re-derives the stored movies' BM25 vector and term list from their payload.

        For a step that changed a movie's words in the payload (a caption written, the
        metadata re-applied) without re-encoding its image: the image vector is kept.

        Returns:
            How many of the movies were stored (and refreshed).
        """
        if not self.has_text():
            return 0
        wanted = [point_id(m) for m in movie_ids]
        refreshed = 0
        for start in range(0, len(wanted), RETRIEVE_CHUNK):
            records = self._client.retrieve(
                self._collection, ids=wanted[start : start + RETRIEVE_CHUNK], with_payload=True
            )
            for record in records:
                payload, terms = text_payload(record.payload or {})
                self._client.set_payload(
                    self._collection,
                    payload={FIELD_TEXT_TERMS: payload.get(FIELD_TEXT_TERMS, [])},
                    points=[record.id],
                    wait=True,
                )
                if terms is None:
                    self._client.delete_vectors(
                        self._collection, vectors=[TEXT_VECTOR], points=[record.id], wait=True
                    )
                else:
                    sparse = models.SparseVector(indices=terms.indices, values=terms.values)
                    self._client.update_vectors(
                        self._collection,
                        points=[models.PointVectors(id=record.id, vector={TEXT_VECTOR: sparse})],
                        wait=True,
                    )
                refreshed += 1
        return refreshed

    @_mapped_errors
    def text_search(
        self, query: LexicalQuery, flt: SearchFilter, limit: int, offset: int = 0
    ) -> list[SearchHit]:
        """Posters passing flt ranked by BM25 over their words alone, best first.

        Only movies holding at least `query.min_words` of the query's words are returned.
        Pages are cut from one long answer, like those of `search`.
        """
        if query.is_empty or not self.has_text():
            return []
        text_filter = text_match_client(to_client_filter(flt), query)

        def fetch(window: int) -> list[SearchHit]:
            response = self._client.query_points(
                self._collection,
                query=_sparse_query(query),
                using=TEXT_VECTOR,
                query_filter=text_filter,
                limit=window,
                with_payload=True,
            )
            return [
                SearchHit(payload_to_poster(p.payload or {}), float(p.score), (BRANCH_TEXT,))
                for p in response.points
            ]

        return laddered(fetch, self._tuning, offset + limit)[offset : offset + limit]

    @_mapped_errors
    def hybrid_search(
        self,
        vector: Sequence[float],
        query: LexicalQuery,
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        fusion: FusionWeights = DEFAULT_FUSION,
    ) -> list[SearchHit]:
        """Posters passing flt, ranked by the fusion of the vector and the lexical branch.

        Each rung of the paging ladder asks, in one batch, for the fused query (both branches
        prefetched under flt as deep as the rung's window, the vector branch walked as the
        search plan walks it, fused by weighted RRF in Qdrant) and the lexical branch's
        ranking; with no text match the answer is the vector search (see
        `poster_index.hybrid`).
        """
        qfilter = to_client_filter(flt)
        text_filter = text_match_client(qfilter, query)
        sparse = _sparse_query(query)
        exact = exact_route(self._tuning, flt, self._share)

        def rung(window: int) -> RungAnswer:
            walk = walk_for(self._tuning, window, not flt.is_empty, exact)
            dense_branch = models.Prefetch(
                query=[float(x) for x in vector],
                using=VECTOR_NAME,
                filter=qfilter,
                params=_params(walk),
                limit=window,
            )
            return self._rung(dense_branch, sparse, text_filter, window, fusion)

        return ranked_hybrid(
            rung,
            self._payloads,
            lambda: self.search(vector, flt, limit, offset),
            self._tuning,
            limit,
            offset,
            fusion,
        )

    def _rung(
        self,
        vector_branch: models.Prefetch,
        sparse: models.SparseVector,
        text_filter: models.Filter | None,
        window: int,
        fusion: FusionWeights,
    ) -> RungAnswer:
        """One rung of a hybrid query, in one batch: the fused query (vector_branch and the
        lexical branch) and the lexical branch's ranking alone."""
        fused = models.QueryRequest(
            prefetch=[
                vector_branch,
                models.Prefetch(query=sparse, using=TEXT_VECTOR, filter=text_filter, limit=window),
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=fusion.k, weights=fusion.as_list())),
            limit=fused_limit(window),
            # Every candidate's payload in this round trip, rather than a second one for the
            # points the rung keeps.
            with_payload=True,
        )
        text_only = models.QueryRequest(
            query=sparse, using=TEXT_VECTOR, filter=text_filter, limit=window, with_payload=False
        )
        fused_response, text_response = self._client.query_batch_points(
            self._collection, requests=[fused, text_only]
        )
        return RungAnswer([p.id for p in text_response.points], fused_response.points)

    def _payloads(self, ids: list[Any]) -> dict[Any, Mapping[str, Any]]:
        """The payloads of the given points, by point id (a point not stored is left out)."""
        records = self._client.retrieve(self._collection, ids=ids, with_payload=True)
        return {r.id: r.payload or {} for r in records}

    # Steered queries: negatives, a diverse page (poster_index.steer).

    @_mapped_errors
    def steered_search(
        self,
        query: Steer,
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """Posters passing flt ranked by a steered vector query, on the search plan's ladder."""
        if query.is_plain:
            return self.search(query.vector, flt, limit, offset, exclude_movie_id)

        def run(
            vector: Sequence[float], flt: SearchFilter, exclude_movie_id: str | None, walk: Walk
        ) -> list[SearchHit]:
            qfilter = to_client_filter(flt, _point_or_none(exclude_movie_id))
            return [
                SearchHit(payload_to_poster(p.payload or {}), float(p.score))
                for p in self._steered_points(query, walk, qfilter)
            ]

        return planned_search(
            run, self._share, self._tuning, query.vector, flt, limit, offset, exclude_movie_id
        )

    def _steered_points(
        self, query: Steer, walk: Walk, qfilter: models.Filter | None
    ) -> list[models.ScoredPoint]:
        """One walk of a steered query: recommend, MMR, or MMR over the recommend's candidates
        (a query of its own, then MMR among exactly those ids, as on the Edge backend)."""
        if not (query.negatives and query.diverse):
            arguments = _steered_request(query, walk, qfilter)
            return self._client.query_points(
                self._collection, **arguments, with_payload=True
            ).points
        candidates = mmr_candidates(walk.limit)
        recommended = self._client.query_points(
            self._collection,
            query=_recommend(query),
            using=VECTOR_NAME,
            query_filter=qfilter,
            search_params=_params(
                recommend_walk(replace(walk, hnsw_ef=max(walk.hnsw_ef, candidates)))
            ),
            limit=candidates,
            with_payload=False,
        ).points
        if not recommended:
            return []
        among = models.Filter(must=[models.HasIdCondition(has_id=[p.id for p in recommended])])
        return self._client.query_points(
            self._collection,
            query=_mmr(query, len(recommended)),
            using=VECTOR_NAME,
            query_filter=among,
            search_params=models.SearchParams(
                exact=True, quantization=models.QuantizationSearchParams(ignore=True)
            ),
            limit=walk.limit,
            with_payload=True,
        ).points

    @_mapped_errors
    def steered_hybrid_search(
        self,
        query: Steer,
        lexical_query: LexicalQuery,
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        fusion: FusionWeights = DEFAULT_FUSION,
    ) -> list[SearchHit]:
        """The hybrid query with a steered vector branch.

        The vector branch carries the negatives (a recommend query prefetched by the fused
        query). A diverse page fuses the MMR-ordered vector branch with the lexical branch
        (`poster_index.steer.fused_in_process`), both from one batch.
        """
        if query.is_plain:
            return self.hybrid_search(query.vector, lexical_query, flt, limit, offset, fusion)
        qfilter = to_client_filter(flt)
        text_filter = text_match_client(qfilter, lexical_query)
        sparse = _sparse_query(lexical_query)
        exact = exact_route(self._tuning, flt, self._share)

        def hits_of(response: models.QueryResponse) -> list[SearchHit]:
            return [
                SearchHit(payload_to_poster(p.payload or {}), float(p.score))
                for p in response.points
            ]

        def fetch(window: int) -> list[SearchHit]:
            walk = walk_for(self._tuning, window, not flt.is_empty, exact)
            if query.diverse:
                vector_hits = [
                    SearchHit(payload_to_poster(p.payload or {}), float(p.score))
                    for p in self._steered_points(query, walk, qfilter)
                ]
                text_only = models.QueryRequest(
                    query=sparse, using=TEXT_VECTOR, filter=text_filter, limit=window,
                    with_payload=True,
                )  # fmt: skip
                (text_response,) = self._client.query_batch_points(
                    self._collection, requests=[text_only]
                )
                return fused_in_process(vector_hits, hits_of(text_response), fusion)
            negatives_branch = models.Prefetch(
                query=_recommend(query), using=VECTOR_NAME, filter=qfilter,
                params=_params(recommend_walk(walk)), limit=window,
            )  # fmt: skip
            answer = self._rung(negatives_branch, sparse, text_filter, window, fusion)
            return fused_window(answer, window, fusion, self._payloads)

        return laddered(fetch, self._tuning, offset + limit)[offset : offset + limit]

    @_mapped_errors
    def browse(self, flt: SearchFilter, limit: int, offset: int = 0) -> list[SearchHit]:
        """Posters passing flt, highest rating first, then the unrated; score is the rating."""
        return planned_browse(self, self._tuning, flt, limit, offset)

    def rated(self, flt: SearchFilter, limit: int) -> list[SearchHit]:
        """The top `limit` rated posters passing flt, highest rating first; score the rating."""
        response = self._client.query_points(
            self._collection,
            query=models.OrderByQuery(
                order_by=models.OrderBy(key=FIELD_RATING, direction=models.Direction.DESC)
            ),
            query_filter=to_client_filter(flt),
            limit=limit,
            with_payload=True,
        )
        posters = [payload_to_poster(p.payload or {}) for p in response.points]
        return [SearchHit(p, p.rating or 0.0) for p in posters]

    def unrated(self, flt: SearchFilter, limit: int, offset: int) -> list[SearchHit]:
        """Posters passing flt that have no rating, in point id order; score 0."""
        response = self._client.query_points(
            self._collection,
            query_filter=unrated_only_client(to_client_filter(flt)),
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [SearchHit(payload_to_poster(p.payload or {}), 0.0) for p in response.points]

    def _record(self, movie_id: str) -> Any:
        records = self._client.retrieve(
            self._collection, ids=[point_id(movie_id)], with_payload=True, with_vectors=False
        )
        return records[0] if records else None

    @_mapped_errors
    def get_vector(self, movie_id: str) -> list[float] | None:
        """The stored vector of a movie, or None when it is not in the collection."""
        return self.get_vectors([movie_id]).get(movie_id)

    @_mapped_errors
    def get_vectors(self, movie_ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those movies that are in the collection, by movie id."""
        movie_of = {point_id(m): m for m in movie_ids}
        records = self._client.retrieve(
            self._collection, ids=list(movie_of), with_payload=False, with_vectors=[VECTOR_NAME]
        )
        found: dict[str, list[float]] = {}
        for record in records:
            vector = record.vector.get(VECTOR_NAME) if isinstance(record.vector, dict) else None
            if isinstance(vector, list):
                # A dense named vector: a list of numbers (multivectors are not stored).
                found[movie_of[str(record.id)]] = [float(x) for x in cast(list[float], vector)]
        return found

    @_mapped_errors
    def get_poster(self, movie_id: str) -> Poster | None:
        """The stored payload of a movie, or None."""
        record = self._record(movie_id)
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

    # Payload fields written after ingest (captions), without touching the vectors.

    @_mapped_errors
    def posters_missing(
        self, field: str, limit: int, page: str | None = None
    ) -> tuple[list[Poster], str | None]:
        """A page of stored posters whose payload lacks field (absent or null), in id order."""
        records, next_page = self._client.scroll(
            self._collection,
            scroll_filter=_missing(field),
            limit=limit,
            offset=page,
            with_payload=True,
            with_vectors=False,
        )
        posters = [payload_to_poster(r.payload or {}) for r in records]
        return posters, str(next_page) if next_page is not None else None

    @_mapped_errors
    def count_missing(self, field: str) -> int:
        """Number of stored posters whose payload lacks field (absent or null)."""
        result = self._client.count(self._collection, count_filter=_missing(field), exact=True)
        return int(result.count)

    @_mapped_errors
    def set_payload_field(self, field: str, values: Mapping[str, object]) -> None:
        """Sets field in each movie's payload, in one request; vectors are kept."""
        stored = self.existing_ids(values)
        if not stored:
            return
        operations: list[models.UpdateOperation] = [
            models.SetPayloadOperation(
                set_payload=models.SetPayload(
                    payload={field: values[movie_id]}, points=[point_id(movie_id)]
                )
            )
            for movie_id in stored
        ]
        self._client.batch_update_points(self._collection, operations, wait=True)


def _missing(field: str) -> models.Filter:
    return models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key=field))])


def _params(walk: Walk) -> models.SearchParams:
    """The server's search parameters for one planned walk."""
    return models.SearchParams(
        hnsw_ef=walk.hnsw_ef,
        exact=walk.exact,
        acorn=models.AcornSearchParams(enable=True, max_selectivity=1.0) if walk.acorn else None,
        # Quantized candidates rescored with the original vectors, as on the Edge backend.
        quantization=models.QuantizationSearchParams(
            ignore=not walk.quantized, rescore=True, oversampling=walk.oversampling
        ),
    )


def _point_or_none(movie_id: str | None) -> str | None:
    return point_id(movie_id) if movie_id is not None else None


def _recommend(query: Steer) -> models.RecommendQuery:
    """The best-score recommend query of the query vector against its negatives."""
    return models.RecommendQuery(
        recommend=models.RecommendInput(
            positive=[list(query.vector)],
            negative=[list(n) for n in query.negatives],
            strategy=models.RecommendStrategy.BEST_SCORE,
        )
    )


def _mmr(query: Steer, candidates: int) -> models.NearestQuery:
    return models.NearestQuery(
        nearest=list(query.vector),
        mmr=models.Mmr(diversity=query.diversity, candidates_limit=candidates),
    )


def _steered_request(query: Steer, walk: Walk, qfilter: models.Filter | None) -> dict[str, Any]:
    """query_points arguments of one walk with negatives or diversity (not both)."""
    if not query.diverse:
        return {
            "query": _recommend(query),
            "using": VECTOR_NAME,
            "query_filter": qfilter,
            "search_params": _params(recommend_walk(walk)),
            "limit": walk.limit,
        }
    candidates = mmr_candidates(walk.limit)
    # MMR chooses among `candidates` posters: the walk keeps at least that many in its beam.
    return {
        "query": _mmr(query, candidates),
        "using": VECTOR_NAME,
        "query_filter": qfilter,
        "search_params": _params(replace(walk, hnsw_ef=max(walk.hnsw_ef, candidates))),
        "limit": walk.limit,
    }
