"""Which reader reads which format, and one entry point that picks it.

``READERS`` is a plain dict: other modules register formats by adding an entry, e.g.
``READERS["synthetic"] = ("events", read_synthetic)``. A reader is called as
``reader(path, sheet=..., **options)`` and returns a :class:`ReadResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from riskcast.errors import InputError
from riskcast.io.acled import read_acled_export, read_acled_hdx
from riskcast.io.acled_aggregates import read_acled_aggregates
from riskcast.io.base import ReadResult
from riskcast.io.canonical import TABLES, read_canonical
from riskcast.io.coups import read_powell_thyne
from riskcast.io.geopko import read_geopko
from riskcast.io.peace import read_ucdp_peace_agreements
from riskcast.io.radpko import read_radpko
from riskcast.io.ucdp import read_ucdp_ged
from riskcast.io.vintages import read_vintage

__all__ = ["READERS", "ANY_TABLE", "read_input"]

#: Table kind of a format that can hold any canonical table (the kind argument decides).
ANY_TABLE = "*"

#: format name -> (table kind, reader).
READERS: dict[str, tuple[str, Callable[..., ReadResult]]] = {
    "acled_hdx": ("events", read_acled_hdx),
    "acled_export": ("events", read_acled_export),
    "ucdp_ged": ("events", read_ucdp_ged),
    "acled_aggregates": ("counts", read_acled_aggregates),
    "powell_thyne": ("shocks", read_powell_thyne),
    "ucdp_peace": ("shocks", read_ucdp_peace_agreements),
    "geopko": ("presence", read_geopko),
    "radpko": ("presence", read_radpko),
    # riskcast's own files; the table comes from the kind argument.
    "canonical": (ANY_TABLE, read_canonical),
    # a vintage written by `riskcast fetch` (path: DATA_DIR/<source> for its current vintage, or one vintage's folder)
    "vintage": (ANY_TABLE, read_vintage),
    # The lead adds "synthetic" and "curated" here (or registers them from their modules).
}


def read_input(
    kind: str, format: str, path: str | Path, *, sheet: str | None = None, options: dict | None = None
) -> ReadResult:
    """Read ``path`` as ``format`` into the canonical table ``kind``.

    Args:
        kind: the table wanted: events, counts, presence, shocks or regions.
        format: a key of :data:`READERS`.
        path: the input file.
        sheet: the sheet, for spreadsheet inputs.
        options: reader options (e.g. ``{"countries": ["Mali"]}``).

    Raises:
        InputError: unknown kind or format (listing the known ones), a format that does not
            give ``kind``, or whatever the reader raises.
    """
    if kind not in TABLES:
        raise InputError(f"unknown input kind {kind!r} (expected one of {sorted(TABLES)})", file=str(path))
    if format not in READERS:
        raise InputError(f"unknown format {format!r} (known formats: {sorted(READERS)})", file=str(path))
    gives, reader = READERS[format]
    opts = dict(options or {})
    if gives == ANY_TABLE:
        opts["table"] = kind
    elif gives != kind:
        fits = sorted(f for f, (k, _) in READERS.items() if k in (kind, ANY_TABLE))
        raise InputError(
            f"format {format!r} gives the {gives} table, not {kind} (formats for {kind}: {fits})",
            file=str(path),
        )
    return reader(path, sheet=sheet, **opts)
