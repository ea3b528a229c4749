"""The embedded backend: a Qdrant Edge shard in this process, on local disk."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import qdrant_edge as edge

from poster_index.base import (
    DEFAULT_COLLECTION,
    VECTOR_NAME,
    IndexDamagedError,
    IndexUnavailableError,
    PayloadUpdate,
    PosterIndexError,
    StoredContent,
)
from poster_index.filters import to_edge_filter, unrated_only_edge
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
from poster_index.model_record import (
    CollectionRecord,
    check_same_model,
    read_collection_record,
    write_model_record,
)
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
from poster_index.text_filters import text_match_edge
from poster_index.tuning import DEFAULT_TUNING, IndexTuning, full_scan_kb_for
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter, SearchHit

# Edge keeps its own configuration here; its presence means the shard was created.
_EDGE_CONFIG_FILE = "edge_config.json"
# Enough for every genre of any real dataset (TMDB has 20, MovieLens 20).
_MAX_GENRES = 10_000
# Edge merges segments when there are more than this many; the segments cut by
# `IndexTuning.segment_points` must stay apart (64 x 40,000 posters is 2.5 million).
_MERGE_ABOVE_SEGMENTS = 64

_PAYLOAD_INDEXES: tuple[tuple[str, edge.PayloadSchemaType], ...] = (
    (FIELD_GENRES, edge.PayloadSchemaType.Keyword),
    (FIELD_YEAR, edge.PayloadSchemaType.Integer),
    (FIELD_RATING, edge.PayloadSchemaType.Float),
    (FIELD_MOVIE_ID, edge.PayloadSchemaType.Keyword),
    (FIELD_TEXT_TERMS, edge.PayloadSchemaType.Integer),
)


def _sparse_query(query: LexicalQuery) -> edge.SparseVector:
    return edge.SparseVector(query.indices, [1.0] * len(query.indices))


class EdgePosterIndex:
    """Posters in a Qdrant Edge shard at `<path>/<collection>`.

    Durability: every upsert batch is written to the shard's write-ahead log and flushed
    before upsert returns, so a process killed at any moment (kill -9) reopens the shard with
    every batch whose upsert returned. The HNSW graph is built by `optimize()`, which `close()`
    runs when this process wrote anything, and by the upsert that leaves
    `tuning.segment_points` posters outside the graph (that segment's graph, before it
    returns); until then new posters are searched exactly.

    Reads may come from several threads at once; writes, optimize and close are serialised.
    """

    def __init__(
        self,
        path: str | Path,
        collection: str = DEFAULT_COLLECTION,
        tuning: IndexTuning = DEFAULT_TUNING,
        open_now: bool = True,
    ) -> None:
        """Opens the shard if it exists; `ensure_collection` creates it otherwise.

        A shard created by another process after this one started is opened on first use.
        Opening checks the shard against its record (see `_verify`), so a damaged shard is
        refused rather than served.

        Args:
            path: Directory holding one shard directory per collection.
            collection: Collection name, the shard's directory name.
            tuning: HNSW build and query parameters.
            open_now: Load an existing shard here and raise its errors now; False defers
                loading to the first call, whose errors then say why (a long-running
                server starts and reports them instead of dying).

        Raises:
            IndexUnavailableError: open_now and the shard exists but cannot be loaded.
            IndexDamagedError: open_now and the shard is damaged.
        """
        self._dir = Path(path) / collection
        self._collection = collection
        self._tuning = tuning
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._dirty = False
        self._writing = False
        self._closed = False
        self._damage: IndexDamagedError | None = None
        self._model: CollectionModel | None = None
        self._shard: edge.EdgeShard | None = None
        self._text: bool | None = None
        if open_now:
            self._open_existing()

    def _open_existing(self) -> edge.EdgeShard | None:
        """Loads the shard if it exists on disk and is not loaded yet; returns it."""
        with self._open_lock:
            if self._shard is not None or self._closed:
                return self._shard
            if self._damage is not None:
                # Verifying reads every vector; a damaged shard stays refused until restart.
                raise self._damage
            record = read_collection_record(self._dir)
            if record is None:
                return None
            self._model = record.model
            if (self._dir / _EDGE_CONFIG_FILE).exists():
                self._shard = self._load(record)
            return self._shard

    @property
    def shard_dir(self) -> Path:
        """The directory of the shard."""
        return self._dir

    def _load(self, record: CollectionRecord) -> edge.EdgeShard:
        try:
            shard = edge.EdgeShard.load(str(self._dir))
        except Exception as exc:
            hint = " (is it open in another process?)" if "WouldBlock" in str(exc) else ""
            raise IndexUnavailableError(
                f"cannot open the Edge shard {self._dir}{hint}: {exc}"
            ) from exc
        try:
            self._verify(shard, record)
        except IndexDamagedError as exc:
            shard.close()
            self._damage = exc
            raise
        return shard

    def _verify(self, shard: edge.EdgeShard, record: CollectionRecord) -> None:
        """Refuses a shard whose files are missing or truncated.

        A lost id tracker or segment shows as fewer points than the last writer left; a
        truncated vector or payload file fails the exact scan over every vector and the
        scroll over every payload (once per open: every vector and payload is read).

        Raises:
            IndexDamagedError: One line: what is wrong and how to repair it.
        """
        repair = f"re-ingest: move {str(self._dir)!r} away and run poster-search ingest again"
        try:
            count = int(shard.count(edge.CountRequest(exact=True)))
            if record.points is not None and count != record.points:
                raise IndexDamagedError(
                    f"the Edge collection {str(self._dir)!r} is damaged: it holds {count} "
                    f"posters but its last ingest left {record.points} (files are missing "
                    f"or truncated); {repair}"
                )
            if count:
                shard.query(
                    edge.QueryRequest(
                        limit=1,
                        query=edge.Query.Nearest([0.0] * record.model.dimension, using=VECTOR_NAME),
                        with_payload=True,
                        params=edge.SearchParams(
                            exact=True, quantization=edge.QuantizationSearchParams(ignore=True)
                        ),
                    )
                )
                offset: Any = None
                while True:
                    _, offset = shard.scroll(
                        edge.ScrollRequest(
                            offset=offset,
                            limit=RETRIEVE_CHUNK,
                            with_payload=True,
                            with_vector=False,
                        )
                    )
                    if offset is None:
                        break
        except IndexDamagedError:
            raise
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise IndexDamagedError(
                f"the Edge collection {str(self._dir)!r} is damaged ({reason}); {repair}"
            ) from exc

    def _create(self, model: CollectionModel) -> edge.EdgeShard:
        t = self._tuning
        config = edge.EdgeConfig(
            vectors={
                VECTOR_NAME: edge.EdgeVectorParams(
                    size=model.dimension,
                    distance=edge.Distance.Cosine,
                )
            },
            # BM25 term frequencies; Qdrant weighs each term by its IDF at query time.
            sparse_vectors={TEXT_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            hnsw_config=edge.HnswIndexConfig(
                m=t.m,
                ef_construct=t.ef_construct,
                full_scan_threshold=full_scan_kb_for(t, model.dimension),
                payload_m=t.payload_m,
            ),
            quantization_config=_quantization_config(t),
            optimizers=edge.EdgeOptimizersConfig(
                indexing_threshold=t.indexing_threshold_kb,
                default_segment_number=_MERGE_ABOVE_SEGMENTS if t.segment_points else 0,
            ),
        )
        try:
            shard = edge.EdgeShard.create(str(self._dir), config)
            # Payload indexes exist before the first point, so the HNSW build links per genre.
            for field, schema in _PAYLOAD_INDEXES:
                shard.update(edge.UpdateOperation.create_field_index(field, schema))
            shard.flush()
        except Exception as exc:
            raise IndexUnavailableError(f"cannot create the Edge shard {self._dir}: {exc}") from exc
        return shard

    def ensure_collection(self, model: CollectionModel) -> None:
        """Creates the shard with its payload indexes, or checks the model of the existing one.

        Raises:
            ModelMismatchError: The shard holds another model's vectors.
        """
        self._check_open()
        self._open_existing()
        with self._lock:
            self._check_open()
            if self._model is not None:
                check_same_model(self._model, model, f"Edge collection {str(self._dir)!r}")
            else:
                # Recorded first: a crash before the shard exists leaves a record and no
                # shard, which the next call completes; never a shard of unknown model.
                write_model_record(self._dir, model)
                self._model = model
            if self._shard is None:
                if (self._dir / _EDGE_CONFIG_FILE).exists():
                    self._shard = self._load(CollectionRecord(self._model))
                else:
                    self._shard = self._create(model)

    def collection_model(self) -> CollectionModel | None:
        """The model recorded with the shard, or None when there is no shard.

        Raises:
            IndexUnavailableError: The shard exists but cannot be opened.
            IndexDamagedError: The shard is damaged.
        """
        if self._closed:
            return None
        shard = self._shard or self._open_existing()
        return self._model if shard is not None else None

    def _check_open(self) -> None:
        if self._closed:
            raise IndexUnavailableError(f"the Edge index {str(self._dir)!r} is closed")

    def _ready(self) -> edge.EdgeShard:
        self._check_open()
        shard = self._shard or self._open_existing()
        if shard is None:
            raise IndexUnavailableError(
                f"there is no collection at {str(self._dir)!r}; ingest posters first"
            )
        return shard

    def _begin_write(self) -> None:
        """Before this process's first write: the record's point count becomes unknown.

        A writer killed from here on leaves no count to check against, rather than one
        that a later open would take for missing files.
        """
        if not self._writing:
            assert self._model is not None
            write_model_record(self._dir, self._model, points=None)
            self._writing = True

    def _stored_payloads(
        self, shard: edge.EdgeShard, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """point id -> the named payload fields, for each of ids that is stored."""
        found: dict[str, dict[str, Any]] = {}
        selector = edge.PayloadSelector.Include(list(fields))
        for start in range(0, len(ids), RETRIEVE_CHUNK):
            chunk = list(ids[start : start + RETRIEVE_CHUNK])
            for record in self._call(shard.retrieve, chunk, selector, False):
                found[str(record.id)] = dict(record.payload or {})
        return found

    def upsert(
        self, items: Sequence[PosterVector], image_hashes: Mapping[str, str] | None = None
    ) -> None:
        """Stores posters with their vectors and flushes them to disk before returning.

        Index-owned payload fields (a caption) of a replaced point are kept unless the
        poster sets them; image_hashes (movie id -> poster file hash) are recorded.

        Raises:
            ModelMismatchError: A vector's size is not the collection's dimension.
        """
        if not items:
            return
        hashes = image_hashes or {}
        with self._lock:
            shard = self._ready()
            assert self._model is not None
            check_dimensions(items, self._model.dimension)
            ids = [point_id(item.poster.movie_id) for item in items]
            stored = self._stored_payloads(shard, ids, INDEX_OWNED_FIELDS)
            with_text = self._has_text(shard)
            points = []
            for pid, item in zip(ids, items, strict=True):
                payload = point_payload(
                    item.poster, hashes.get(item.poster.movie_id), stored.get(pid)
                )
                vectors: dict[str, Any] = {VECTOR_NAME: [float(x) for x in item.vector]}
                if with_text:
                    payload, terms = text_payload(payload)
                    if terms is not None:
                        vectors[TEXT_VECTOR] = edge.SparseVector(terms.indices, terms.values)
                points.append(edge.Point(pid, vectors, payload))
            self._begin_write()
            try:
                shard.update(edge.UpdateOperation.upsert_points(points))
                shard.flush()
            except Exception as exc:
                raise PosterIndexError(f"Edge upsert failed: {exc}") from exc
            self._dirty = True
            cut = self._tuning.segment_points
            if cut and self._unindexed(shard) >= cut:
                self._optimize(shard)

    def _has_text(self, shard: edge.EdgeShard) -> bool:
        if self._text is None:
            # Shards made before lexical search have no text vector and no term index.
            schema = self._call(shard.info).payload_schema
            self._text = FIELD_TEXT_TERMS in schema
        return self._text

    def has_text(self) -> bool:
        """True when the collection stores words for lexical and hybrid search."""
        return self._has_text(self._ready())

    def _unindexed(self, shard: edge.EdgeShard) -> int:
        """Posters written since the last graph build (they wait in the appendable segment)."""
        info = shard.info()
        indexed = int(info.indexed_vectors_count)
        if self._has_text(shard):
            # Sparse vectors count as indexed from the moment they are written.
            with_text = edge.Filter(must=[edge.HasVectorCondition(TEXT_VECTOR)])
            indexed -= self._count(shard, with_text)
        return int(info.points_count) - indexed

    def _optimize(self, shard: edge.EdgeShard) -> bool:
        try:
            changed = shard.optimize()
            shard.flush()
        except Exception as exc:
            raise PosterIndexError(f"Edge optimize failed: {exc}") from exc
        self._dirty = False
        return bool(changed)

    def segment_count(self) -> int:
        """Number of segments in the shard, the appendable one included."""
        return int(self._call(self._ready().info).segments_count)

    def optimize(self) -> bool:
        """Builds the HNSW graph and merges segments; blocks until done.

        Returns:
            True when anything was optimized.
        """
        with self._lock:
            return self._optimize(self._ready())

    def existing_ids(self, movie_ids: Iterable[str]) -> set[str]:
        """The subset of movie_ids already stored."""
        shard = self._ready()

        def retrieve(ids: list[str]) -> list[str]:
            return [str(r.id) for r in self._call(shard.retrieve, ids, False, False)]

        return stored_movie_ids(retrieve, movie_ids)

    def stored_content(self, movie_ids: Iterable[str]) -> dict[str, StoredContent]:
        """The recorded hashes of each of movie_ids that is stored."""
        shard = self._ready()
        by_point = {point_id(m): m for m in movie_ids}
        stored = self._stored_payloads(shard, list(by_point), HASH_FIELDS)
        return {
            by_point[pid]: StoredContent(
                metadata_hash=payload.get(FIELD_METADATA_HASH),
                image_hash=payload.get(FIELD_IMAGE_HASH),
            )
            for pid, payload in stored.items()
        }

    def update_payloads(self, items: Sequence[PayloadUpdate]) -> None:
        """Replaces the payload of stored posters, keeping their vectors; flushed on return."""
        if not items:
            return
        with self._lock:
            shard = self._ready()
            ids = [point_id(item.poster.movie_id) for item in items]
            stored = self._stored_payloads(shard, ids, INDEX_OWNED_FIELDS)
            with_text = self._has_text(shard)
            self._begin_write()
            try:
                for pid, item in zip(ids, items, strict=True):
                    if pid not in stored:
                        continue
                    payload = point_payload(item.poster, item.image_hash, stored[pid])
                    terms = None
                    if with_text:
                        # The movie's words may have changed: its BM25 vector follows them,
                        # flushed with the payload.
                        payload, terms = text_payload(payload)
                    shard.update(edge.UpdateOperation.overwrite_payload([pid], payload))
                    if terms is not None:
                        sparse: dict[str, Any] = {
                            TEXT_VECTOR: edge.SparseVector(terms.indices, terms.values)
                        }
                        shard.update(
                            edge.UpdateOperation.update_vectors([edge.PointVectors(pid, sparse)])
                        )
                    elif with_text:
                        shard.update(edge.UpdateOperation.delete_vectors([pid], [TEXT_VECTOR]))
                shard.flush()
            except Exception as exc:
                raise PosterIndexError(f"Edge payload update failed: {exc}") from exc
            self._dirty = True

    def movie_ids(self) -> set[str]:
        """Every movie id in the collection."""
        shard = self._ready()
        found: set[str] = set()
        offset: Any = None
        selector = edge.PayloadSelector.Include([FIELD_MOVIE_ID])
        while True:
            request = edge.ScrollRequest(
                offset=offset, limit=RETRIEVE_CHUNK, with_payload=selector, with_vector=False
            )
            records, offset = self._call(shard.scroll, request)
            found.update(str((r.payload or {})[FIELD_MOVIE_ID]) for r in records)
            if offset is None:
                return found

    def delete(self, movie_ids: Iterable[str]) -> set[str]:
        """Deletes movies by id and flushes; returns those that were stored."""
        wanted = list(dict.fromkeys(movie_ids))
        if not wanted:
            return set()
        with self._lock:
            shard = self._ready()
            stored = self.existing_ids(wanted)
            if not stored:
                return set()
            self._begin_write()
            try:
                shard.update(edge.UpdateOperation.delete_points([point_id(m) for m in stored]))
                shard.flush()
            except Exception as exc:
                raise PosterIndexError(f"Edge delete failed: {exc}") from exc
            self._dirty = True
            return stored

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            if self._closed:
                raise IndexUnavailableError(f"the Edge index {str(self._dir)!r} is closed") from exc
            raise PosterIndexError(f"Edge request failed: {exc}") from exc

    def _walk(
        self,
        vector: Sequence[float],
        flt: SearchFilter,
        exclude_movie_id: str | None,
        walk: Walk,
    ) -> list[SearchHit]:
        return self.search_with(vector, flt, walk.limit, 0, exclude_movie_id, _params(walk))

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
        shard = self._ready()
        estimate = self._call(
            shard.count, edge.CountRequest(exact=False, filter=to_edge_filter(flt))
        )
        return int(estimate) / max(int(self._call(shard.info).points_count), 1)

    def search_with(
        self,
        vector: Sequence[float],
        flt: SearchFilter,
        limit: int,
        offset: int,
        exclude_movie_id: str | None,
        params: edge.SearchParams,
    ) -> list[SearchHit]:
        """One Qdrant query with explicit search parameters, outside the plan.

        The plan's walks go through it; the benchmark uses it to run exact and default
        searches beside the planned one.
        """
        shard = self._ready()
        excluded = point_id(exclude_movie_id) if exclude_movie_id is not None else None
        request = edge.QueryRequest(
            limit=limit,
            offset=offset,
            query=edge.Query.Nearest([float(x) for x in vector], using=VECTOR_NAME),
            filter=to_edge_filter(flt, excluded),
            with_payload=True,
            params=params,
        )
        points = self._call(shard.query, request)
        return [SearchHit(payload_to_poster(p.payload or {}), float(p.score)) for p in points]

    def refresh_text(self, movie_ids: Iterable[str]) -> int:
        """Re-derives the stored movies' BM25 vector and term list from their payload.

        For a step that changed a movie's words in the payload (a caption written, the
        metadata re-applied) without re-encoding its image: the image vector is kept.

        Returns:
            How many of the movies were stored (and refreshed).
        """
        wanted = [point_id(m) for m in movie_ids]
        refreshed = 0
        with self._lock:
            shard = self._ready()
            if not self._has_text(shard):
                return 0
            for start in range(0, len(wanted), RETRIEVE_CHUNK):
                chunk = wanted[start : start + RETRIEVE_CHUNK]
                for record in self._call(shard.retrieve, chunk, True, False):
                    payload, terms = text_payload(record.payload or {})
                    ops = [
                        edge.UpdateOperation.set_payload(
                            [record.id], {FIELD_TEXT_TERMS: payload.get(FIELD_TEXT_TERMS, [])}
                        ),
                        edge.UpdateOperation.update_vectors(
                            [
                                edge.PointVectors(
                                    record.id,
                                    {TEXT_VECTOR: edge.SparseVector(terms.indices, terms.values)},
                                )
                            ]
                        )
                        if terms is not None
                        else edge.UpdateOperation.delete_vectors([record.id], [TEXT_VECTOR]),
                    ]
                    for op in ops:
                        self._call(shard.update, op)
                    refreshed += 1
            self._call(shard.flush)
            self._dirty = True
        return refreshed

    def text_search(
        self, query: LexicalQuery, flt: SearchFilter, limit: int, offset: int = 0
    ) -> list[SearchHit]:
        """Posters passing flt ranked by BM25 over their words alone, best first.

        Only movies holding at least `query.min_words` of the query's words are returned.
        Pages are cut from one long answer, like those of `search`.
        """
        shard = self._ready()
        if query.is_empty or not self._has_text(shard):
            return []
        text_filter = text_match_edge(to_edge_filter(flt), query)

        def fetch(window: int) -> list[SearchHit]:
            request = edge.QueryRequest(
                limit=window,
                query=edge.Query.Nearest(_sparse_query(query), using=TEXT_VECTOR),
                filter=text_filter,
                with_payload=True,
            )
            return [
                SearchHit(payload_to_poster(p.payload or {}), float(p.score), (BRANCH_TEXT,))
                for p in self._call(shard.query, request)
            ]

        return laddered(fetch, self._tuning, offset + limit)[offset : offset + limit]

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
        qfilter = to_edge_filter(flt)
        lexical = edge.Query.Nearest(_sparse_query(query), using=TEXT_VECTOR)
        text_filter = text_match_edge(qfilter, query)
        dense = edge.Query.Nearest([float(x) for x in vector], using=VECTOR_NAME)
        exact = exact_route(self._tuning, flt, self._share)

        def rung(window: int) -> RungAnswer:
            walk = walk_for(self._tuning, window, not flt.is_empty, exact)
            dense_branch = edge.Prefetch(window, query=dense, filter=qfilter, params=_params(walk))
            return self._rung(dense_branch, lexical, text_filter, window, fusion)

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
        vector_branch: edge.Prefetch,
        lexical: edge.Query,
        text_filter: edge.Filter | None,
        window: int,
        fusion: FusionWeights,
    ) -> RungAnswer:
        """One rung of a hybrid query, in one batch: the fused query (vector_branch and the
        lexical branch) and the lexical branch's ranking alone."""
        fused = edge.QueryRequest(
            limit=fused_limit(window),
            prefetches=[vector_branch, edge.Prefetch(window, query=lexical, filter=text_filter)],
            # The stub types Fusion.Rrf apart from Fusion, which QueryRequest takes.
            query=edge.Fusion.Rrf(k=fusion.k, weights=fusion.as_list()),  # type: ignore[arg-type]
            # It returns every candidate; only the points the rung keeps are read: Edge
            # spends more reading twice the payloads than on a second call.
            with_payload=False,
        )
        text_only = edge.QueryRequest(
            limit=window, query=lexical, filter=text_filter, with_payload=False
        )
        fused_points, text_points = self._call(
            self._ready().query_batch, edge.QueryBatchRequest([fused, text_only])
        )
        return RungAnswer([p.id for p in text_points], fused_points)

    def _payloads(self, ids: list[Any]) -> dict[Any, Mapping[str, Any]]:
        """The payloads of the given points, by point id (a point not stored is left out)."""
        shard = self._ready()
        return {r.id: r.payload or {} for r in self._call(shard.retrieve, ids, True, False)}

    # Steered queries: negatives, a diverse page (poster_index.steer).

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
            qfilter = to_edge_filter(flt, _point_or_none(exclude_movie_id))
            points = self._steered_points(query, walk, qfilter)
            return [SearchHit(payload_to_poster(p.payload or {}), float(p.score)) for p in points]

        return planned_search(
            run, self._share, self._tuning, query.vector, flt, limit, offset, exclude_movie_id
        )

    def _steered_points(
        self, query: Steer, walk: Walk, qfilter: edge.Filter | None
    ) -> list[edge.ScoredPoint]:
        """One walk of a steered query: recommend, MMR, or MMR over the recommend's candidates.

        With both, the recommend query is a query of its own rather than a prefetch: Qdrant
        Edge's prefetch walk under a filter reaches fewer posters than a top-level query with
        ACORN does. MMR then chooses among exactly those candidates (by id, scored exactly).
        """
        shard = self._ready()
        if not (query.negatives and query.diverse):
            return list(self._call(shard.query, _steered_request(query, walk, qfilter)))
        candidates = mmr_candidates(walk.limit)
        recommended = self._call(
            shard.query,
            edge.QueryRequest(
                limit=candidates,
                query=_recommend(query),
                filter=qfilter,
                params=_params(
                    recommend_walk(replace(walk, hnsw_ef=max(walk.hnsw_ef, candidates)))
                ),
                with_payload=False,
            ),
        )
        if not recommended:
            return []
        among = edge.Filter(must=[edge.HasIdCondition({p.id for p in recommended})])
        exact = edge.SearchParams(
            exact=True, quantization=edge.QuantizationSearchParams(ignore=True)
        )
        request = edge.QueryRequest(
            limit=walk.limit,
            query=_mmr(query, len(recommended)),
            filter=among,
            params=exact,
            with_payload=True,
        )
        return list(self._call(shard.query, request))

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
        shard = self._ready()
        qfilter = to_edge_filter(flt)
        lexical = edge.Query.Nearest(_sparse_query(lexical_query), using=TEXT_VECTOR)
        text_filter = text_match_edge(qfilter, lexical_query)
        exact = exact_route(self._tuning, flt, self._share)

        def hits_of(points: Any) -> list[SearchHit]:
            return [SearchHit(payload_to_poster(p.payload or {}), float(p.score)) for p in points]

        def fetch(window: int) -> list[SearchHit]:
            walk = walk_for(self._tuning, window, not flt.is_empty, exact)
            if query.diverse:
                vector_points = self._steered_points(query, walk, qfilter)
                text_only = edge.QueryRequest(
                    limit=window, query=lexical, filter=text_filter, with_payload=True
                )
                text_points = self._call(shard.query, text_only)
                return fused_in_process(hits_of(vector_points), hits_of(text_points), fusion)
            negatives_branch = edge.Prefetch(
                window,
                query=_recommend(query),
                filter=qfilter,
                params=_params(recommend_walk(walk)),
            )
            answer = self._rung(negatives_branch, lexical, text_filter, window, fusion)
            return fused_window(answer, window, fusion, self._payloads)

        return laddered(fetch, self._tuning, offset + limit)[offset : offset + limit]

    def browse(self, flt: SearchFilter, limit: int, offset: int = 0) -> list[SearchHit]:
        """Posters passing flt, highest rating first, then the unrated; score is the rating."""
        return planned_browse(self, self._tuning, flt, limit, offset)

    def rated(self, flt: SearchFilter, limit: int) -> list[SearchHit]:
        """The top `limit` rated posters passing flt, highest rating first; score the rating."""
        request = edge.QueryRequest(
            limit=limit,
            query=edge.OrderBy(FIELD_RATING, direction=edge.Direction.Desc),
            filter=to_edge_filter(flt),
            with_payload=True,
        )
        posters = [
            payload_to_poster(p.payload or {}) for p in self._call(self._ready().query, request)
        ]
        return [SearchHit(p, p.rating or 0.0) for p in posters]

    def unrated(self, flt: SearchFilter, limit: int, offset: int) -> list[SearchHit]:
        """Posters passing flt that have no rating, in point id order; score 0."""
        request = edge.QueryRequest(
            limit=limit,
            offset=offset,
            filter=unrated_only_edge(to_edge_filter(flt)),
            with_payload=True,
        )
        points = self._call(self._ready().query, request)
        return [SearchHit(payload_to_poster(p.payload or {}), 0.0) for p in points]

    def _records(self, movie_id: str) -> list[Any]:
        shard = self._ready()
        return list(self._call(shard.retrieve, [point_id(movie_id)], True, False))

    def get_vector(self, movie_id: str) -> list[float] | None:
        """The stored vector of a movie, or None when it is not in the collection."""
        return self.get_vectors([movie_id]).get(movie_id)

    def get_vectors(self, movie_ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those movies that are in the collection, by movie id."""
        shard = self._ready()
        movie_of = {point_id(m): m for m in movie_ids}
        records = self._call(shard.retrieve, list(movie_of), False, [VECTOR_NAME])
        return {
            movie_of[str(r.id)]: [float(x) for x in r.vector[VECTOR_NAME]]
            for r in records
            if r.vector
        }

    def get_poster(self, movie_id: str) -> Poster | None:
        """The stored payload of a movie, or None."""
        records = self._records(movie_id)
        return payload_to_poster(records[0].payload or {}) if records else None

    def genre_counts(self) -> dict[str, int]:
        """Every genre in the collection with its number of posters."""
        shard = self._ready()
        request = edge.FacetRequest(FIELD_GENRES, limit=_MAX_GENRES, exact=True)
        response = self._call(shard.facet, request)
        return {str(hit.value): int(hit.count) for hit in response.hits}

    def _count(self, shard: edge.EdgeShard, flt: edge.Filter | None) -> int:
        return int(self._call(shard.count, edge.CountRequest(exact=True, filter=flt)))

    def count(self, flt: SearchFilter | None = None) -> int:
        """Number of posters passing flt (all when None)."""
        return self._count(self._ready(), to_edge_filter(flt))

    def close(self) -> None:
        """Builds the HNSW graph if this process wrote posters, flushes and closes the shard."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            shard, self._shard = self._shard, None
            if shard is None:
                return
            try:
                if self._dirty:
                    shard.optimize()
                shard.flush()
                if self._writing and self._model is not None:
                    # Everything written is on disk: the count a later open checks against.
                    points = int(shard.count(edge.CountRequest(exact=True)))
                    write_model_record(self._dir, self._model, points=points)
            finally:
                shard.close()

    # Payload fields written after ingest (captions), without touching the vectors.

    def posters_missing(
        self, field: str, limit: int, page: str | None = None
    ) -> tuple[list[Poster], str | None]:
        """A page of stored posters whose payload lacks field (absent or null), in id order."""
        shard = self._ready()
        request = edge.ScrollRequest(
            offset=page,
            limit=limit,
            filter=_missing(field),
            with_payload=True,
            with_vector=False,
        )
        records, next_page = self._call(shard.scroll, request)
        posters = [payload_to_poster(r.payload or {}) for r in records]
        return posters, str(next_page) if next_page is not None else None

    def count_missing(self, field: str) -> int:
        """Number of stored posters whose payload lacks field (absent or null)."""
        return self._count(self._ready(), _missing(field))

    def set_payload_field(self, field: str, values: Mapping[str, object]) -> None:
        """Sets field in each movie's payload and flushes before returning; vectors are kept."""
        if not values:
            return
        with self._lock:
            shard = self._ready()
            stored = self.existing_ids(values)
            try:
                for movie_id in stored:
                    operation = edge.UpdateOperation.set_payload(
                        [point_id(movie_id)], {field: values[movie_id]}
                    )
                    shard.update(operation)
                shard.flush()
            except Exception as exc:
                raise PosterIndexError(f"Edge payload update failed: {exc}") from exc


def _quantization_config(
    tuning: IndexTuning,
) -> edge.TurboQuantQuantizationConfig | edge.ScalarQuantizationConfig | None:
    """The collection's compressed copy of the vectors, kept in RAM, or none."""
    if tuning.quantization == "turbo4":
        return edge.TurboQuantQuantizationConfig(bits=edge.TurboQuantBitSize.Bits4, always_ram=True)
    if tuning.quantization == "int8":
        return edge.ScalarQuantizationConfig(
            edge.ScalarType.Int8, quantile=tuning.int8_quantile, always_ram=True
        )
    return None


def _missing(field: str) -> edge.Filter:
    return edge.Filter(must=[edge.IsEmptyCondition(field)])


def _params(walk: Walk) -> edge.SearchParams:
    """Qdrant Edge's search parameters for one planned walk."""
    return edge.SearchParams(
        hnsw_ef=walk.hnsw_ef,
        exact=walk.exact,
        acorn=edge.AcornSearchParams(enable=True, max_selectivity=1.0) if walk.acorn else None,
        # Quantized candidates, rescored with the original vectors (a no-op without quantization).
        quantization=edge.QuantizationSearchParams(
            ignore=not walk.quantized, rescore=True, oversampling=walk.oversampling
        ),
    )


def _point_or_none(movie_id: str | None) -> str | None:
    return point_id(movie_id) if movie_id is not None else None


def _recommend(query: Steer) -> edge.Query:
    """The best-score recommend query of the query vector against its negatives."""
    negatives: list[edge.NamedVector] = [list(n) for n in query.negatives]
    recommend = edge.RecommendQuery([list(query.vector)], negatives)
    return edge.Query.RecommendBestScore(recommend, using=VECTOR_NAME)


def _mmr(query: Steer, candidates: int) -> edge.Mmr:
    # Edge's lambda weighs relevance: one minus Qdrant's diversity.
    return edge.Mmr(list(query.vector), 1.0 - query.diversity, candidates, using=VECTOR_NAME)


def _steered_request(query: Steer, walk: Walk, qfilter: edge.Filter | None) -> edge.QueryRequest:
    """One walk of a steered query with negatives or diversity (not both): recommend or MMR."""
    if not query.diverse:
        return edge.QueryRequest(
            limit=walk.limit,
            query=_recommend(query),
            filter=qfilter,
            params=_params(recommend_walk(walk)),
            with_payload=True,
        )
    candidates = mmr_candidates(walk.limit)
    # MMR chooses among `candidates` posters: the walk keeps at least that many in its beam.
    return edge.QueryRequest(
        limit=walk.limit,
        query=_mmr(query, candidates),
        filter=qfilter,
        params=_params(replace(walk, hnsw_ef=max(walk.hnsw_ef, candidates))),
        with_payload=True,
    )
