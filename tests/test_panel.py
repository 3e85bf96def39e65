from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.config import TargetSpec
from riskcast.panel import build_panel, target_mask

UNITS = pd.DataFrame(
    {"unit_id": ["A", "B", "C"], "name": ["Alpha", "Beta", "Gamma"], "country": ["Mali"] * 3}
)


def events(rows):
    df = pd.DataFrame(rows, columns=["unit_id", "date", "event_type", "fatalities", "actor1", "actor2"])
    df["date"] = pd.to_datetime(df["date"])
    return df


EV = events(
    [
        ("A", "2020-01-05", "Battles", 2, "JNIM", None),
        ("A", "2020-01-20", "Protests", 0, "Protesters", None),
        ("A", "2020-03-01", "Violence against civilians", 5, "Islamic State (Sahel)", "Civilians"),
        ("B", "2020-02-10", "Explosions/Remote violence", 0, "JNIM", "Military Forces of Mali"),
        ("B", "2020-04-30", "Battles", 1, "Military Forces of Mali", "JNIM"),
    ]
)


def test_complete_grid_with_zeros_and_targets():
    panel, arrays = build_panel(EV, UNITS, TargetSpec(), (1, 2), start="2020-01", end="2020-04")
    assert len(panel) == 3 * 4
    assert panel.groupby("unit_id").size().tolist() == [4, 4, 4]
    a = panel[panel["unit_id"] == "A"].set_index("month")
    assert a["n_target"].tolist() == [1, 0, 1, 0]
    assert a["n_all"].tolist() == [2, 0, 1, 0]
    assert a["n_fatalities"].tolist() == [2, 0, 5, 0]
    # target of month t is month t + h; unknown beyond the panel's end
    assert a["target_any_h1"].tolist()[:3] == [0, 1, 0] and np.isnan(a["target_any_h1"].iloc[3])
    assert a["target_count_h2"].tolist()[:2] == [1, 0] and np.isnan(a["target_count_h2"].iloc[2:]).all()
    assert (panel[panel["unit_id"] == "C"]["n_target"] == 0).all()
    assert arrays["n_target"].shape == (3, 4)


def test_target_definition_from_config():
    t = TargetSpec(actors=("JNIM",))
    assert target_mask(EV, t).tolist() == [True, False, False, True, True]
    t = TargetSpec(min_fatalities=2)
    assert target_mask(EV, t).tolist() == [True, False, True, False, False]
    t = TargetSpec(event_types=("Protests",))
    assert target_mask(EV, t).tolist() == [False, True, False, False, False]


def test_threshold_and_counts_input():
    counts = pd.DataFrame(
        {
            "unit_id": ["C"],
            "month": pd.to_datetime(["2020-02-01"]),
            "events": [3],
            "fatalities": [4],
            "event_class": ["political_violence"],
        }
    )
    panel, _ = build_panel(
        EV, UNITS, TargetSpec(threshold=2), (1,), start="2020-01", end="2020-04", counts=counts
    )
    c = panel[panel["unit_id"] == "C"].set_index("month")
    assert c["n_target"].tolist() == [0, 3, 0, 0]
    assert c["target_any_h1"].tolist()[:1] == [1.0]
    a = panel[panel["unit_id"] == "A"]
    assert (a["target_any_h1"].dropna() == 0).all()  # single events never reach the threshold of 2
