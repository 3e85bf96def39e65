"""Spatial units, and assigning events to them -- never silently.

Three kinds of unit (``riskcast.schemas.LEVELS``):

* **admin1 / admin2** -- regions and cercles/provinces/departments from a curated gazetteer
  (a REGIONS table, see :data:`riskcast.schemas.REGIONS`). Events are matched *by name*:
  the event's country and admin name are normalised (:func:`normalise_name`: accents
  folded, case folded, punctuation and hyphens turned into spaces) and looked up in an
  alias table built from each unit's ``name`` and ``aliases``. "Ségou", "Segou" and
  "SEGOU" are the same key; "Timbuktu" resolves only if the gazetteer lists it as an
  alias of Tombouctou. When boundary polygons are given, events with coordinates are
  matched *by polygon* instead (point in polygon), and the polygon's name is then looked
  up in the same alias table; events without coordinates fall back to their names.
* **priogrid** -- PRIO-GRID v2 cells (0.5 degree). The cell is computed from the
  coordinates (:func:`priogrid_gid`) unless the event already carries ``priogrid_gid``.

Nothing is dropped without an account: :func:`assign_units` returns the assigned events
and an :class:`AssignmentReport` listing every unassigned event with the reason, and
:func:`check_unassigned` turns too large a share of them into an :class:`InputError`
naming the names that did not resolve.

Renamed and split regions are handled with aliases, with no date logic. Two cases in Mali:

* **Ménaka** was carved out of Gao (created 2016, operational about 2016-2018). ACLED codes
  older events in the area under admin1 "Gao" and newer ones under "Menaka". With a
  gazetteer that has a Ménaka unit, "Menaka" events go to it and the older events stay in
  Gao, so Gao's series drops and Ménaka's starts at the recoding: a break that models
  must live with. To keep the pre-2016 geography instead, list "Menaka|Ménaka" as an alias
  of Gao and leave out the Ménaka unit. Note that the geoBoundaries ADM1 polygons have nine
  regions (no Ménaka, no Taoudénit), so assigning by polygon puts every Ménaka event in Gao
  whatever ACLED says: do not mix name- and polygon-based assignment across runs.
* **Taoudénit** was carved out of Tombouctou the same way; the curated gazetteer lists it
  as an alias of Tombouctou.

At the admin2 level two cercles of one country may share a name. The alias table then
keeps both, and the event's admin1 tells them apart: it is resolved through the admin1
gazetteer passed as ``parents`` and compared with the cercles' ``parent`` (an admin1
unit_id). The admin1 is used only to choose between homonyms: a cercle name that is
unique in its country is assigned whatever admin1 the event carries (ACLED moved
cercles between regions when Ménaka and Taoudénit were created).
"""

from __future__ import annotations

from riskcast.regions.assign import AssignmentReport, assign_units, check_unassigned
from riskcast.regions.boundaries import load_boundaries
from riskcast.regions.gazetteer import Gazetteer
from riskcast.regions.names import COUNTRY_ALIASES, normalise_many, normalise_name, normalise_names
from riskcast.regions.neighbours import neighbour_matrix
from riskcast.regions.priogrid import (
    PRIOGRID_CELL,
    PRIOGRID_N_CELLS,
    priogrid_centroid,
    priogrid_gazetteer,
    priogrid_gid,
)

__all__ = [
    "normalise_many",
    "normalise_name",
    "normalise_names",
    "COUNTRY_ALIASES",
    "Gazetteer",
    "neighbour_matrix",
    "PRIOGRID_CELL",
    "PRIOGRID_N_CELLS",
    "priogrid_gid",
    "priogrid_centroid",
    "priogrid_gazetteer",
    "load_boundaries",
    "AssignmentReport",
    "assign_units",
    "check_unassigned",
]
