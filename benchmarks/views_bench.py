#!/usr/bin/env python
"""Side by side with the VIEWS transformation library (issue 17): the same transforms on one panel.

    python benchmarks/views_bench.py                 # 10,000 cells x 420 months (4.2 M cell-months)
    python benchmarks/views_bench.py --small         # 900 cells x 120 months, a quick check
    python benchmarks/views_bench.py --cells 2500 --months 240 --repeats 3

The panel: target-event counts of the synthetic PRIO-GRID block of ``synthetic.py`` (the grid of
``features_bench.py``; side = round(sqrt(cells)), months from 1990-01). Transforms, riskcast's feature
classes through ``compute_features`` on a fresh ``FeatureContext`` against VIEWS's pandas functions on
a Series indexed by (month_id, priogrid_gid):

    lag k=1            Lag(1)                     views_2.tlag(s, 1)
    rolling sum 12     Rolling(12)                views_2.moving_sum(s, 12)
    time since         TimeSince(cap=months)      views_2.time_since(s)
    decay, half-life   Decay(12)                  views_2.decay(views_2.time_since(s), 12)
    spatial lag        SpatialLag() (queen)       splag4d.get_splag4d(df)  (3 x 3 kernel, centre 0)
    change k=1         Change(1)                  views_2.delta(s, 1)
    rolling mean 12    Rolling(12, stat="mean")   views_2.moving_average(s, 12)
    rolling max 12     Rolling(12, stat="max")    views_2.rollmax(s, 12)
    onset, 12 quiet    Onset(12)                  views_2.onset(s, 12)
    indicator >= 1     Indicator(1)               views_2.greater_or_equal(s, 1)

riskcast's spatial lag includes building the neighbour matrix from the units table
(``riskcast.regions.neighbour_matrix(units)``, as the feature stage builds it from the units it
ingested), as VIEWS's builds its grid from the cell ids on every call.
"Four together" = lag, rolling sum, decay and spatial lag in one call each side (the five rows after it
were added later and run after it, so the first six run as before). Each case runs
riskcast, VIEWS, riskcast, VIEWS ... (``--repeats`` times each) in this one process; the table gives
the medians of wall time and VIEWS / riskcast (the ratio the targets read), and the same ratio of the
medians of CPU time (``time.process_time``): on a machine shared with other jobs a run of a few
milliseconds that loses its core once doubles its wall time, so the CPU ratio shows how much of a
low wall ratio is the machine. The values are compared where the definitions agree, after aligning
the edges where they do not; every difference is printed.

The VIEWS library (CC BY-NC 4.0) is vendored for benchmarks only in ../shared/vendor; it is imported
from there at run time and never by riskcast. Without it (or without xarray, which it imports) the
benchmark prints why and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import synthetic  # benchmarks/ is sys.path[0] when this file is run as a script

from riskcast.features import (
    Change,
    Decay,
    FeatureContext,
    Indicator,
    Lag,
    Onset,
    Rolling,
    SpatialLag,
    TimeSince,
    compute_features,
)
from riskcast.panel import month_range
from riskcast.regions import neighbour_matrix

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT.parent / "shared" / "vendor"
WINDOW, HALFLIFE = 12, 12.0
TARGET_EACH, TARGET_ALL = 20.0, 50.0


def load_views(vendor: Path):
    """(views_2, splag4d) from the vendored copy, or (None, why not)."""
    if not (vendor / "views_transformation_library").is_dir():
        return None, f"{vendor}/views_transformation_library not found (see ../shared/vendor/README.md)"
    # Imported here, at run time, from ../shared/vendor only: the library is CC BY-NC 4.0, vendored for
    # side-by-side benchmarks; riskcast (src/) never imports it and no copy of it enters the project.
    sys.path.insert(0, str(vendor))
    try:
        from views_transformation_library import splag4d, views_2
    except ImportError as exc:
        return None, f"cannot import the VIEWS library from {vendor}: {exc} (it needs xarray, scipy, pandas)"
    return (views_2, splag4d), None


def make_panel(cells: int, n_months: int):
    """(units, months, counts units x months, VIEWS Series): the same numbers in both layouts."""
    side = max(2, round(math.sqrt(cells)))
    months = month_range("1990-01", pd.Timestamp("1990-01") + pd.DateOffset(months=n_months - 1))
    units = synthetic.grid_units(side)
    events = synthetic.grid_events(units, months, side=side)
    x = synthetic.grid_arrays(events, units, months)["n_target"]
    gids = units["unit_id"].str[2:].astype(np.int64).to_numpy()  # sorted, as the rows of x
    index = pd.MultiIndex.from_product([np.arange(1, n_months + 1), gids], names=["month_id", "priogrid_gid"])
    return units, months, x, pd.Series(x.T.ravel(), index=index, name="ged_sb_best")


def riskcast_case(features, units, months, x, spatial: bool):
    """riskcast's path: a fresh context (empty feature cache) and ``compute_features``."""

    def run():
        nb = (
            neighbour_matrix(units) if spatial else None
        )  # as the feature stage builds it; history features never read it
        ctx = FeatureContext(units=units, months=months, neighbours=nb, arrays={"n_target": x})
        return compute_features(features, ctx)

    return run


def grid_of(values, index: pd.MultiIndex, n_u: int, n_m: int) -> np.ndarray:
    """A VIEWS result (month_id, priogrid_gid) as a units x months array (NaN where it has no row)."""
    s = values.iloc[:, 0] if isinstance(values, pd.DataFrame) else values
    if s.index.nlevels == 3:  # rollmax's groupby.apply puts the group key in front (pandas >= 2)
        s = s.droplevel(0)
    s = s if s.index.equals(index) else s.reindex(index)
    return s.to_numpy(dtype=float).reshape(n_m, n_u).T


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    bad = ~np.isclose(a, b, equal_nan=False)
    d = np.abs(a - b)[bad]
    return f"DIFFER on {bad.sum():,} of {a.size:,} values (max |diff| {np.nanmax(d) if d.size else 0:.3g})"


def check(kind: str, r: np.ndarray, v: np.ndarray, x: np.ndarray, cap: int) -> tuple[bool, str]:
    """(equal where the definitions agree, what was compared), riskcast ``r`` against VIEWS ``v``."""
    n_m = x.shape[1]
    if kind in ("rolling sum", "spatial lag", "rolling max", "indicator"):
        ok = np.allclose(r, v)
        return ok, "equal on every value" if ok else _diff(r, v)
    if kind in ("lag", "change"):
        first = "0" if kind == "lag" else "the month's count"  # x(1) - 0 for the change
        edge = np.isnan(v[:, 0]).all() and (r[:, 0] == (0 if kind == "lag" else x[:, 0])).all()
        ok = edge and np.allclose(r[:, 1:], v[:, 1:])
        text = "equal from month 2" if ok else _diff(r[:, 1:], v[:, 1:])
        return ok, text + (
            f"; month 1: VIEWS NaN (no earlier month), riskcast {first} (months before the panel count as 0)"
            if edge
            else f"; month 1 NOT as documented (VIEWS NaN / riskcast {first})"
        )
    if kind == "rolling mean":  # VIEWS's min_periods=0 averages the months available, riskcast / window
        w = WINDOW - 1
        ok_late = np.allclose(r[:, w:], v[:, w:])
        ok_edge = np.allclose(v[:, :w] * np.arange(1, WINDOW), r[:, :w] * WINDOW)
        text = "equal from month 12" if ok_late else _diff(r[:, w:], v[:, w:])
        return ok_late and ok_edge, text + (
            "; months 1-11: VIEWS = sum / months available, riskcast = sum / 12 (months before the panel "
            "count as 0), checked as VIEWS x t = riskcast x 12"
            if ok_edge
            else "; months 1-11 NOT as documented (VIEWS x t = riskcast x 12)"
        )
    # time since / decay: VIEWS computes time_since on tlag(s, 1), so its month t is riskcast's t-1, and
    # it has no month 1; a cell with no event yet counts the months since the start of the panel.
    vv, rr = v[:, 1:], r[:, :-1]
    seen = np.maximum.accumulate(x > 0, axis=1)[:, :-1]  # an event at or before riskcast's month
    t = np.broadcast_to(np.arange(1, n_m, dtype=float), vv.shape)  # months of the panel before VIEWS's t
    never_v = t if kind == "time since" else np.exp2(-t / HALFLIFE)
    never_r = float(cap) if kind == "time since" else 0.0
    nr = np.full(vv.shape, never_r)
    failures = [
        text
        for good, text in [
            (np.isnan(v[:, 0]).all(), "VIEWS has values in month 1"),
            (np.allclose(vv[seen], rr[seen]), "with an event before: " + _diff(vv[seen], rr[seen])),
            (
                np.allclose(vv[~seen], never_v[~seen]),
                "no event yet, VIEWS: " + _diff(vv[~seen], never_v[~seen]),
            ),
            ((rr[~seen] == never_r).all(), "no event yet, riskcast: " + _diff(rr[~seen], nr[~seen])),
        ]
        if not good
    ]
    what = "months" if kind == "time since" else "2^(-months/12)"
    text = (
        f"equal after aligning: VIEWS month t = riskcast month t-1 (VIEWS counts to the month before) on "
        f"{seen.sum():,} values with an event before; no event yet ({(~seen).sum():,} values): VIEWS = "
        f"{what} since the start of the panel, riskcast = {never_r:g}, each checked; VIEWS has no month 1"
    )
    ok = not failures
    return ok, text if ok else "; ".join(failures)


def compare(name, features, out_rc, out_vw, index, x, single: dict) -> tuple[bool, str]:
    """Check one case's first outputs; ``single`` keeps each single transform's arrays for "four together"."""
    n_u, n_m = x.shape
    r = {f.name: out_rc[f.name].to_numpy().reshape(n_u, n_m) for f in features}
    if name != "four together":  # every other case is one transform
        rr, vv = r[features[0].name], grid_of(out_vw, index, n_u, n_m)
        single[name] = (rr, vv, *check(name, rr, vv, x, n_m))
        return single[name][2:]
    kinds = ("lag", "rolling sum", "decay", "spatial lag")  # the same numbers as the single runs, each side
    if any(k not in single for k in kinds):
        return False, "not checked: a single run is missing"
    same = all(
        np.array_equal(r[f.name], single[k][0])
        and np.array_equal(grid_of(o, index, n_u, n_m), single[k][1], equal_nan=True)
        for f, o, k in zip(features, out_vw, kinds)
    )
    ok = same and all(single[k][2] for k in kinds)
    return ok, "as the rows above" if same else "DIFFER from the single runs"


def timed(fn):
    """(wall seconds, CPU seconds of this process, result). Wall is what the table ranks; on a
    machine other jobs share, the CPU seconds say how much of it was each library's own work
    (a run of a few milliseconds that loses the core once doubles its wall time)."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=10_000, help="PRIO-GRID cells (rounded to a square)")
    ap.add_argument("--months", type=int, default=420, help="months, from 1990-01")
    ap.add_argument("--small", action="store_true", help="a quick check: 900 cells x 120 months")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each library per case")
    ap.add_argument("--vendor", type=Path, default=VENDOR, help="folder holding views_transformation_library")
    # make bench passes every benchmark the same arguments (--only grid ...): unknown ones are left out
    args, _ = ap.parse_known_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if args.small:
        args.cells, args.months = 900, 120
    libs, why = load_views(args.vendor)
    if libs is None:
        print(f"views_bench: skipped: {why}")
        return 0
    views_2, splag4d = libs

    units, months, x, s = make_panel(args.cells, args.months)
    n_u, n_m = x.shape
    df = s.to_frame()
    print(
        f"VIEWS side by side: synthetic PRIO-GRID {n_u:,} cells x {n_m} months = {x.size:,} cell-months, "
        f"{int(x.sum()):,} events, {int((x.sum(axis=1) == 0).sum())} cells never hit; {args.repeats} "
        f"alternating runs per case"
    )
    lag, roll = Lag(1), Rolling(WINDOW)
    since, dec, splag = TimeSince(cap=n_m), Decay(HALFLIFE), SpatialLag()
    chg, mean, top = Change(1), Rolling(WINDOW, stat="mean"), Rolling(WINDOW, stat="max")
    ons, ind = Onset(WINDOW), Indicator(1)
    cases = [  # (name, riskcast features, VIEWS call)
        ("lag", [lag], lambda: views_2.tlag(s, 1)),
        ("rolling sum", [roll], lambda: views_2.moving_sum(s, WINDOW)),
        ("time since", [since], lambda: views_2.time_since(s)),
        ("decay", [dec], lambda: views_2.decay(views_2.time_since(s), HALFLIFE)),
        ("spatial lag", [splag], lambda: splag4d.get_splag4d(df)),
        (
            "four together",
            [lag, roll, dec, splag],
            lambda: (
                views_2.tlag(s, 1),
                views_2.moving_sum(s, WINDOW),
                views_2.decay(views_2.time_since(s), HALFLIFE),
                splag4d.get_splag4d(df),
            ),
        ),
        ("change", [chg], lambda: views_2.delta(s, 1)),
        ("rolling mean", [mean], lambda: views_2.moving_average(s, WINDOW)),
        ("rolling max", [top], lambda: views_2.rollmax(s, WINDOW)),
        ("onset", [ons], lambda: views_2.onset(s, WINDOW)),
        ("indicator", [ind], lambda: views_2.greater_or_equal(s, 1)),
    ]
    labels = {
        "lag": "lag (k = 1)",
        "rolling sum": f"rolling sum ({WINDOW} months)",
        "time since": "time since",
        "decay": f"decay of time since (half-life {HALFLIFE:g})",
        "spatial lag": "spatial lag (queen, order 1)",
        "four together": "four together (lag, rolling, decay, spatial)",
        "change": "change (k = 1)",
        "rolling mean": f"rolling mean ({WINDOW} months)",
        "rolling max": f"rolling max ({WINDOW} months)",
        "onset": f"onset ({WINDOW} quiet months)",
        "indicator": "indicator (>= 1 event)",
    }
    rows, notes, single = [], [], {}
    for name, features, views_call in cases:
        rc_call = riskcast_case(features, units, months, x, spatial=any(f is splag for f in features))
        rc_s, vw_s, rc_cpu, vw_cpu, first, failed = [], [], [], [], None, None
        for rep in range(args.repeats):
            t_rc, c_rc, out_rc = timed(rc_call)
            rc_s.append(t_rc)
            rc_cpu.append(c_rc)
            try:
                t_vw, c_vw, out_vw = timed(views_call)
            except Exception as exc:  # get_splag4d on a block whose side is a power of two; onset
                failed = f"VIEWS raised {type(exc).__name__}: {exc}"
                break
            vw_s.append(t_vw)
            vw_cpu.append(c_vw)
            if rep == 0:
                first = (out_rc, out_vw)
            del out_rc, out_vw
        if failed:
            ok, text, med_vw = False, failed, math.nan
        else:
            ok, text = compare(name, features, *first, s.index, x, single)
            med_vw = statistics.median(vw_s)
        med_rc = statistics.median(rc_s)
        cpu = statistics.median(vw_cpu) / statistics.median(rc_cpu) if vw_cpu else math.nan
        rows.append((labels[name], med_rc, med_vw, med_vw / med_rc, ok, name, cpu))
        lo, hi = min(vw_s, default=math.nan), max(vw_s, default=math.nan)
        spread = f"riskcast {min(rc_s):.4f}-{max(rc_s):.4f} s, VIEWS {lo:.4f}-{hi:.4f} s"
        notes.append(f"- {labels[name]}: {text} [runs: {spread}]")
        first = None
    t_nb = statistics.median(timed(lambda: neighbour_matrix(units))[0] for _ in range(3))

    print(
        f"\n{sys.platform}, {os.cpu_count()} CPU(s), python {sys.version.split()[0]}, numpy "
        f"{np.__version__}, pandas {pd.__version__}, scipy {scipy.__version__}, xarray "
        f"{sys.modules['xarray'].__version__}\n"
    )
    print("| transform | riskcast s | VIEWS s | ratio | CPU-time ratio | numbers |")
    print("|---|---:|---:|---:|---:|---|")
    for label, a, b, ratio, ok, _, cpu in rows:
        numbers = "equal" if ok else "VIEWS failed" if math.isnan(b) else "DIFFER"
        vw, rt, ct = ("-", "-", "-") if math.isnan(b) else (f"{b:.4f}", f"{ratio:,.0f}x", f"{cpu:,.0f}x")
        print(f"| {label} | {a:.4f} | {vw} | {rt} | {ct} | {numbers} |")
    print("\nnumbers:\n" + "\n".join(notes))
    print(
        f"- riskcast's spatial lag includes neighbour_matrix(units), about {t_nb:.3f} s of it; "
        "VIEWS's get_splag4d likewise maps the cell ids to its grid on every call"
    )
    print("\ntargets (issue 17):")
    for label, _, _, ratio, _, name, _ in rows:
        goal = TARGET_ALL if name == "four together" else TARGET_EACH
        verdict = "not measured" if math.isnan(ratio) else "met" if ratio >= goal else "NOT MET"
        print(f"- {label}: {ratio:,.1f}x >= {goal:.0f}x: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
