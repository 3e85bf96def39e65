"""Report visuals: well-formed SVG, escaped text, reproducible PNGs, maps, timeline window, track record."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from riskcast.reporting.context import context_timeline, timeline_svg
from riskcast.reporting.visuals import reliability_png_uri, risk_map, sparkline_svg, track_record

PNG = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script> & $\\frac{1}{0}$'


def _png(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,")
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == PNG
    return data


@pytest.mark.parametrize(
    "values", [[0, 1, 5, 2, 0, 3] * 6, [0.0] * 24, [np.nan] * 5, [], [1, np.nan, 2, 3], [7]]
)
def test_sparkline_is_well_formed_svg(values):
    svg = sparkline_svg(values)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "<script" not in svg
    assert svg == sparkline_svg(values)
    for line in root.iter("{http://www.w3.org/2000/svg}polyline"):
        for pt in line.get("points").split():
            x, y = map(float, pt.split(","))
            assert 0 <= x <= 120 and 0 <= y <= 24


def test_sparkline_keeps_last_24_and_breaks_at_nan():
    root = ET.fromstring(sparkline_svg(list(range(30))))
    (line,) = root.iter("{http://www.w3.org/2000/svg}polyline")
    assert len(line.get("points").split()) == 24
    lines = list(
        ET.fromstring(sparkline_svg([1, 2, np.nan, 3, 4])).iter("{http://www.w3.org/2000/svg}polyline")
    )
    assert len(lines) == 2


@pytest.fixture
def units():
    return pd.DataFrame(
        {
            "unit_id": ["ML01", "ML04", "ML06", "ML07", "ML09", "ML10", "ML99"],
            "name": ["Kayes", "Ségou", "Tombouctou", "Gao", "Bamako", "Ménaka", HOSTILE],
            "country": "Mali",
            "aliases": [None, "Segou", "Timbuktu", None, "District de Bamako", "Menaka", None],
            "centroid_lat": [13.9, 13.8, 20.1, 16.8, 12.6, 16.7, 15.0],
            "centroid_lon": [-10.2, -5.7, -3.6, 0.2, -8.0, 2.8, -2.0],
        }
    )


def test_centroid_map_is_deterministic_and_written(tmp_path, units):
    p = pd.Series([0.1, 0.5, 0.9, 0.8, 0.05, 0.7, 0.95], index=units["unit_id"])
    a = risk_map(units, p, tmp_path / "figs" / "map.png")
    b = risk_map(units, p, tmp_path / "map2.png")
    assert a == b and _png(a) == (tmp_path / "figs" / "map.png").read_bytes()
    assert not list((tmp_path / "figs").glob(".*.tmp"))
    _png(risk_map(units, p.drop(["ML01", "ML99"]), None))  # units without a forecast are grey


def test_priogrid_cells_map(tmp_path):
    gids = [155149, 155150, 155869, 155870]
    u = pd.DataFrame(
        {
            "unit_id": [f"PG{g}" for g in gids],
            "name": [f"PRIO-GRID {g}" for g in gids],
            "centroid_lat": np.nan,
            "centroid_lon": np.nan,
        }
    )
    uri = risk_map(u, pd.Series([0.2, 0.4, 0.6, 0.8], index=u["unit_id"]), tmp_path / "pg.png")
    assert _png(uri) == (tmp_path / "pg.png").read_bytes()


def test_choropleth_with_mali_admin1(shared_data, tmp_path, units):
    geo = shared_data / "boundaries" / "geoBoundaries_MLI_ADM1_simplified.geojson"
    if not geo.exists():
        pytest.skip(f"{geo} absent")
    p = pd.Series([0.1, 0.5, 0.9, 0.8, 0.05, 0.7, 0.95], index=units["unit_id"])
    a = risk_map(units, p, tmp_path / "c.png", boundaries=geo)
    assert a == risk_map(units, p, None, boundaries=geo)
    assert a != risk_map(units, p, None)  # the polygons were drawn


def test_reliability_png(tmp_path):
    rel = pd.DataFrame(
        {
            "model": ["m", "m", "m", "other"],
            "horizon": [1, 1, 3, 1],
            "bin": [0, 5, 2, 0],
            "p_mean": [0.05, 0.55, 0.25, 0.1],
            "y_rate": [0.1, 0.5, 0.2, 0.0],
            "n": [50, 10, 0, 3],
        }
    )
    a = reliability_png_uri(rel, "m", tmp_path / "r.png")
    assert a == reliability_png_uri(rel, "m") and _png(a) == (tmp_path / "r.png").read_bytes()
    with pytest.raises(ValueError, match="no reliability rows for model 'nope'"):
        reliability_png_uri(rel, "nope")


def _shocks(dates, description="coup"):
    return pd.DataFrame(
        {
            "date": pd.to_datetime(dates),
            "country": "Mali",
            "region": None,
            "kind": "other",
            "actor": None,
            "description": description,
            "source": "test",
        }
    )


def test_timeline_window_edges():
    as_of = pd.Timestamp("2024-12-01")
    shocks = _shocks(["2023-12-31", "2024-01-01", "2024-12-31", "2025-01-01"])
    shocks["description"] = ["before", "first day in", "last day in", "after"]
    presence = pd.DataFrame(
        {
            "force": ["France", "Wagner", "MINUSMA"],
            "country": "Mali",
            "region": ["Gao", "Ménaka", "Kidal"],
            "location": ["Gao", "Ménaka", "Tessalit"],
            "latitude": np.nan,
            "longitude": np.nan,
            "start_month": pd.to_datetime(["2013-01-01", "2024-01-01", "2023-12-01"]),
            "end_month": pd.to_datetime(["2024-12-01", pd.NaT, "2023-12-01"]),
            "troops": np.nan,
            "source": "test",
        }
    )
    t = context_timeline(shocks, presence, as_of)
    assert list(t.columns) == ["date", "country", "region", "what", "source"]
    assert list(t["what"]) == [
        "Wagner arrived in Ménaka",
        "first day in",
        "France left Gao",
        "last day in",
    ]  # ties: by text
    assert t["date"].is_monotonic_increasing
    assert context_timeline(shocks, presence, as_of, countries=["BFA"]).empty
    assert len(context_timeline(shocks, presence, as_of, countries=["MLI"])) == 4


def test_timeline_svg_escapes_hostile_text():
    as_of = pd.Timestamp("2024-12-01")
    s = _shocks(["2024-06-10"], description=HOSTILE)
    s["region"] = HOSTILE
    p = pd.DataFrame(
        {
            "force": [HOSTILE],
            "country": "Mali",
            "region": [HOSTILE],
            "location": None,
            "latitude": np.nan,
            "longitude": np.nan,
            "start_month": pd.to_datetime(["2024-03-01"]),
            "end_month": pd.NaT,
            "troops": np.nan,
            "source": [HOSTILE],
        }
    )
    t = context_timeline(s, p, as_of)
    svg = timeline_svg(t, as_of)
    root = ET.fromstring(svg)
    assert "<script" not in svg
    texts = " ".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "<script>" in texts  # shown as text, not markup
    assert "<script" not in timeline_svg(t.iloc[:0], as_of)
    ET.fromstring(timeline_svg(t.iloc[:0], as_of))


def test_track_record_numbers():
    rows = []
    # month 1: two units; model "m" p = .9 (attack), .6 (none); climatology .5 both
    for month, unit, y, pm in [
        ("2024-01", "A", 1, 0.9),
        ("2024-01", "B", 0, 0.6),
        ("2024-02", "A", 1, 0.2),
        ("2024-02", "B", 0, 0.1),
        ("2023-12", "A", 0, 0.3),
        ("2023-12", "B", 0, 0.3),
    ]:
        for model, p in (("m", pm), ("climatology", 0.5)):
            rows.append(
                {
                    "unit_id": unit,
                    "unit_name": unit,
                    "origin": "x",
                    "target_month": month,
                    "horizon": 1,
                    "model": model,
                    "y_true": y,
                    "p": p,
                }
            )
    rows.append(
        {
            "unit_id": "A",
            "unit_name": "A",
            "origin": "x",
            "target_month": "2024-03",
            "horizon": 1,
            "model": "m",
            "y_true": np.nan,
            "p": 0.9,
        }
    )  # not yet known: ignored
    t = track_record(pd.DataFrame(rows), as_of_months=2, model="m")
    assert list(t["target_month"]) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    jan, feb = t.iloc[0], t.iloc[1]
    assert jan["mean_p"] == pytest.approx(0.75) and jan["observed_share"] == pytest.approx(0.5)
    assert jan["brier"] == pytest.approx((0.01 + 0.36) / 2)
    assert (jan["hits"], jan["false_alarms"], jan["misses"]) == (1, 1, 0)
    assert (feb["hits"], feb["false_alarms"], feb["misses"]) == (0, 0, 1)
    assert feb["brier"] == pytest.approx((0.64 + 0.01) / 2)
    assert jan["skill"] == pytest.approx(1 - 0.185 / 0.25)
    assert set(track_record(pd.DataFrame(rows))["model"]) == {"m", "climatology"}
    with pytest.raises(ValueError, match="model 'zz' not in the predictions"):
        track_record(pd.DataFrame(rows), model="zz")


def test_centroid_map_draws_country_outlines(tmp_path, units):
    from riskcast.facts import load_country_outlines

    p = pd.Series([0.1, 0.5, 0.9, 0.8, 0.05, 0.7, 0.95], index=units["unit_id"])
    plain = risk_map(units, p, None)
    outlined = risk_map(units, p, tmp_path / "map.png", outlines=load_country_outlines(["Mali"]))
    assert plain != outlined
    _png(outlined)
