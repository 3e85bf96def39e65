"""riskcast's curated fact tables: political shocks, foreign troop presence, the gazetteer and
the rainy season.

The CSV files beside this module are small, hand-curated tables of public-record facts (each
row cites its source); ``FACTS.md`` describes their coverage and gaps. The loaders below read
them as canonical tables (see :mod:`riskcast.schemas`), so a broken edit fails loudly with the
file, row and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from riskcast.errors import InputError
from riskcast.paths import facts_file
from riskcast.schemas import validate

__all__ = [
    "load_shocks",
    "load_presence",
    "load_regions",
    "load_region_files",
    "load_rainy_season",
    "load_country_outlines",
    "load_areas",
    "REGION_FILES",
]

#: Gazetteer files per level, read in this order. Admin2 is curated for Mali (cercles),
#: Burkina Faso (provinces) and Niger (departments), one file per country.
REGION_FILES: dict[str, tuple[str, ...]] = {
    "admin1": ("regions_admin1.csv",),
    "admin2": ("regions_mli_admin2.csv", "regions_bfa_admin2.csv", "regions_ner_admin2.csv"),
}


def _read(name: str, schema: str, dates: Iterable[str] = ()) -> pd.DataFrame:
    """Read one fact CSV as strings (empty cells -> NaN), parse ``dates`` and validate."""
    path: Path = facts_file(name)
    # dtype=str keeps P-codes and ids exactly as written; only empty cells become NaN
    # (keep_default_na=False stops words such as "NA" from turning into missing values).
    df = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False, na_values=[""])
    for col in dates:
        df[col] = pd.to_datetime(df[col], format="%Y-%m-%d").astype("datetime64[ns]")
    # CSV line numbers: the header is line 1, so index label i is line i + 2.
    return validate(df, schema, file=str(path), row_of=lambda i: int(i) + 2)


def load_shocks() -> pd.DataFrame:
    """Coups, withdrawals, deployments, accords, sanctions and elections in Mali, Burkina Faso and Niger."""
    return _read("shocks_sahel.csv", "shocks", dates=["date"])


def load_presence() -> pd.DataFrame:
    """Foreign forces (France, MINUSMA, Wagner ...) by location and month range."""
    return _read("presence_sahel.csv", "presence", dates=["start_month", "end_month"])


def load_region_files(level: str = "admin1") -> dict[str, pd.DataFrame]:
    """Each gazetteer file of ``level`` on its own, validated: file name -> REGIONS table.

    Kept apart (rather than only concatenated) so that a check on one file -- neighbour ids,
    say -- can name the file and the row a person has to fix.

    Raises:
        ValueError: for a level other than those in :data:`REGION_FILES`.
    """
    if level not in REGION_FILES:
        raise ValueError(f"level must be one of {sorted(REGION_FILES)}, got {level!r}")
    return {name: _read(name, "regions") for name in REGION_FILES[level]}


def load_regions(level: str = "admin1", countries: Iterable[str] | None = None) -> pd.DataFrame:
    """The gazetteer of spatial units at ``level``: "admin1" (Mali, Burkina Faso, Niger) or
    "admin2" (Mali cercles, Burkina Faso provinces and Niger departments, from their own files,
    in that order).

    Args:
        level: "admin1" or "admin2".
        countries: keep only these countries (names as in the ``country`` column); all if None.

    Raises:
        ValueError: for any other level.
        InputError: a unit_id listed in two of the level's files.
    """
    parts = load_region_files(level)
    df = pd.concat(parts.values(), ignore_index=True)
    dup = df["unit_id"].duplicated()
    if dup.any():
        uid = df.loc[dup, "unit_id"].iloc[0]
        # A P-code is unique across countries; the same id twice would merge two units.
        raise InputError(
            f"unit_id {uid!r} appears in more than one {level} gazetteer file",
            file=", ".join(parts),
            column="unit_id",
        )
    if countries is not None:
        wanted = set(countries) if not isinstance(countries, str) else {countries}
        df = df[df["country"].isin(wanted)].reset_index(drop=True)
    return df


def load_rainy_season() -> pd.DataFrame:
    """Rainy-season months per country: ``country``, ``first_month``, ``last_month`` (1-12, inclusive;
    a season may run across the new year) and ``source``.

    Raises:
        InputError: a month that is not a whole number from 1 to 12, or a missing source.
    """
    path = facts_file("rainy_season.csv")
    df = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False, na_values=[""])
    for i, row in df.iterrows():
        for col in ("first_month", "last_month"):
            v = row[col]
            if not (isinstance(v, str) and v.strip().isdigit() and 1 <= int(v) <= 12):
                raise InputError(
                    f"expected a month 1-12, got {v!r}", file=str(path), row=int(i) + 2, column=col
                )
        if not isinstance(row["source"], str) or not row["source"].strip():
            raise InputError(
                "expected a source (it is empty)", file=str(path), row=int(i) + 2, column="source"
            )
    return df.astype({"first_month": int, "last_month": int})


def load_country_outlines(countries: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Coarse country outlines (Natural Earth 1:110m, public domain) for maps without a boundaries
    file: ``{country: array of (lon, lat) vertices, closed}``, for ``countries`` (all when None;
    countries without an outline are left out).

    Raises:
        InputError: a vertex whose lon/lat is not a number in range, or a row without a source.
    """
    path = facts_file("country_outlines.csv")
    df = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False, na_values=[""])
    for col, lim in (("lon", 180.0), ("lat", 90.0)):
        v = pd.to_numeric(df[col], errors="coerce")
        bad = v.isna() | (v.abs() > lim)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"expected a number within +-{lim:g}, got {df[col].iloc[i]!r}",
                file=str(path),
                row=i + 2,
                column=col,
            )
        df[col] = v
    nosrc = df["source"].isna() | (df["source"].astype(str).str.strip() == "")
    if nosrc.any():
        raise InputError(
            "expected a source (it is empty)",
            file=str(path),
            row=int(np.flatnonzero(nosrc.to_numpy())[0]) + 2,
            column="source",
        )
    want = None if countries is None else set(countries)
    df["vertex"] = df["vertex"].astype(int)
    return {
        c: g.sort_values("vertex")[["lon", "lat"]].to_numpy(dtype=float)
        for c, g in df.groupby("country", sort=True)
        if want is None or c in want
    }


def load_areas() -> pd.DataFrame:
    """Named areas that cut across admin-1 regions, by admin-2 member: ``area``, ``unit_id``,
    ``name``, ``country``, ``why`` (what puts the unit in the area) and ``source``.

    The report summarises escalation by area (the Liptako-Gourma tri-border, say) beside the
    admin-1 regions, because that is how analysts of the Sahel talk about where violence moves.

    Raises:
        InputError: an empty cell (every column is required), naming the file, row and column.
    """
    path = facts_file("areas_sahel.csv")
    df = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False, na_values=[""])
    for col in ("area", "unit_id", "name", "country", "why", "source"):
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if empty.any():
            raise InputError(
                f"expected a value in {col} (it is empty)",
                file=str(path),
                row=int(np.flatnonzero(empty.to_numpy())[0]) + 2,
                column=col,
            )
    return df
