"""A simulated year of the scheduled job on the embedded SYNTHETIC data.

Twelve consecutive monthly runs of ``riskcast retrain``, as cron would make them: before each
run the event feed (a CSV in riskcast's canonical format) grows by one month of events; in one
month the feed arrives corrupt (an impossible date in one row). The year should end with eleven
months scored, the corrupt month refused before any training with the champion kept, and every
promotion backed by a better Brier than the champion's on the same backtest window.

Used by ``benchmarks/simulate_year.py`` (prints the table) and ``tests/test_retrain_year.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from riskcast import synth
from riskcast.atomic import atomic_path
from riskcast.jobs.retrain import retrain
from riskcast.paths import project_file

__all__ = ["simulate_year", "CORRUPT_ROW_NOTE"]

CORRUPT_ROW_NOTE = "the feed's row for the month's first event has the date 2024-02-30"


def _write_feed(events: pd.DataFrame, month: pd.Timestamp, path: Path, corrupt: bool) -> None:
    df = events[pd.to_datetime(events["date"]) < month + pd.DateOffset(months=1)].copy()
    df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
    if corrupt:  # one impossible date, as a broken export would write it
        i = df.index[pd.to_datetime(df["date"]) >= month][0]
        df.loc[i, "date"] = f"{month:%Y}-02-30"
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def simulate_year(
    work: str | Path,
    *,
    months: Sequence[str] | None = None,
    corrupt: str | None = "2024-05",
    sets: Sequence[str] = (),
    echo: Callable[[str], None] = lambda m: None,
) -> dict:
    """Run the monthly job for each month, feeding one more month of events each time.

    Args:
        work: a fresh folder for the feed, the config, the spec and the job's state.
        months: the as-of months (default 2024-01 .. 2024-12).
        corrupt: the month whose feed is corrupt (None: none).
        sets: run-config overrides (e.g. the fast model set for tests).
        echo: where the job's progress goes.

    Returns:
        ``{"runs": [summary per month], "state": state folder, "champion_history": [...]}``.
    """
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    months = list(months or [f"2024-{m:02d}" for m in range(1, 13)])
    events = synth.default_events(seed=20240601, start="2012-01", end=months[-1], level="admin1")
    feed = work / "feed" / "events.csv"
    demo = (project_file("pipelines", "demo.toml")).read_text(encoding="utf-8")
    old = '[inputs.events]\nkind = "events"\nformat = "synthetic"\noptions = { start = "2012-01", end = "2024-12" }'
    if old not in demo:
        raise RuntimeError("pipelines/demo.toml's events input changed: update riskcast.jobs.simulate")
    config = work / "monthly_feed.toml"
    config.write_text(
        demo.replace(
            old, f'[inputs.events]\nkind = "events"\nformat = "canonical"\npath = "{feed.as_posix()}"'
        ),
        encoding="utf-8",
    )
    spec = work / "monthly.toml"
    spec.write_text(
        (project_file("pipelines", "monthly.toml"))
        .read_text(encoding="utf-8")
        .replace('config = "demo.toml"', f'config = "{config.as_posix()}"'),
        encoding="utf-8",
    )
    state = work / "state"
    runs = []
    for m in months:
        _write_feed(events, pd.Timestamp(m), feed, corrupt=(m == corrupt))
        summary = retrain(spec, as_of=m, state=state, sets=list(sets), echo=echo)
        runs.append(summary)
    return {"runs": runs, "state": str(state), "feed": str(feed)}


def year_table(result: dict) -> pd.DataFrame:
    """One row per month: status, exit code, challenger and champion Brier on the same window."""
    rows = []
    for s in result["runs"]:
        p = s.get("promotion") or {}
        rows.append(
            {
                "as_of": s.get("as_of"),
                "status": s["status"],
                "exit": s["exit_code"],
                "challenger": f"{(p.get('challenger') or {}).get('model')} v{(p.get('challenger') or {}).get('version')}"
                if p
                else "",
                "brier_challenger": (p.get("challenger") or {}).get("brier"),
                "champion_before": (
                    f"{(p.get('champion_before') or {}).get('model')} v{(p.get('champion_before') or {}).get('version')}"
                    if p and (p.get("champion_before") or {}).get("version")
                    else ""
                ),
                "brier_champion": (p.get("champion_before") or {}).get("brier"),
                "window": p.get("window", ""),
                "reason": p.get("reason") or s.get("reason", ""),
            }
        )
    return pd.DataFrame(rows)


if __name__ == "__main__":  # pragma: no cover
    r = simulate_year(sys.argv[1] if len(sys.argv) > 1 else "out/simulated_year")
    print(year_table(r).to_string(index=False))
    print(json.dumps({"state": r["state"]}))
