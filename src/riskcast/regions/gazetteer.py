"""The :class:`Gazetteer`: the spatial units of one level, their alias table and neighbours."""

from __future__ import annotations

import pandas as pd
from scipy import sparse

from riskcast.regions.names import _country_key, _country_keys, _split, normalise_many, normalise_name
from riskcast.regions.neighbours import neighbour_matrix
from riskcast.schemas import REGIONS, validate

__all__ = ["Gazetteer"]


class Gazetteer:
    """The spatial units of one level, with their alias table and neighbours.

    Args:
        regions: a REGIONS table (all rows of one level); it is validated against the schema.
        parents: for an admin2 gazetteer, the admin1 gazetteer whose unit_ids are the
            ``parent`` of the cercles. It lets the event's admin1 name choose between
            cercles of the same name; without it such names stay unassigned (with reason).
        file: where the table came from, for error messages.

    Raises:
        InputError: the table does not fit the REGIONS schema.
        ValueError: the table is empty or mixes levels, or one name/alias of a country
            points to two units (at admin2: two units with the same parent, or without one).
    """

    def __init__(
        self, regions: pd.DataFrame, *, parents: Gazetteer | None = None, file: str = "regions"
    ) -> None:
        units = validate(regions, REGIONS, file=file).reset_index(drop=True)
        if units.empty:
            raise ValueError(f"{file}: the gazetteer has no units")
        levels = units["level"].unique()
        if len(levels) != 1:
            raise ValueError(f"{file}: a gazetteer holds one level, got {sorted(levels)}")
        self._units = units
        self._level = str(levels[0])
        self._file = file
        self._parents = parents
        self._neighbours: sparse.csr_matrix | None = None
        self._countries = {k for k in _country_keys(units["country"]) if k}
        parents_given = units["parent"].str.strip()
        self._parent_of = dict(
            zip(units["unit_id"], parents_given.where(parents_given.fillna("") != "", None).tolist())
        )
        self._names = self._build_aliases()

    def _build_aliases(self) -> dict[tuple[str, str], list[str]]:
        table: dict[tuple[str, str], list[str]] = {}
        spelled: dict[tuple[str, str, str], str] = {}
        # Once per distinct country, not per unit: 10,000 PRIO-GRID cells share three countries.
        ckeys = {c: _country_key(c) or "" for c in pd.unique(self._units["country"])}
        uids, countries, spellings = self._spellings()
        for uid, country, spelling, key in zip(uids, countries, spellings, normalise_many(spellings)):
            if not key:
                continue
            entry = (ckeys[country], key)
            listed = table.setdefault(entry, [])
            if uid not in listed:
                listed.append(uid)
                spelled[(*entry, uid)] = spelling
        for (ckey, key), uids in table.items():
            if len(uids) < 2:
                continue
            parents = [self._parent_of[u] for u in uids]
            homonyms_ok = (
                self._level == "admin2" and None not in parents and len(set(parents)) == len(parents)
            )
            if not homonyms_ok:
                both = " and ".join(f"{u} (as {spelled[(ckey, key, u)]!r})" for u in uids)
                why = "" if self._level != "admin2" else " with the same parent or without one"
                raise ValueError(
                    f"{self._file}: the name {key!r} in {ckey or '(no country)'} points to {both}{why}; "
                    "a name or alias must identify one unit"
                )
        return dict(table)

    def _spellings(self) -> tuple[list[str], list[object], list[str]]:
        """(unit_id, country, spelling) of every name and alias, each unit's name before its aliases."""
        u = self._units
        if u["aliases"].isna().all():  # a grid: one name per cell, and no per-row work
            return u["unit_id"].tolist(), u["country"].tolist(), u["name"].tolist()
        uids, countries, spellings = [], [], []
        for uid, name, country, aliases in zip(u["unit_id"], u["name"], u["country"], u["aliases"]):
            for spelling in (name, *_split(aliases)):
                uids.append(uid)
                countries.append(country)
                spellings.append(spelling)
        return uids, countries, spellings

    # -- properties -----------------------------------------------------------------

    @property
    def units(self) -> pd.DataFrame:
        """The validated REGIONS table (a copy), in ``unit_ids`` order."""
        return self._units.copy()

    @property
    def unit_ids(self) -> list[str]:
        return self._units["unit_id"].tolist()

    @property
    def level(self) -> str:
        return self._level

    @property
    def parents(self) -> Gazetteer | None:
        return self._parents

    def has_country(self, country: object) -> bool:
        """Whether the gazetteer has units in ``country`` (any spelling, ISO3 included)."""
        return _country_key(country) in self._countries

    # -- lookups ----------------------------------------------------------------------

    def lookup(self, country: object, name: object, admin1: object = None) -> tuple[str | None, str | None]:
        """The unit called ``name`` in ``country``: ``(unit_id, None)`` or ``(None, reason)``.

        ``admin1`` (a name) is used at the admin2 level to choose between cercles that share
        a name, through the ``parents`` gazetteer.
        """
        ckey = _country_key(country)
        if ckey not in self._countries:
            return None, f"country {country!r} not in gazetteer" if ckey else "no country"
        key = normalise_name(name) if isinstance(name, str) else ""
        if not key:
            return None, f"no {self._level} name"
        uids = self._names.get((ckey, key), [])
        if len(uids) == 1:
            return uids[0], None
        if not uids:
            return None, f"no unit named {name!r} in {country}"
        listed = ", ".join(uids)
        if self._parents is None:
            return None, (
                f"{name!r} names {len(uids)} units in {country} ({listed}); "
                "pass parents= (the admin1 gazetteer) to tell them apart"
            )
        parent, why = self._parents.lookup(country, admin1)
        if parent is None:
            return None, f"{name!r} names {len(uids)} units in {country} ({listed}) and admin1: {why}"
        chosen = [u for u in uids if self._parent_of[u] == parent]
        if len(chosen) == 1:
            return chosen[0], None
        return None, f"{name!r} names {len(uids)} units in {country} ({listed}), none in admin1 {admin1!r}"

    # -- neighbours -------------------------------------------------------------------

    def neighbour_matrix(self) -> sparse.csr_matrix:
        """Contiguity as an n_units x n_units 0/1 matrix in ``unit_ids`` order
        (:func:`riskcast.regions.neighbours.neighbour_matrix` of the validated table).

        Raises:
            ValueError: a ``neighbours`` entry is not a unit_id of this gazetteer.
        """
        if self._neighbours is None:
            self._neighbours = neighbour_matrix(self._units, file=self._file)
        return self._neighbours.copy()

    def __len__(self) -> int:
        return len(self._units)

    def __repr__(self) -> str:
        return f"Gazetteer(level={self._level!r}, units={len(self)}, countries={sorted(self._countries)})"
