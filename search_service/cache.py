"""A least-recently-used cache of query vectors, so a repeated query costs no model call."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

Vector = npt.NDArray[np.float32]

QUERY_CACHE = Counter(
    "postersearch_search_query_cache_total",
    "Query vector look-ups of the search service, by result (hit: no model call).",
    ["result"],
)


class VectorCache:
    """Maps normalised query text to its vector, dropping the least recently used first.

    Only successful encodings are stored, so an encoder outage leaves nothing behind that
    would have to be cleared when it comes back. Vectors are stored read-only, since the
    same array is handed to every caller asking the same query.

    Args:
        capacity: Most vectors kept; 0 keeps none.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, Vector] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Vector | None:
        """The vector stored for key, marking it most recently used; None when absent."""
        vector = self._items.get(key)
        if vector is None:
            self.misses += 1
            QUERY_CACHE.labels("miss").inc()
            return None
        self._items.move_to_end(key)
        self.hits += 1
        QUERY_CACHE.labels("hit").inc()
        return vector

    def put(self, key: str, vector: Vector) -> None:
        """Stores vector under key, dropping the least recently used beyond capacity."""
        if self._capacity <= 0:
            return
        stored = np.array(vector, dtype=np.float32, copy=True)
        stored.setflags(write=False)
        self._items[key] = stored
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
