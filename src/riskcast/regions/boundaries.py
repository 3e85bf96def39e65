"""Boundary polygons from GeoJSON, and the point-in-polygon lookup used to assign events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from riskcast.errors import InputError

__all__ = ["load_boundaries"]


def load_boundaries(path: str | Path, name_property: str = "shapeName") -> list[tuple[str, BaseGeometry]]:
    """The named polygons of a GeoJSON FeatureCollection (e.g. a geoBoundaries file).

    Coordinates are lon/lat (GeoJSON order). Invalid geometries are repaired with
    :func:`shapely.make_valid`.

    Raises:
        InputError: the file is missing, is not JSON, is not a FeatureCollection, or a
            feature has no geometry or no ``name_property``.
    """
    path = Path(path)
    file = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("boundary file not found", file=file) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON file ({exc})", file=file) from None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"expected a GeoJSON FeatureCollection, got {got!r}", file=file)
    out: list[tuple[str, BaseGeometry]] = []
    n = len(doc["features"])
    for k, feat in enumerate(doc["features"]):
        where = f"feature {k} (of {n}, counting from 0)"
        props = (feat or {}).get("properties") or {}
        name = props.get(name_property)
        if name is None or not str(name).strip():
            raise InputError(
                f"{where} has no property {name_property!r} (properties: {sorted(props)})", file=file
            )
        geom_json = (feat or {}).get("geometry")
        if not geom_json:
            raise InputError(f"{where} ({name!r}) has no geometry", file=file)
        try:
            geom = shape(geom_json)
        except Exception as exc:  # shapely raises several types for bad GeoJSON geometry
            raise InputError(f"{where} ({name!r}) has a bad geometry: {exc}", file=file) from None
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        out.append((str(name), geom))
    return out


def _first_polygon(lat: np.ndarray, lon: np.ndarray, geoms: list[BaseGeometry]) -> tuple[np.ndarray, int]:
    """Index of the first polygon covering each point (-1 if none), and how many points hit >1."""
    hit = np.full(len(lat), -1, dtype=np.int64)
    if len(lat) == 0:
        return hit, 0
    tree = shapely.STRtree(geoms)
    pts, polys = tree.query(shapely.points(lon, lat), predicate="intersects")  # edges count as inside
    if len(pts) == 0:
        return hit, 0
    pairs = pd.DataFrame({"p": pts, "g": polys})
    first = pairs.groupby("p")["g"].min()
    hit[first.index.to_numpy()] = first.to_numpy()
    return hit, int((pairs.groupby("p").size() > 1).sum())
