"""Candidate generation by blocking: sorted keys and binary search, never all pairs.

Every query is "documents whose group equals the transaction's group and whose value lies
in the transaction's interval" (group: currency and sign, plus the amount, the name or
the IBAN; value: the amount or the anchor date). Documents are sorted once by (group,
value); each transaction then costs two binary searches, and only the matching ranges
are materialised.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


def run_starts(*keys: IntArray) -> NDArray[np.bool_]:
    """For rows sorted by `keys`, True where a new run of equal keys starts."""
    n = len(keys[0])
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
        for key in keys:
            starts[1:] |= key[1:] != key[:-1]
    return starts


def unique(values: IntArray) -> IntArray:
    """Sorted distinct values (sort-based: several times faster than np.unique's hashing
    on int64 keys of this size)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    return ordered[run_starts(ordered)]


def unique_inverse(values: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted distinct values, and for each value its position among them."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = run_starts(ordered)
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def expand_ranges(starts: IntArray, stops: IntArray) -> tuple[IntArray, IntArray]:
    """(owner, position) for every position of every [start, stop) range, in order."""
    counts = np.maximum(stops - starts, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    if total == 0:
        return owner, np.zeros(0, dtype=np.int64)
    first = np.cumsum(counts) - counts
    position = np.arange(total, dtype=np.int64) - np.repeat(first - starts, counts)
    return owner, position


def range_join(
    doc_group: IntArray,
    doc_value: IntArray,
    query_group: IntArray,
    query_low: IntArray,
    query_high: IntArray,
    *,
    center: IntArray | None = None,
    limit: int = 0,
) -> tuple[IntArray, IntArray]:
    """All (query, document) with equal group and query_low <= doc value <= query_high.

    Negative groups mean "no key" on either side and never match. Pairs come out grouped
    by query, documents in (value, index) order within a query. With a `limit`, each
    query keeps at most that many documents, those around its `center` value: degenerate
    data (a thousand identical subscriptions) then costs no more than ordinary data.
    """
    empty = np.zeros(0, dtype=np.int64)
    valid_docs = np.flatnonzero(doc_group >= 0)
    if len(valid_docs) == 0 or len(query_group) == 0:
        return empty, empty
    groups = unique(doc_group[valid_docs])
    values = unique(doc_value[valid_docs])
    width = len(values) + 1
    doc_key = np.searchsorted(groups, doc_group[valid_docs]) * width + np.searchsorted(
        values, doc_value[valid_docs]
    )
    order = np.argsort(doc_key, kind="stable")
    sorted_key = doc_key[order]
    sorted_docs = valid_docs[order]

    group_rank = np.searchsorted(groups, query_group)
    known = (query_group >= 0) & (group_rank < len(groups))
    known &= groups[np.minimum(group_rank, len(groups) - 1)] == query_group
    low = np.searchsorted(values, query_low, side="left")
    high = np.searchsorted(values, query_high, side="right")
    base = group_rank * width
    starts = np.searchsorted(sorted_key, base + low, side="left")
    stops = np.searchsorted(sorted_key, base + high, side="left")
    stops = np.where(known & (high > low), stops, starts)
    if limit and center is not None:
        middle = np.searchsorted(
            sorted_key, base + np.searchsorted(values, center, side="left"), side="left"
        )
        first = np.clip(middle - limit // 2, starts, np.maximum(starts, stops - limit))
        starts, stops = first, np.minimum(stops, first + limit)
    owner, position = expand_ranges(starts, stops)
    return owner, sorted_docs[position]


def rank_within(owner: IntArray, key: IntArray | NDArray[np.float64]) -> IntArray:
    """Each row's rank among the rows of its owner by increasing key; ties keep the rows'
    order (the sort is stable), so callers give rows in a deterministic order."""
    if len(owner) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((key, owner))
    first = np.flatnonzero(run_starts(owner[order]))
    rank = np.empty(len(owner), dtype=np.int64)
    rank[order] = np.arange(len(owner)) - np.repeat(first, np.diff(np.r_[first, len(owner)]))
    return rank


def nearest_per_owner(owner: IntArray, distance: IntArray, keep: int) -> NDArray[np.bool_]:
    """Mask keeping, for each owner, its `keep` rows of smallest distance (ties: first)."""
    return rank_within(owner, distance) < keep
