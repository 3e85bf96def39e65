"""The neighbour graph of a units table, as a sparse matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["neighbour_matrix"]


def neighbour_matrix(units: pd.DataFrame, *, file: str = "regions") -> sparse.csr_matrix:
    """Contiguity as an n_units x n_units 0/1 int8 matrix in the order of ``units``' rows.

    ``units``: a REGIONS table as loaded (validated: one level, unique ``unit_id``); the
    ``neighbours`` column lists each unit's neighbours by unit_id, '|'-separated. The relation
    is made symmetric (a unit listing B makes A and B neighbours both ways) and a unit is never
    its own neighbour. Building it needs no :class:`~riskcast.regions.Gazetteer`, whose name
    table and schema check cost four times the matrix on a 10,000-cell grid.

    Raises:
        ValueError: the unit_ids are not unique, or a ``neighbours`` entry is not one of them.
    """
    units = units.reset_index(drop=True)
    if not pd.Index(units["unit_id"]).is_unique:
        raise ValueError(f"{file}: unit_id must be unique to build the neighbour graph")
    rows, cols = _neighbour_pairs(units, file)
    n = len(units)
    # Unchanged on purpose, so the matrix stays identical: the int8 sum of repeated
    # pairs wraps past 127 (a pair listed 128-255 times is dropped), as it always has.
    m = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    m = ((m + m.T) > 0).astype(np.int8).tocsr()
    m.sort_indices()
    return m


def _neighbour_pairs(units: pd.DataFrame, file: str) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) positions of every listed neighbour that is not the unit itself.

    The same pairs, in the same order, as reading each cell with ``_split`` and looking
    every item up in a dict, but with one join and one split of all the cells and one hash
    lookup of all the items (``Index.get_indexer``): on a 10,000-cell PRIO-GRID panel the
    per-item Python loop was most of the cost of a spatial lag.
    """
    cells = units["neighbours"]
    # notna() marks exactly the cells _split reads: a str is never missing; None, NaN and
    # pd.NA are. str() keeps _split's reading of a non-str value (the schema coerces to str).
    present = cells.notna().to_numpy()
    vals = [c if isinstance(c, str) else str(c) for c in cells.to_numpy()[present]]
    positions = np.flatnonzero(present)
    joined = "|".join(vals)
    counts = np.fromiter(map(str.count, vals, ["|"] * len(vals)), dtype=np.intp, count=len(vals)) + 1
    items = joined.split("|") if vals else []  # "".split("|") is [""], one item too many
    # str.split() and str.strip() share one definition of whitespace, so a joined string
    # that split() leaves whole has no item to strip; that skips 80,000 strip() calls.
    if joined.split(maxsplit=1) != [joined]:
        items = [x.strip() for x in items]
    items = np.array(items, dtype=object)
    rows = np.repeat(positions, counts)  # positions in the table (its index was reset)
    keep = items != ""
    rows, items = rows[keep], items[keep]
    # unit_id is unique (checked by the caller), so get_indexer is the dict lookup it replaces.
    cols = pd.Index(units["unit_id"]).get_indexer(items)
    unknown = np.flatnonzero(cols < 0)
    if unknown.size:
        k = unknown[0]  # the first unknown item in table order: the one the loop stopped at
        level = units["level"].iat[0] if "level" in units else "units"
        raise ValueError(
            f"{file}: unit {units['unit_id'].iat[rows[k]]!r} lists neighbour {items[k]!r}, "
            f"which is not a unit of this {level} gazetteer"
        )
    other = cols != rows  # unique ids: same position <=> same id, so this drops self-references
    return rows[other], cols[other]
