"""The spatial units of the synthetic process: names, aliases, base rates, centroids, jitter."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.synth.effects import Effects, _key

# private helpers of riskcast.synth (imported by name); nothing public
__all__: list[str] = []

_BAMAKO_JITTER = 0.05


def _split(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return []
    return [p.strip() for p in str(value).split("|") if p.strip()]


def _units(
    regions: pd.DataFrame, parents: pd.DataFrame | None, effects: Effects, rng: np.random.Generator
) -> pd.DataFrame:
    """Per unit: admin1 name, its aliases, base rate, centroid, jitter sd, northern flag."""
    if len(regions) == 0:
        raise ValueError("synth: the regions table is empty")
    r = regions.reset_index(drop=True).copy()
    level = str(r["level"].iloc[0]) if "level" in r else "admin1"
    if level not in ("admin1", "admin2"):
        raise ValueError(f"synth: level {level!r} is not supported (admin1 or admin2)")
    out = pd.DataFrame(
        {
            "unit_id": r["unit_id"].astype(str),
            "name": r["name"].astype(str),
            "country": r["country"].astype(str),
            "lat": r["centroid_lat"].astype(float),
            "lon": r["centroid_lon"].astype(float),
        }
    )
    if level == "admin1":
        out["admin1"] = out["name"]
        out["admin2"] = None
        out["aliases"] = [
            [a for a in _split(v) if a != n]
            for v, n in zip(r.get("aliases", pd.Series([None] * len(r))), out["name"])
        ]
    else:
        by_id = {}
        if parents is not None and len(parents):
            by_id = {
                str(u): (str(n), [a for a in _split(al) if a != str(n)])
                for u, n, al in zip(
                    parents["unit_id"],
                    parents["name"],
                    parents.get("aliases", pd.Series([None] * len(parents))),
                )
            }
        names, aliases = [], []
        for p in r["parent"]:
            n, al = by_id.get(str(p), (None if p is None or pd.isna(p) else str(p), []))
            names.append(n)
            aliases.append(al)
        out["admin1"] = names
        out["admin2"] = out["name"]
        out["aliases"] = aliases
    out["level"] = level
    a1_rate = np.array(
        [
            effects.base_rate(a)
            if a is not None and effects.base_rate(a) is not None
            else _alias_rate(al, effects)
            for a, al in zip(out["admin1"], out["aliases"])
        ]
    )
    if level == "admin1":
        out["base"] = a1_rate
    else:
        n_in = out.groupby(out["admin1"].fillna(""))["unit_id"].transform("size").to_numpy()
        het = np.exp(
            rng.normal(0.0, effects.admin2_heterogeneity, len(out)) - effects.admin2_heterogeneity**2 / 2
        )
        out["base"] = a1_rate / n_in * het
    north = {_key(n) for n in effects.northern_regions}
    out["north"] = [
        _key(a) in north or any(_key(x) in north for x in al) for a, al in zip(out["admin1"], out["aliases"])
    ]
    sd = effects.jitter_sd_deg if level == "admin1" else effects.jitter_sd_deg_admin2
    out["jitter"] = [_BAMAKO_JITTER if _key(n) == "bamako" else sd for n in out["name"]]
    out["neighbours"] = [_split(v) for v in r.get("neighbours", pd.Series([None] * len(r)))]
    return out


def _alias_rate(aliases: list[str], effects: Effects) -> float:
    for a in aliases:
        r = effects.base_rate(a)
        if r is not None:
            return r
    return effects.base_rate_default


def _admin1_match(units: pd.DataFrame, region: object) -> np.ndarray:
    """Boolean mask of the units whose admin-1 name (or an alias) is ``region``."""
    k = _key(region)
    return np.array(
        [_key(a) == k or any(_key(x) == k for x in al) for a, al in zip(units["admin1"], units["aliases"])]
    )
