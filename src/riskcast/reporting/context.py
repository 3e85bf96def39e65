"""The report's context: shocks and troop changes of the last months, as a table and an SVG timeline.

The window is counted in whole months: ``(as_of - months, as_of]`` with ``as_of`` the report's
as-of month, so a 12-month window holds the as-of month and the eleven before it, every day of
them. Text comes from curated data files and is escaped before it enters the SVG.
"""

from __future__ import annotations

import html

import pandas as pd

from riskcast.regions import COUNTRY_ALIASES, normalise_name

__all__ = ["context_timeline", "timeline_svg"]

COLUMNS = ["date", "country", "region", "what", "source"]


def _text(v: object) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    s = str(v).strip()
    return s or None


def _window(as_of: pd.Timestamp, months: int) -> tuple[pd.Period, pd.Period]:
    hi = pd.Timestamp(as_of).to_period("M")
    return hi - months, hi  # (lo, hi]: lo itself is outside


def _in_window(dates: pd.Series, lo: pd.Period, hi: pd.Period) -> pd.Series:
    per = pd.to_datetime(dates).dt.to_period("M")
    return dates.notna() & (per > lo) & (per <= hi)


def _country_filter(df: pd.DataFrame, countries) -> pd.DataFrame:
    if countries is None or df.empty:
        return df
    key = lambda c: COUNTRY_ALIASES.get(normalise_name(c), normalise_name(c))  # noqa: E731
    keep = {key(c) for c in countries}
    return df[df["country"].map(lambda c: key(c) if isinstance(c, str) else None).isin(keep)]


def context_timeline(
    shocks: pd.DataFrame | None,
    presence: pd.DataFrame | None,
    as_of: pd.Timestamp,
    months: int = 12,
    countries=None,
) -> pd.DataFrame:
    """Shocks and troop arrivals/departures dated in the ``months`` months up to ``as_of``.

    Args:
        shocks: a SHOCKS table (date, country, region, kind, description, source), or None.
        presence: a PRESENCE table (force, country, region, location, start_month, end_month,
            source ...), or None. A row gives "<force> arrived in <place>" dated at its
            start_month and "<force> left <place>" dated at its end_month (the last month
            present), each when that month is in the window.
        as_of: the as-of month (any day of it).
        months: window length in months.
        countries: keep only these countries (names or ISO3, any spelling), or None for all.

    Returns:
        Columns date, country, region (None = national), what, source; sorted by date,
        duplicates (the same change listed twice) dropped.
    """
    lo, hi = _window(as_of, months)
    rows: list[dict] = []
    if shocks is not None and len(shocks):
        s = shocks[_in_window(shocks["date"], lo, hi)]
        for r in s.itertuples(index=False):
            rows.append(
                {
                    "date": pd.Timestamp(r.date),
                    "country": r.country,
                    "region": _text(r.region),
                    "what": _text(r.description) or str(r.kind),
                    "source": r.source,
                }
            )
    if presence is not None and len(presence):
        for col, verb in (("start_month", "arrived in"), ("end_month", "left")):
            pr = presence[_in_window(presence[col], lo, hi)]
            for r in pr.itertuples(index=False):
                region, loc = _text(r.region), _text(getattr(r, "location", None))
                place = region or r.country
                if loc and (region is None or normalise_name(loc) != normalise_name(region)):
                    place = f"{loc}, {place}"
                rows.append(
                    {
                        "date": pd.Timestamp(getattr(r, col)),
                        "country": r.country,
                        "region": region,
                        "what": f"{r.force} {verb} {place}",
                        "source": r.source,
                    }
                )
    out = pd.DataFrame(rows, columns=COLUMNS)
    out = _country_filter(out, countries)
    out["date"] = pd.to_datetime(out["date"])
    out = out.drop_duplicates(subset=["date", "country", "region", "what"])
    # stable secondary keys so the same tables always give the same order
    return out.sort_values(["date", "country", "what"], kind="mergesort").reset_index(drop=True)


def timeline_svg(table: pd.DataFrame, as_of: pd.Timestamp, months: int = 12, width: int = 720) -> str:
    """The context table on a horizontal month axis, one line per item (an inline ``<svg>``).

    Each item is a dot at its date with "day month: what (region)" beside it, on its own row
    so labels never overlap; labels of items in the right part of the axis run leftwards.
    All text is escaped with :func:`html.escape`.
    """
    lo, hi = _window(as_of, months)
    start, end = (lo + 1).start_time, (hi + 1).start_time
    left, right, top, row = 10.0, width - 10.0, 28.0, 16.0
    t = (
        table[(pd.to_datetime(table["date"]) >= start) & (pd.to_datetime(table["date"]) < end)]
        if len(table)
        else table
    )
    height = int(top + row * max(len(t), 1) + 12)
    span = (end - start).total_seconds()

    def x_of(ts: pd.Timestamp) -> float:
        return left + (right - left) * (pd.Timestamp(ts) - start).total_seconds() / span

    parts = [
        f'<line x1="{left:.1f}" y1="{top - 10:.1f}" x2="{right:.1f}" y2="{top - 10:.1f}" stroke="#555"/>'
    ]
    for k in range(months + 1):
        m = lo + 1 + k
        x = x_of(m.start_time)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 14:.1f}" x2="{x:.1f}" y2="{height - 4}" stroke="#ddd"/>')
        if k < months:
            lab = m.strftime("%b %y") if k == 0 or m.month == 1 else m.strftime("%b")
            parts.append(
                f'<text x="{x + 2:.1f}" y="{top - 14:.1f}" font-size="9" fill="#555">{html.escape(lab)}</text>'
            )
    if len(t) == 0:
        parts.append(
            f'<text x="{left:.1f}" y="{top + 8:.1f}" font-size="10" fill="#555">'
            "no shocks or troop changes recorded in this window</text>"
        )
    for i, r in enumerate(t.itertuples(index=False)):
        x, y = x_of(r.date), top + row * i + 6
        region = _text(r.region)
        label = f"{pd.Timestamp(r.date).strftime('%d %b %Y')}: {r.what}" + (f" ({region})" if region else "")
        anchor, dx = ("end", -5) if x > left + 0.55 * (right - left) else ("start", 5)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#b30000"/>')
        parts.append(
            f'<text x="{x + dx:.1f}" y="{y + 3:.1f}" font-size="10" text-anchor="{anchor}">'
            f"<title>{html.escape(str(r.source))}</title>{html.escape(label)}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="shocks and troop changes">'
        + "".join(parts)
        + "</svg>"
    )
