"""Which events a count reads: per-event codes of the event type, sub-event type and actor
pair, the selection of one type or actor group, and the counts on the grid.

Event tables have millions of rows but few distinct event types and actor names: the string
work (casefold, substring search) runs on the distinct values and maps back by integer code,
and the codes are computed once per context (kept in ``ctx.cache`` under keys starting with
"__", never a feature name).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd

from riskcast.features.base import FeatureContext, FeatureError

__all__ = ["str_codes", "event_type_codes", "actor_pair_codes", "event_mask", "event_counts"]


def _factorize(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(column)``: the same codes and distinct values, in the same order.

    An object column read from a file holds one Python object per distinct string (pandas' and
    pyarrow's readers reuse them), so its millions of rows point at a few dozen objects. The
    rows are first grouped by the address of their object (integers hash 8x faster than strings
    compare), then the groups' first values are factorized: equal values held by different
    objects merge there, and since the groups come in order of their first row, the distinct
    values come in order of first appearance, as ``pd.factorize`` gives them.
    """
    values = column.to_numpy()
    if values.dtype != object or values.ndim != 1 or not len(values):
        codes, uniques = pd.factorize(column)
        return codes, np.asarray(uniques, dtype=object)
    values = np.ascontiguousarray(values)
    addresses = np.ctypeslib.as_array((ctypes.c_size_t * len(values)).from_address(values.ctypes.data))
    groups, _ = pd.factorize(addresses)
    first = np.empty(int(groups.max()) + 1, dtype=np.intp)
    first[groups[::-1]] = np.arange(len(groups) - 1, -1, -1)
    codes, uniques = pd.factorize(values[first])
    return codes[groups], np.asarray(uniques, dtype=object)


def str_codes(column: pd.Series, fill: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(per-row codes, distinct strings): the strings of ``column.fillna(fill).astype(str)``
    (no ``fillna`` when ``fill`` is None), each row pointing at its string.

    Only where every value is already a string (and a missing one is filled) does it skip
    converting millions of values; otherwise it converts as the definition says.
    """
    codes, values = _factorize(column)
    missing = codes < 0
    if all(type(v) is str for v in values) and (fill is not None or not missing.any()):
        if fill is None or not missing.any():
            return codes, values
        return np.where(missing, len(values), codes), np.append(values, np.array([fill], dtype=object))
    text = column.fillna(fill) if fill is not None else column
    codes, uniques = pd.factorize(text.astype(str))
    return codes, np.asarray(uniques, dtype=object)


def _codes(ctx: FeatureContext, key: str, make):
    """``make()``, computed once per context."""
    if key not in ctx.cache:
        ctx.cache[key] = make()
    return ctx.cache[key]


def _casefolded(column: pd.Series, fill: str | None) -> tuple[np.ndarray, pd.Series]:
    codes, uniques = str_codes(column, fill)
    return codes, pd.Series(uniques, dtype=object).str.casefold()


def event_type_codes(ctx: FeatureContext) -> tuple[np.ndarray, pd.Series]:
    """(per-event codes, the distinct event types case-folded): ``event_type.astype(str)``."""
    return _codes(ctx, "__event_type_codes", lambda: _casefolded(ctx.events["event_type"], None))


def actor_pair_codes(ctx: FeatureContext) -> tuple[np.ndarray, pd.Series]:
    """(per-event codes, the distinct "actor1 | actor2" case-folded), missing actors read as ""."""
    return _codes(ctx, "__actor_pair_codes", lambda: _actor_pair_codes(ctx.events))


def _actor_pair_codes(ev: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    c1, u1 = str_codes(ev["actor1"], "")
    c2, u2 = str_codes(ev["actor2"], "")
    n2 = max(len(u2), 1)
    codes, pairs = pd.factorize(c1.astype(np.int64) * n2 + c2)  # hashing, not sorting, 1.9 M pairs
    a1 = pd.Series(u1[pairs // n2], dtype=object)
    a2 = pd.Series(u2[pairs % n2], dtype=object)
    return codes, (a1 + " | " + a2).str.casefold()


def event_mask(
    ctx: FeatureContext, event_type: str | None, actor_group: str | None, sub_event_type: str | None = None
) -> np.ndarray:
    """Which rows of ``ctx.events`` count: target events, or one (sub-)event type, within an actor group."""
    ev = ctx.events
    if sub_event_type is not None:
        # a sub-event type (ACLED's "Remote explosive/landmine/IED") of any event type
        column = (
            ev["sub_event_type"] if "sub_event_type" in ev else pd.Series("", index=ev.index, dtype=object)
        )
        codes, subs = _codes(ctx, "__sub_event_type_codes", lambda: _casefolded(column, ""))
        mask = (subs == sub_event_type.casefold()).to_numpy()[codes]
    elif event_type is not None:
        codes, types = event_type_codes(ctx)
        mask = (types == event_type.casefold()).to_numpy()[codes]
    else:
        mask = ev["is_target"].to_numpy()
    if actor_group is not None:
        if actor_group not in ctx.actor_groups:
            raise FeatureError(
                f"unknown actor group {actor_group!r}; declared: {sorted(ctx.actor_groups)}",
                param="actor_group",
            )
        codes, actors = actor_pair_codes(ctx)
        hit = np.zeros(len(actors), dtype=bool)
        for pattern in ctx.actor_groups[actor_group]:
            hit |= actors.str.contains(pattern.casefold(), regex=False).to_numpy(dtype=bool)
        mask = mask & hit[codes]
    return mask


def event_counts(ctx: FeatureContext, mask: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Count the events of ``mask`` (or sum their ``values``, one per event) into a units x
    months array: the same sums, in the same row order, as :meth:`FeatureContext.grid` of the
    selected rows.

    One weighted ``bincount`` over every event, the others weighing 0 (adding +0.0 leaves a sum
    as it is, and a sum starts at +0.0 either way), from a flat (unit, month) index computed
    once per context: twice as fast as selecting the rows first, and the counts come out as
    float without a second pass over the grid.
    """
    n_u, n_m = ctx.shape
    cells = _codes(ctx, "__event_cells", lambda: _event_cells(ctx))
    mask = np.asarray(mask, dtype=bool)
    weights = mask if values is None else np.where(mask, values, 0.0)
    if len(cells) and cells.min() < 0:  # rows outside the grid: an error if one is selected
        if (cells[mask] < 0).any():
            raise IndexError(f"rows outside the {n_u} x {n_m} grid (unit_ix / month_ix out of range)")
        cells, weights = cells[cells >= 0], weights[cells >= 0]
    if not len(cells):
        return np.zeros((n_u, n_m))
    return np.bincount(cells, weights=weights, minlength=n_u * n_m).reshape(n_u, n_m)


def _event_cells(ctx: FeatureContext) -> np.ndarray:
    """unit_ix * n_m + month_ix of every event; -1 for a row outside the grid."""
    n_u, n_m = ctx.shape
    u = ctx.events["unit_ix"].to_numpy(dtype=np.int64)
    m = ctx.events["month_ix"].to_numpy(dtype=np.int64)
    inside = (u >= 0) & (m >= 0) & (u < n_u) & (m < n_m)
    return np.where(inside, u * n_m + m, -1)
