"""Array kernels shared by the features, and the checks of their parameters.

Kernels work on the dense units x months array: a lag is a slice, a rolling window a
difference of cumulative sums (a running maximum by doubling for the max), "time since" a
running maximum of event months. The windowed kernels run over blocks of rows so that their
temporaries stay in the CPU cache: each writes its result once and allocates nothing else of
the panel's size (on 10,000 cells x 420 months a fresh 34 MB array costs as much as the
arithmetic). Each gives the values of its plain definition to the bit (tests/features/test_kernels.py).
:func:`positive` and :func:`whole` check a feature's parameters.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from riskcast.features.base import FeatureError

__all__ = [
    "lag",
    "change",
    "rolling_sum",
    "running_total",
    "window_sum",
    "rolling_max",
    "months_since",
    "decay_since",
    "decay_head",
    "since_lookup",
    "onset",
    "AboveZero",
    "positive",
    "whole",
]

#: Bytes of one block of rows: the block's temporaries stay in the L2 cache (the fastest of
#: 256 KB to 2 MB on 10,000 cells x 420 months).
BLOCK_BYTES = 1 << 19


# --- kernels ------------------------------------------------------------------------------


def _blocks(shape: tuple[int, int], itemsize: int = 8) -> list[slice]:
    n_rows, n_cols = shape
    step = max(1, BLOCK_BYTES // max(1, n_cols * itemsize))
    return [slice(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def _flat(a: np.ndarray) -> np.ndarray | None:
    """The C-ordered array as one flat view, or None when it is not contiguous."""
    return a.reshape(-1) if a.flags.c_contiguous else None


def _shifted(op, src: np.ndarray, span: int, dst: np.ndarray, head=None) -> None:
    """dst[:, t] = op(src[:, t], src[:, t - span]) for t >= span, and ``head`` (default
    src[:, t]) for t < span.

    On contiguous arrays as one flat pass (about twice as fast as the 2-D slices); the first
    ``span`` months of each row, which read the end of the previous row, are then rewritten.
    """
    n_m = src.shape[1]
    span = min(span, n_m)
    flat_src, flat_dst = _flat(src), _flat(dst)
    if flat_src is not None and flat_dst is not None and 0 < span:
        op(flat_src[span:], flat_src[:-span], out=flat_dst[span:])
    else:
        op(src[:, span:], src[:, : n_m - span], out=dst[:, span:])
    dst[:, :span] = src[:, :span] if head is None else head(src[:, :span])


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """x(t - k); months before the panel count as 0."""
    n_m = x.shape[1]
    k = min(k, n_m)
    out = np.empty_like(x)
    flat_x, flat_out = _flat(x), _flat(out)
    if flat_x is not None and flat_out is not None and 0 < k:
        flat_out[k:] = flat_x[:-k]  # one copy; the first k months of each row are then zeroed
    else:
        out[:, k:] = x[:, : n_m - k]
    out[:, :k] = 0
    return out


def change(x: np.ndarray, k: int) -> np.ndarray:
    """x(t) - x(t - k) in one pass (``x - lag(x, k)`` without the lag's array)."""
    out = np.empty_like(x)
    # Before month k the lag is 0: x - 0, as x - lag(x, k) computes it.
    _shifted(np.subtract, x, k, out, head=lambda first: first - 0)
    return out


def rolling_sum(x: np.ndarray, window: int, divide: float | None = None) -> np.ndarray:
    """Sum over the ``window`` months ending at t; months before the panel count as 0; divided
    by ``divide`` when given (the mean: the same division as ``rolling_sum(x, w) / w``).

    The cumulative sum of each row block lives in a cache-sized buffer, and the windowed
    difference goes straight into the result: the same additions, in the same order, as one
    ``cumsum`` of the whole array, so the same values to the bit.
    """
    n_u, n_m = x.shape
    dtype = np.cumsum(np.zeros((1, 1), dtype=x.dtype), axis=1).dtype
    out = np.empty((n_u, n_m), dtype=dtype)
    blocks = _blocks(x.shape, dtype.itemsize)
    buf = np.empty((blocks[0].stop if blocks else 0, n_m), dtype=dtype)
    for rows in blocks:
        c = buf[: rows.stop - rows.start]
        np.cumsum(x[rows], axis=1, out=c)
        _shifted(np.subtract, c, window, out[rows])
        if divide is not None:  # while the block is still in the cache
            np.divide(out[rows], divide, out=out[rows])
    return out


def running_total(x: np.ndarray) -> np.ndarray:
    """The cumulative sum along the months: what :func:`rolling_sum` differences."""
    return np.cumsum(x, axis=1)


def window_sum(total: np.ndarray, window: int, divide: float | None = None) -> np.ndarray:
    """:func:`rolling_sum` from a :func:`running_total` already computed (shared by several
    windows): the same subtraction (and division), so the same values."""
    out = np.empty_like(total)
    _shifted(np.subtract, total, window, out)
    if divide is not None:
        np.divide(out, divide, out=out)
    return out


def _window_max_slow(x: np.ndarray, window: int) -> np.ndarray:
    """The maximum over a sliding-window view: the definition, for blocks with NaN or -0.0."""
    pad = np.concatenate([np.full((x.shape[0], window - 1), -np.inf), x], axis=1)
    return sliding_window_view(pad, window, axis=1).max(axis=2)


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Maximum over the ``window`` months ending at t (over the months available near the start).

    By doubling: the maximum over 2s months is that of two overlapping maxima over s, so a
    window of w takes about log2(w) passes over a row block held in the cache. A maximum does
    not round, so any order of comparisons gives the same value, with two exceptions left to
    the definition (:func:`_window_max_slow`): NaN (which NaN propagates) and -0.0 (a tie with 0.0).
    """
    n_u, n_m = x.shape
    w = min(window, n_m)  # a longer window covers every month before t, as one of n_m does
    out = np.empty((n_u, n_m))
    blocks = _blocks(x.shape)
    size = blocks[0].stop if blocks else 0
    bufs = (np.empty((size, n_m)), np.empty((size, n_m)))
    for rows in blocks:
        block, n = np.ascontiguousarray(x[rows], dtype=float), rows.stop - rows.start
        res = out[rows]
        low = block.min() if block.size else 0.0  # NaN if there is one (min propagates it)
        if np.isnan(low) or (block.view(np.int64) == np.iinfo(np.int64).min).any():  # -0.0
            res[...] = _window_max_slow(block, window)
            res[np.isneginf(res)] = 0.0  # only a window of -inf alone; the definition gives it 0
            continue
        cur, span = block, 1
        while 2 * span <= w:  # cur: the maximum over the `span` months ending at t
            nxt = bufs[span.bit_length() % 2][:n]
            _shifted(np.maximum, cur, span, nxt)
            cur, span = nxt, 2 * span
        rest = w - span  # < span: two overlapping windows of `span` months cover `w`
        if rest:
            _shifted(np.maximum, cur, rest, res)
        else:
            res[...] = cur
        if low == -np.inf:
            res[np.isneginf(res)] = 0.0
    return out


class AboveZero:
    """``x > 0`` for :func:`months_since`, :func:`decay_since` and :func:`since_lookup`, made
    block by block as they read it (never the whole boolean array)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x, self.shape = x, x.shape

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.x[rows] > 0


def _since(hit: np.ndarray, never: int):
    """Per row block of ``hit`` (booleans, or :class:`AboveZero`): (rows, months since the last
    True at or before each month), as integers.

    A row with no True yet gets ``never`` + the month index (>= ``never``), so one lookup table
    turns both cases into the result. The index of the last True is a running maximum, taken
    by doubling (the maximum over the 2s months ending at t is that of the s ending at t and at
    t - s): log2(n_m) vectorised passes instead of a sequential loop along each row, 3x faster,
    the same integers. They are as narrow as the panel allows (int16 up to 16,000 months) and
    live in cache-sized buffers reused for the next block: use each before asking for the next.
    """
    n_u, n_m = hit.shape
    top = 2 * max(n_m, never) + 2
    dtype = next(d for d in (np.int16, np.int32, np.int64) if top < np.iinfo(d).max)
    months = np.arange(n_m, dtype=dtype)
    shifted = months + dtype(never)
    blocks = _blocks(hit.shape, np.dtype(dtype).itemsize)
    size = blocks[0].stop if blocks else 0
    bufs = (np.empty((size, n_m), dtype=dtype), np.empty((size, n_m), dtype=dtype))
    for rows in blocks:
        n = rows.stop - rows.start
        cur, nxt = bufs[0][:n], bufs[1][:n]
        np.multiply(
            hit[rows].astype(bool, copy=False), shifted, out=cur
        )  # month + never where True, else 0 ...
        cur -= dtype(never)  # ... minus never: the month where True, else -never
        span = 1
        while span < n_m:  # cur: the last True among the `span` months ending at t
            _shifted(np.maximum, cur, span, nxt)
            cur, nxt, span = nxt, cur, 2 * span
        np.subtract(months, cur, out=cur)
        yield rows, cur


def since_lookup(hit, head: np.ndarray, never: float, start: int = 0) -> np.ndarray:
    """``head[months since the last True at or before t]``, ``never`` before any True.

    ``head`` holds one value per 0 .. n_m - 1 months: whatever a feature makes of the months
    since (a cap, a decay, a window) is computed once per possible value, not once per cell.
    Only the months from ``start`` on are returned (a padded history's panel months).
    """
    n_u, n_m = hit.shape
    table = np.empty(2 * n_m)
    table[:n_m] = head
    table[n_m:] = never
    out = np.empty((n_u, n_m - start))
    for rows, since in _since(hit, n_m):
        np.take(table, since[:, start:], out=out[rows], mode="clip")
    return out


def months_since(hit, cap: int, start: int = 0) -> np.ndarray:
    """Months since the last True at or before t; ``cap`` where there was none (or longer ago)."""
    # As the integer months and cap convert to float (exactly below 2^53).
    return since_lookup(hit, np.minimum(np.arange(hit.shape[1], dtype=np.int64), cap), np.int64(cap), start)


def decay_head(n_m: int, halflife: float) -> np.ndarray:
    """2^(-s / halflife) for s = 0 .. n_m - 1, by the operations, in the order, that the decays
    have always used on the whole array (-(s), / halflife, exp2): the same values to the bit."""
    head = np.arange(n_m, dtype=float)
    np.negative(head, out=head)
    np.divide(head, halflife, out=head)
    np.exp2(head, out=head)
    return head


def decay_since(hit, halflife: float, start: int = 0) -> np.ndarray:
    """2^(-months since the last True at or before t / halflife); 0 before any True."""
    return since_lookup(hit, decay_head(hit.shape[1], halflife), 0.0, start)


class _NonZero(AboveZero):
    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.x[rows] != 0  # "quiet" is exactly zero, whatever the sign (NaN is not quiet)


def onset(x: np.ndarray, quiet: int) -> np.ndarray:
    """1 where x(t) > 0 and x was exactly 0 in each of the ``quiet`` months before t (months
    before the panel count as 0): the months since the last non-zero month, at t - 1, are at
    least ``quiet``."""
    n_u, n_m = x.shape
    q = min(quiet, n_m)  # a longer quiet spell reaches back before the panel, as n_m months do
    out = np.empty((n_u, n_m))
    for rows, since in _since(_NonZero(x), n_m):
        res = out[rows]
        np.greater(x[rows, :1], 0, out=res[:, :1], casting="unsafe")
        ok = since[:, :-1] >= q
        np.logical_and(x[rows, 1:] > 0, ok, out=ok)
        res[:, 1:] = ok
    return out


def positive(name: str, value: float) -> None:
    if not value > 0:
        raise FeatureError(f"{name} must be > 0, got {value!r}", param=name)


def whole(name: str, value: int, low: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise FeatureError(f"{name} must be a whole number >= {low}, got {value!r}", param=name)
