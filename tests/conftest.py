"""Shared test helpers: where the real shared data lives, and seeded random panels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


def cli(*args: str, cwd: Path = PROJECT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``riskcast`` in a subprocess, as a user would (wide terminal so messages stay on one line)."""
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "riskcast.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def acled_config(folder: Path, events: Path, extra: str = "", name: str = "run.toml") -> Path:
    """A small Mali run config reading one ACLED HDX file (for the bad-input tests)."""
    p = folder / name
    p.write_text(f"""
name = "bad-input"
countries = ["Mali"]
[inputs.acled]
kind = "events"
format = "acled_hdx"
path = "{events.as_posix()}"
[panel]
start = "2018-01"
[backtest]
horizons = [1]
min_train_months = 6
eval_months = 2
{extra}
""")
    return p


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Sahel data not present at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA


#: Actor groups of the random panels: substrings matched case-insensitively in actor1/actor2.
RANDOM_ACTOR_GROUPS = {
    "jnim": ("JNIM", "Katiba Macina"),
    "state_forces": ("Military Forces of",),
    "militias": ("Dozo", "militia"),
}
_TARGET_TYPES = ["Battles", "Violence against civilians", "Explosions/Remote violence"]
_OTHER_TYPES = ["Protests", "Riots"]
_ACTORS = [
    "JNIM",
    "Katiba Macina",
    "Military Forces of Mali (2021-)",
    "Islamic State (Sahel)",
    "Dozo Militia",
    "Civilians (Mali)",
    None,
]


def random_context(seed: int = 0, n_units: int = 7, n_months: int = 40):
    """A seeded random panel: sparse counts, ragged starts, a unit with no events, a random graph.

    Units sit in two countries (A, B) with random Sahel centroids. The ``events`` table is
    consistent with the arrays: one row per event, ``is_target`` rows summing to ``n_target``
    and (in fatalities) to ``n_fatalities``, all rows to ``n_all``; about a fifth of the rows
    have no coordinates. ``actor_groups`` is :data:`RANDOM_ACTOR_GROUPS`.
    """
    from riskcast.features import FeatureContext

    rng = np.random.default_rng(seed)
    x = rng.poisson(0.6, size=(n_units, n_months)).astype(float)
    x[0] = 0.0  # a unit with no events at all
    x[1, : n_months // 2] = 0.0  # a ragged start
    x[2, 5:15] = 0.0  # a gap
    adj = np.triu(rng.random((n_units, n_units)) < 0.35, 1)
    adj = (adj | adj.T).astype(float)
    months = pd.date_range("2015-01", periods=n_months, freq="MS")
    units = pd.DataFrame(
        {"unit_id": [f"U{i}" for i in range(n_units)], "country": ["A"] * 4 + ["B"] * (n_units - 4)}
    )
    fat = rng.poisson(1.0, size=x.shape) * (x > 0)
    # Draws below come after the original ones, so the arrays above are unchanged for a seed.
    units["level"] = "admin1"
    units["centroid_lat"] = rng.uniform(10.0, 20.0, n_units)
    units["centroid_lon"] = rng.uniform(-10.0, 10.0, n_units)
    other = rng.poisson(0.3, size=x.shape).astype(float)
    other[0] = 0.0
    rows = []
    for u, t in zip(*np.nonzero(x + other)):
        n_t, n_o = int(x[u, t]), int(other[u, t])
        split = rng.multinomial(int(fat[u, t]), [1 / n_t] * n_t) if n_t else []
        for i in range(n_t + n_o):
            target = i < n_t
            rows.append(
                {
                    "unit_ix": u,
                    "month_ix": t,
                    "is_target": target,
                    "event_type": rng.choice(_TARGET_TYPES if target else _OTHER_TYPES),
                    "actor1": _ACTORS[rng.integers(len(_ACTORS))],
                    "actor2": _ACTORS[rng.integers(len(_ACTORS))],
                    "fatalities": int(split[i]) if target else int(rng.poisson(0.5)),
                    "latitude": units["centroid_lat"].iloc[u] + rng.normal(0, 0.5),
                    "longitude": units["centroid_lon"].iloc[u] + rng.normal(0, 0.5),
                }
            )
    columns = [
        "unit_ix",
        "month_ix",
        "is_target",
        "event_type",
        "actor1",
        "actor2",
        "fatalities",
        "latitude",
        "longitude",
    ]
    events = pd.DataFrame(rows, columns=columns)
    no_coords = rng.random(len(events)) < 0.2
    events.loc[no_coords, ["latitude", "longitude"]] = np.nan
    events["unit_id"] = units["unit_id"].to_numpy()[events["unit_ix"].to_numpy(dtype=int)]
    events["date"] = months[events["month_ix"].to_numpy(dtype=int)] + pd.Timedelta(days=14)
    arrays = {"n_target": x, "n_fatalities": fat.astype(float), "n_all": x + other}
    return FeatureContext(
        arrays=arrays,
        neighbours=sp.csr_matrix(adj),
        months=months,
        units=units,
        events=events,
        actor_groups=dict(RANDOM_ACTOR_GROUPS),
    )


@pytest.fixture(scope="module")
def client():
    """A Dask LocalCluster of 2 worker processes x 1 thread (2 GiB each) and its client, per module."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
