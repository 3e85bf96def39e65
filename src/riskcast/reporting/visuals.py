"""Self-contained report visuals: inline SVG sparklines, risk maps, track record and reliability.

Everything is returned inline (an SVG string or a ``data:image/png;base64,...`` URI) so the
report opens offline; PNGs are also written atomically when a path is given. PNG bytes are
reproducible: matplotlib's Agg backend with the "Software" metadata removed.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from riskcast.atomic import atomic_path
from riskcast.regions import load_boundaries, normalise_name, priogrid_centroid
from riskcast.regions.priogrid import PRIOGRID_CELL

__all__ = ["sparkline_svg", "risk_map", "track_record", "reliability_png_uri"]

_CMAP = "YlOrRd"
_NO_DATA = "#d9d9d9"


def _num(x: float) -> str:
    """A coordinate as text: one decimal, no "-0.0", so the same series gives the same bytes."""
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def sparkline_svg(values: Sequence[float], width: int = 120, height: int = 24) -> str:
    """A tiny inline SVG line of the last 24 values (monthly observed events).

    Missing values (NaN) break the line rather than being drawn as zeros. The y axis runs from
    0 to the series maximum (at least 1, so an all-zero series is a flat line at the bottom).
    The last observed value is marked with a dot.

    Returns:
        An ``<svg>`` element (no scripts, no external references).
    """
    v = np.asarray(list(values), dtype=float)[-24:]
    pad = 2.0
    finite = np.isfinite(v)
    top = max(float(np.max(v[finite])) if finite.any() else 0.0, 1.0)
    n = len(v)
    xs = [width / 2.0] * n if n <= 1 else [pad + i * (width - 2 * pad) / (n - 1) for i in range(n)]
    ys = [height - pad - (height - 2 * pad) * (x / top) if np.isfinite(x) else np.nan for x in v]
    parts, run = [], []
    for x, y in zip(xs, ys):
        if np.isnan(y):
            if run:
                parts.append(run)
            run = []
        else:
            run.append(f"{_num(x)},{_num(y)}")
    if run:
        parts.append(run)
    body = "".join(
        f'<polyline points="{" ".join(r)}" fill="none" stroke="#b30000" stroke-width="1.2"/>' for r in parts
    )
    if finite.any():
        i = int(np.flatnonzero(finite)[-1])
        body += f'<circle cx="{_num(xs[i])}" cy="{_num(ys[i])}" r="1.6" fill="#b30000"/>'
    label = f"last {n} months, at most {int(np.nanmax(v)) if finite.any() else 0} events a month"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">{body}</svg>'
    )


def _plt():
    # matplotlib stays local in this module: pyplot costs ~0.3 s and every stage command imports
    # this module (jobs.run -> reporting.report -> sections), while only the report stage draws.
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, never need a display
    import matplotlib.pyplot as plt

    return plt


def _png_uri(fig, path: str | Path | None, dpi: int = 110) -> str:
    """Render ``fig`` once; write the same bytes to ``path`` (atomically) and return a data URI."""
    buf = io.BytesIO()
    # metadata pinned so the same inputs give the same bytes
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    _plt().close(fig)
    data = buf.getvalue()
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            tmp.write_bytes(data)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _label(s: object) -> str:
    # '$' would switch matplotlib to mathtext, and a hostile name could then fail to render
    return str(s).replace("$", r"\$")


def _keys(name: object, aliases: object) -> list[str]:
    out = [normalise_name(name)] if isinstance(name, str) else []
    if isinstance(aliases, str):
        out += [normalise_name(a) for a in aliases.split("|") if a.strip()]
    return [k for k in out if k]


def _polygon_path(geom):
    """A matplotlib Path of a (multi)polygon, holes included (even-odd rings)."""
    from matplotlib.path import Path as MPath  # local: see _plt

    verts, codes = [], []
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if poly.geom_type != "Polygon":
            continue  # make_valid can leave stray lines or points: nothing to fill
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            verts.extend(xy.tolist())
            codes.extend([MPath.MOVETO] + [MPath.LINETO] * (len(xy) - 2) + [MPath.CLOSEPOLY])
    return MPath(verts, codes) if verts else None


def risk_map(
    units: pd.DataFrame,
    p: pd.Series,
    path: str | Path | None,
    boundaries: str | Path | None = None,
    name_property: str = "shapeName",
    outlines: dict[str, np.ndarray] | None = None,
    label: str = "P(at least one attack next month)",
) -> str:
    """A map of P(attack) by unit, as a PNG data URI (also written to ``path`` when given).

    With ``boundaries`` (a GeoJSON FeatureCollection) units are filled polygons, features being
    matched to units by normalised name or alias; units without a polygon (e.g. Ménaka in the
    nine-region geoBoundaries file) are drawn as circles at their centroid, features without a
    unit are grey. Without boundaries, PRIO-GRID units (``PG<gid>``) are drawn as their 0.5
    degree cells and other units as circles at ``centroid_lat/centroid_lon`` sized and coloured
    by risk. The five highest-risk units are labelled.

    Args:
        units: a REGIONS table (unit_id, name, aliases, centroid_lat, centroid_lon).
        p: probability by unit_id (index); units missing from it are grey ("no forecast").
        path: where to write the PNG, or None.
        boundaries: GeoJSON file of the units' polygons, or None.
        name_property: the feature property holding the unit name.
        outlines: country outlines ``{country: (lon, lat) vertices}`` drawn under the units (e.g.
            :func:`riskcast.facts.load_country_outlines`), or None.
        label: the colour bar's legend (the report names the month forecast).
    """
    import matplotlib as mpl  # local: see _plt
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import PathPatch

    plt = _plt()
    u = units.reset_index(drop=True).copy()
    u["p"] = pd.to_numeric(u["unit_id"].map(p), errors="coerce")
    cmap, norm = mpl.colormaps[_CMAP], mpl.colors.Normalize(0.0, 1.0)
    colour = [cmap(norm(x)) if np.isfinite(x) else _NO_DATA for x in u["p"]]
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    drawn = np.zeros(len(u), dtype=bool)
    for country, xy in (outlines or {}).items():
        ax.fill(xy[:, 0], xy[:, 1], facecolor="#f4f1ea", edgecolor="#444", lw=0.9, zorder=0)
        lo, la = xy.mean(axis=0)
        ax.annotate(
            _label(country),
            (lo, la),
            ha="center",
            va="center",
            fontsize=8,
            color="#888",
            style="italic",
            zorder=0.5,
        )
    if boundaries is not None:
        key_to_row: dict[str, int] = {}
        for i, r in u.iterrows():
            for k in _keys(r["name"], r.get("aliases")):
                key_to_row.setdefault(k, i)
        for name, geom in load_boundaries(boundaries, name_property=name_property):
            mp = _polygon_path(geom)
            if mp is None:
                continue
            i = key_to_row.get(normalise_name(name))
            fc = colour[i] if i is not None else _NO_DATA
            ax.add_patch(PathPatch(mp, facecolor=fc, edgecolor="#555", lw=0.6))
            if i is not None:
                drawn[i] = True
    pg = u["unit_id"].astype(str).str.fullmatch(r"PG\d+") & ~drawn
    if pg.any():
        lat, lon = priogrid_centroid(u.loc[pg, "unit_id"].str[2:].astype(np.int64).to_numpy())
        h = PRIOGRID_CELL / 2
        corners = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        # one collection of every cell, not one patch per cell: a global grid's 65,025 cells took
        # 2 minutes as patches (each added and drawn on its own) and take seconds this way
        cells = np.stack([lon, lat], axis=1)[:, None, :] + corners[None, :, :]
        ax.add_collection(
            PolyCollection(
                cells,
                facecolors=[colour[i] for i in np.flatnonzero(pg)],
                edgecolors="#777",
                linewidths=0.2,
            ),
            autolim=True,
        )
        u.loc[pg, "centroid_lat"] = lat
        u.loc[pg, "centroid_lon"] = lon
        drawn |= pg.to_numpy()
    dots = ~drawn & u["centroid_lat"].notna().to_numpy() & u["centroid_lon"].notna().to_numpy()
    if dots.any():
        size = 40 + 460 * u.loc[dots, "p"].fillna(0).clip(0, 1)
        ax.scatter(
            u.loc[dots, "centroid_lon"],
            u.loc[dots, "centroid_lat"],
            s=size,
            c=[colour[i] for i in np.flatnonzero(dots)],
            edgecolors="#333",
            linewidths=0.6,
            zorder=3,
        )
    top = (
        u[u["p"].notna() & u["centroid_lat"].notna()]
        .sort_values(["p", "unit_id"], ascending=[False, True])
        .head(5)
    )
    # rank numbers on the map and names in a key: names of neighbouring cells would overlap
    for k, (_, r) in enumerate(top.iterrows(), start=1):
        ax.annotate(
            str(k),
            (r["centroid_lon"], r["centroid_lat"]),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold",
            zorder=4,
            bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": "#333", "lw": 0.5},
        )
    if len(top):
        key = "\n".join(
            f"{k}. {_label(r['name'])}  {r['p']:.0%}" for k, (_, r) in enumerate(top.iterrows(), start=1)
        )
        ax.text(
            0.99,
            0.01,
            key,
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            ma="left",
            fontsize=7,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#999", "alpha": 0.9},
        )
    ax.autoscale_view()
    # room for the circles and the labels, which autoscaling (on centres) does not count
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    ax.set_xlim(x0 - 0.8, x1 + 2.0)
    ax.set_ylim(y0 - 0.8, y1 + 0.8)
    lat_mid = float(np.nanmean(u["centroid_lat"])) if u["centroid_lat"].notna().any() else 0.0
    ax.set_aspect(1.0 / max(np.cos(np.radians(lat_mid)), 0.2))  # plate carrée squashed to true shape
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.tick_params(labelsize=7)
    fig.colorbar(
        mpl.cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=ax,
        shrink=0.7,
        label=_label(label),
    )
    fig.tight_layout()
    return _png_uri(fig, path)


def track_record(
    predictions: pd.DataFrame, as_of_months: int = 6, horizon: int = 1, model: str | None = None
) -> pd.DataFrame:
    """Forecasts against outcomes over the last ``as_of_months`` target months with known outcomes.

    Args:
        predictions: the backtest predictions (unit_id, target_month, horizon, model, y_true, p ...).
        as_of_months: how many of the latest target months to keep (per model).
        horizon: the forecast horizon in months.
        model: keep only this model; None keeps every model.

    Returns:
        One row per model and target month: model, target_month, n_units, mean_p (mean forecast),
        observed_share (share of units with an attack), brier, hits (p >= 0.5 and an attack),
        false_alarms (p >= 0.5 and none), misses (p < 0.5 and an attack), and, when the
        "climatology" model is present, brier_climatology and skill (1 - brier / brier_climatology).

    Raises:
        ValueError: ``model`` is not in the predictions.
    """
    d = predictions[(predictions["horizon"] == horizon) & predictions["y_true"].notna()].copy()
    if model is not None and model not in set(predictions["model"]):
        raise ValueError(f"model {model!r} not in the predictions (have {sorted(set(predictions['model']))})")
    d["target_month"] = pd.to_datetime(d["target_month"].astype(str)).dt.to_period("M").dt.to_timestamp()
    y, pr = d["y_true"].astype(float), d["p"].astype(float)
    d = d.assign(
        se=(pr - y) ** 2, hit=(pr >= 0.5) & (y == 1), fa=(pr >= 0.5) & (y == 0), miss=(pr < 0.5) & (y == 1)
    )
    g = d.groupby(["model", "target_month"])
    out = pd.DataFrame(
        {
            "n_units": g.size(),
            "mean_p": g["p"].mean(),
            "observed_share": g["y_true"].mean(),
            "brier": g["se"].mean(),
            "hits": g["hit"].sum(),
            "false_alarms": g["fa"].sum(),
            "misses": g["miss"].sum(),
        }
    ).reset_index()
    out[["hits", "false_alarms", "misses"]] = out[["hits", "false_alarms", "misses"]].astype(int)
    if "climatology" in set(out["model"]):
        clim = out[out["model"] == "climatology"].set_index("target_month")["brier"]
        out["brier_climatology"] = out["target_month"].map(clim)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["skill"] = 1.0 - out["brier"] / out["brier_climatology"]
    if model is not None:
        out = out[out["model"] == model]
    last = out.groupby("model")["target_month"].rank(method="dense", ascending=False) <= as_of_months
    return out[last].sort_values(["model", "target_month"]).reset_index(drop=True)


def reliability_png_uri(reliability: pd.DataFrame, model: str, path: str | Path | None = None) -> str:
    """Reliability diagram of one model (a panel per horizon) as a PNG data URI.

    ``reliability``: columns model, horizon, bin, p_mean, y_rate, n (empty bins are skipped);
    marker area grows with the number of forecasts in the bin. Written to ``path`` when given.

    Raises:
        ValueError: ``model`` has no rows.
    """
    plt = _plt()
    rel = reliability[(reliability["model"] == model) & (reliability["n"] > 0)].sort_values(
        ["horizon", "bin"]
    )
    if rel.empty:
        raise ValueError(
            f"no reliability rows for model {model!r} (have {sorted(set(reliability['model']))})"
        )
    horizons = sorted(rel["horizon"].unique())
    fig, axes = plt.subplots(1, len(horizons), figsize=(3.2 * len(horizons), 3.4), squeeze=False, sharey=True)
    for ax, h in zip(axes[0], horizons):
        g = rel[rel["horizon"] == h]
        ax.plot([0, 1], [0, 1], color="#999", lw=0.8, ls="--", label="perfect")
        ax.plot(g["p_mean"], g["y_rate"], color="#b30000", lw=1)
        ax.scatter(g["p_mean"], g["y_rate"], s=10 + 90 * g["n"] / g["n"].max(), color="#b30000", zorder=3)
        ax.set_title(f"{_label(model)}, h = {h} month{'s' if h > 1 else ''}", fontsize=9)
        ax.set_xlabel("forecast probability")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("observed share with an attack")
    fig.tight_layout()
    return _png_uri(fig, path)
