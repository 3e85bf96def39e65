"""Input drift between two monthly runs: what changed in the data since the last run.

The monthly retrain job keeps a small JSON *input profile* of each month's inputs
(:func:`input_profile`) and compares it with the last complete month's (:func:`compare_profiles`).
The comparison goes into the job's summary and the report, so that a reader sees, before
trusting a forecast, whether the data under it changed: units that appeared or vanished, an
event-type mix that moved, a source whose volume collapsed or whose newest event got older, a
reporting lag that grew.

Profiles are plain JSON kept for months; a profile written by an older version may lack keys,
and everything missing is treated as unknown, never as empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from riskcast.coverage import source_coverage

__all__ = ["PROFILE_VERSION", "MIN_MONTHLY_MEAN", "input_profile", "compare_profiles"]

#: Bumped when a key of the profile changes meaning (added keys need no bump: missing is unknown).
PROFILE_VERSION = 1
#: A source's as-of month is compared with its monthly mean only from this many events a month
#: up: with a mean of two events, a month with none is ordinary, not a collapse.
MIN_MONTHLY_MEAN = 5.0
#: Unit names listed in one alert; the rest are counted.
_MAX_NAMES = 10


def _month(as_of: object) -> pd.Period:
    if isinstance(as_of, pd.Period):
        return as_of.asfreq("M")
    return pd.Timestamp(as_of).to_period("M")


def _num(x: object) -> float | None:
    """A plain float, or None for missing, NaN or anything that is not a number."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _int(x: object) -> int | None:
    v = _num(x)
    return None if v is None else int(v)


def _rounded(x: object, digits: int = 3) -> float | None:
    v = _num(x)
    return None if v is None else round(v, digits)


def _get(d: object, *keys: str) -> Any:
    """``d[k1][k2]...``, or None where a level is missing or not a mapping (an older profile)."""
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _mapping(x: object) -> Mapping:
    return x if isinstance(x, Mapping) else {}


def _inputs(reports: Mapping[str, object] | None) -> dict | None:
    if reports is None:
        return None
    out = {}
    for name in sorted(reports):
        r = reports[name]
        r = r.to_dict() if hasattr(r, "to_dict") else r
        out[str(name)] = {
            "table": _get(r, "table"),
            "rows_read": _int(_get(r, "rows_read")),
            "rows_kept": _int(_get(r, "rows_kept")),
            "rows_dropped": _int(_get(r, "rows_dropped")),
        }
    return out


def input_profile(
    events: pd.DataFrame,
    units: pd.DataFrame,
    as_of: object,
    reports: Mapping[str, object] | None = None,
    *,
    window_months: int = 12,
) -> dict:
    """A JSON-able profile of the inputs as of month ``as_of``; events dated later are ignored.

    Args:
        events: the EVENTS table after ingest (``unit_id`` NaN where unassigned; without a
            ``unit_id`` column the active units and unassigned count are unknown, None).
        units: the panel's units (``unit_id``; ``name`` optional, used in messages).
        as_of: the as-of month ("YYYY-MM", a Timestamp or a Period).
        reports: per input, the ingest account (``Ingested.reports``: rows_read, rows_kept,
            rows_dropped); None when unknown.
        window_months: the window, ending with the as-of month, for active units and the mix.

    Returns:
        ``profile_version``, ``as_of`` ("YYYY-MM"), ``window_months``, ``window`` ([first, last]
        month), ``inputs`` ({name: {table, rows_read, rows_kept, rows_dropped}} or None),
        ``sources`` ({source: {events, first, newest, days_since_last, lag_n, lag_median_days,
        lag_p90_days, recorded_within_30d, as_of_month, previous_window_monthly_mean}}),
        ``events`` ({total, as_of_month, previous_window_monthly_mean, unassigned}),
        ``units`` (sorted panel unit ids), ``unit_names`` ({unit_id: name}), ``active_units``
        (sorted ids with an event in the window, or None), ``event_types`` ({n, counts, shares}
        over the window). Only str, int, float, None, lists and dicts with sorted keys.
    """
    month = _month(as_of)
    first = month - (window_months - 1)
    dates = pd.to_datetime(events["date"])
    keep = (dates <= month.to_timestamp(how="end")).to_numpy()
    ev = events[keep].assign(date=dates[keep])
    ev_month = ev["date"].dt.to_period("M")
    in_window = (ev_month >= first).to_numpy()
    # The volume of the as-of month is judged against the window_months months before it.
    in_previous = ((ev_month >= month - window_months) & (ev_month < month)).to_numpy()
    at_month = (ev_month == month).to_numpy()

    sources = {}
    for row in source_coverage(ev, month.to_timestamp()).itertuples(index=False):
        own = (ev["source_dataset"] == row.source_dataset).to_numpy()
        sources[str(row.source_dataset)] = {
            "events": int(row.count),
            "first": row.first.strftime("%Y-%m-%d"),
            "newest": row.last.strftime("%Y-%m-%d"),
            "days_since_last": int(row.days_since_last),
            "lag_n": int(row.lag_n),
            "lag_median_days": _rounded(row.lag_median_days),
            "lag_p90_days": _rounded(row.lag_p90_days),
            "recorded_within_30d": _rounded(row.recorded_within_30d),
            "as_of_month": int((own & at_month).sum()),
            "previous_window_monthly_mean": round(float((own & in_previous).sum()) / window_months, 6),
        }

    active = unassigned = None
    if "unit_id" in ev:
        placed = ev["unit_id"].notna().to_numpy()
        active = sorted({str(u) for u in ev.loc[placed & in_window, "unit_id"]})
        unassigned = int((~placed).sum())
    panel = sorted({str(u) for u in units["unit_id"]})
    names = {}
    if "name" in units:
        names = {
            str(u): str(n)
            for u, n in sorted(zip(units["unit_id"].astype(str), units["name"]))
            if not pd.isna(n)
        }

    types = ev.loc[in_window, "event_type"].fillna("(no type)").astype(str).value_counts()
    n = int(types.sum())
    counts = {t: int(types[t]) for t in sorted(types.index)}
    return {
        "profile_version": PROFILE_VERSION,
        "as_of": str(month),
        "window_months": int(window_months),
        "window": [str(first), str(month)],
        "inputs": _inputs(reports),
        "sources": sources,
        "events": {
            "total": int(len(ev)),
            "as_of_month": int(at_month.sum()),
            "previous_window_monthly_mean": round(float(in_previous.sum()) / window_months, 6),
            "unassigned": unassigned,
        },
        "units": panel,
        "unit_names": names,
        "active_units": active,
        "event_types": {"n": n, "counts": counts, "shares": {t: round(c / n, 6) for t, c in counts.items()}},
    }


def _ratio(before: float | None, now: float | None) -> float | None:
    return None if before is None or now is None or before == 0 else round(now / before, 4)


def _names(units: list[dict]) -> str:
    shown = ", ".join(u["name"] for u in units[:_MAX_NAMES])
    return shown + (f" and {len(units) - _MAX_NAMES} more" if len(units) > _MAX_NAMES else "")


def _unit_changes(before: object, now: object, names: Mapping[str, str]) -> dict:
    """New and vanished unit ids with their names; None for both when either side is unknown."""
    if not isinstance(before, list) or not isinstance(now, list):
        return {"new": None, "vanished": None}
    b, n = {str(u) for u in before}, {str(u) for u in now}

    def named(ids: set[str]) -> list[dict]:
        return [{"unit_id": u, "name": str(names.get(u, u))} for u in sorted(ids)]

    return {"new": named(n - b), "vanished": named(b - n)}


def _mix(before: object, now: object) -> dict:
    """Total variation distance between two event-type mixes, and each type's change, largest first."""
    pb, pn = _get(before, "shares"), _get(now, "shares")
    if not isinstance(pb, Mapping) or not isinstance(pn, Mapping) or not pb or not pn:
        return {"tvd": None, "changes": []}
    cb, cn = _get(before, "counts"), _get(now, "counts")
    changes = []
    for t in sorted(set(pb) | set(pn)):
        b, n = _num(pb.get(t, 0.0)) or 0.0, _num(pn.get(t, 0.0)) or 0.0
        changes.append(
            {
                "event_type": str(t),
                "share_before": b,
                "share_now": n,
                "change": round(n - b, 6),
                "count_before": _int(_get(cb, t)),
                "count_now": _int(_get(cn, t)),
            }
        )
    changes.sort(key=lambda c: (-abs(c["change"]), c["event_type"]))
    return {
        "tvd": round(0.5 * sum(abs(c["share_now"] - c["share_before"]) for c in changes), 6),
        "changes": changes,
    }


def _moved(ratio: float) -> str:
    return "fell" if ratio < 1 else "grew"


def _outside(ratio: float | None, volume_ratio: tuple[float, float]) -> bool:
    return ratio is not None and not volume_ratio[0] <= ratio <= volume_ratio[1]


def compare_profiles(
    previous: Mapping | None,
    current: Mapping,
    *,
    mix_threshold: float = 0.10,
    volume_ratio: tuple[float, float] = (0.5, 2.0),
    lag_change_days: float = 14.0,
) -> dict:
    """What changed between the last run's input profile and this one's.

    Args:
        previous: the last run's :func:`input_profile` (possibly an older version, read back from
            JSON), or None on the first run.
        current: this run's profile.
        mix_threshold: alert when the event-type mix moves by more than this (total variation
            distance, 0 to 1).
        volume_ratio: alert when rows kept per input, events per source, or a source's as-of month
            against its monthly mean fall outside [low, high] times.
        lag_change_days: alert when a source's median reporting lag moves by more than this.

    Returns:
        ``first_run``, ``as_of``, ``previous_as_of``, ``window_months`` (this profile's), ``alerts`` (plain-English strings; none on
        the first run), ``units`` ({panel, active}: {new, vanished} lists of {unit_id, name}, None
        when unknown), ``mix`` ({tvd, changes: [{event_type, share_before, share_now, change,
        count_before, count_now}] largest change first}), ``inputs`` ([{input, rows_before,
        rows_now, ratio}]), ``sources`` ([{source, events_before, events_now, ratio, newest_before,
        newest_now, lag_median_before, lag_median_now, lag_change_days, as_of_month,
        previous_window_monthly_mean, month_ratio}]) and ``events`` ({total_before, total_now,
        as_of_month, previous_window_monthly_mean, unassigned_before, unassigned_now}).
        Values unknown on either side are None. Never raises on missing keys.
    """
    prev: Mapping = previous if isinstance(previous, Mapping) else {}
    as_of, prev_as_of = _get(current, "as_of"), _get(prev, "as_of")
    last = f"the last run ({prev_as_of})" if prev_as_of else "the last run"
    names = {**_mapping(_get(prev, "unit_names")), **_mapping(_get(current, "unit_names"))}
    alerts: list[str] = []

    if prev and _get(prev, "window_months") not in (None, _get(current, "window_months")):
        alerts.append(
            f"the profile window changed from {_get(prev, 'window_months')} to "
            f"{_get(current, 'window_months')} months: active units and the mix are not comparable"
        )

    units = {
        "panel": _unit_changes(_get(prev, "units"), _get(current, "units"), names),
        "active": _unit_changes(_get(prev, "active_units"), _get(current, "active_units"), names),
    }
    for key, where in (("panel", "the panel"), ("active", "the active set")):
        for kind, verb in (("vanished", "vanished from"), ("new", "new in")):
            got = units[key][kind]
            if got:
                alerts.append(f"{len(got)} unit{'s' if len(got) > 1 else ''} {verb} {where}: {_names(got)}")

    mix = _mix(_get(prev, "event_types"), _get(current, "event_types"))
    if mix["tvd"] is not None and mix["tvd"] > mix_threshold:
        top = mix["changes"][0]
        alerts.append(
            f"event-type mix moved by {mix['tvd']:.2f} (TVD), most in '{top['event_type']}' {top['change']:+.2f}"
        )

    inputs = []
    ib, inow = _get(prev, "inputs"), _get(current, "inputs")
    ib = ib if isinstance(ib, Mapping) else None
    for name in sorted(set(inow if isinstance(inow, Mapping) else {}) | set(ib or {})):
        before, now = _int(_get(ib, name, "rows_kept")), _int(_get(inow, name, "rows_kept"))
        r = _ratio(before, now)
        inputs.append({"input": str(name), "rows_before": before, "rows_now": now, "ratio": r})
        if ib is None or not isinstance(inow, Mapping):
            continue
        if name not in ib:
            alerts.append(f"input '{name}' is new since {last}")
        elif name not in inow:
            alerts.append(f"input '{name}' was read in {last} but not now")
        elif _outside(r, volume_ratio):
            alerts.append(
                f"input '{name}': rows kept {_moved(r)} from {before} to {now} ({r:.2f}x) since {last}"
            )

    sources = []
    sb, snow = _get(prev, "sources"), _get(current, "sources")
    sb, snow = (sb if isinstance(sb, Mapping) else None), (snow if isinstance(snow, Mapping) else {})
    for src in sorted(set(snow) | set(sb or {})):
        b, n = _get(sb, src) or {}, _get(snow, src) or {}
        row = {
            "source": str(src),
            "events_before": _int(_get(b, "events")),
            "events_now": _int(_get(n, "events")),
            "newest_before": _get(b, "newest"),
            "newest_now": _get(n, "newest"),
            "lag_median_before": _num(_get(b, "lag_median_days")),
            "lag_median_now": _num(_get(n, "lag_median_days")),
            "as_of_month": _int(_get(n, "as_of_month")),
            "previous_window_monthly_mean": _num(_get(n, "previous_window_monthly_mean")),
        }
        row["ratio"] = _ratio(row["events_before"], row["events_now"])
        lb, ln = row["lag_median_before"], row["lag_median_now"]
        row["lag_change_days"] = None if lb is None or ln is None else round(ln - lb, 3)
        mean = row["previous_window_monthly_mean"]
        row["month_ratio"] = (
            _ratio(mean, row["as_of_month"]) if mean is not None and mean >= MIN_MONTHLY_MEAN else None
        )
        sources.append(row)
        if sb is None:
            continue
        if src not in snow:
            alerts.append(f"{src}: no events now, {row['events_before']} in {last}")
            continue
        if src not in sb:
            alerts.append(f"{src}: a new source since {last} ({row['events_now']} events)")
            continue
        r = row["ratio"]
        if _outside(r, volume_ratio):
            alerts.append(
                f"{src}: events {_moved(r)} from {row['events_before']} to {row['events_now']} ({r:.2f}x) since {last}"
            )
        nb, nn = row["newest_before"], row["newest_now"]
        if isinstance(nb, str) and isinstance(nn, str):  # ISO dates order as strings
            if nn < nb:
                alerts.append(f"{src}'s newest event ({nn}) is older than the one in {last}: {nb}")
            elif nn == nb and isinstance(prev_as_of, str) and isinstance(as_of, str) and as_of > prev_as_of:
                alerts.append(f"{src}: no event newer than {nb}, the newest in {last}")
        if row["lag_change_days"] is not None and abs(row["lag_change_days"]) > lag_change_days:
            alerts.append(
                f"{src}: median reporting lag {'grew' if row['lag_change_days'] > 0 else 'fell'} "
                f"from {lb:.0f} to {ln:.0f} days since {last}"
            )
        r = row["month_ratio"]
        if _outside(r, volume_ratio):
            alerts.append(
                f"{src}: {row['as_of_month']} events in {as_of}, {r:.2f}x its monthly mean over the "
                f"{_get(current, 'window_months')} months before ({mean:.1f})"
            )

    events = {
        "total_before": _int(_get(prev, "events", "total")),
        "total_now": _int(_get(current, "events", "total")),
        "as_of_month": _int(_get(current, "events", "as_of_month")),
        "previous_window_monthly_mean": _num(_get(current, "events", "previous_window_monthly_mean")),
        "unassigned_before": _int(_get(prev, "events", "unassigned")),
        "unassigned_now": _int(_get(current, "events", "unassigned")),
    }
    return {
        "first_run": previous is None,
        "as_of": as_of,
        "previous_as_of": prev_as_of,
        "window_months": _int(_get(current, "window_months")),
        "alerts": [] if previous is None else alerts,
        "units": units,
        "mix": mix,
        "inputs": inputs,
        "sources": sources,
        "events": events,
    }
