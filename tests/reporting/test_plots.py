"""unit_plot: a PNG of one unit's history and forecast, reproducible, with a clear error for unknown units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.reporting.plots import unit_plot

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tables():
    rng = np.random.default_rng(1)
    months = pd.date_range("2019-01", "2021-12", freq="MS")
    units = [("U0", "Kayes", "Mali"), ("U1", "Gao", "Mali"), ("U2", "Sahel", "Burkina Faso")]
    panel = pd.DataFrame(
        [(u, n, c, m) for m in months for u, n, c in units],
        columns=["unit_id", "unit_name", "country", "month"],
    )
    panel["n_target"] = rng.poisson(3.0, len(panel)).astype(float)
    scores = pd.DataFrame(
        [
            {
                "unit_id": u,
                "unit_name": n,
                "country": c,
                "as_of": "2021-12",
                "target_month": f"2022-{h:02d}",
                "horizon": h,
                "p": 0.2 * h,
                "expected_count": 2.0 + h,
                "q10": 0.0,
                "q50": 2.0,
                "q90": 7.0 + h,
            }
            for u, n, c in units[:2]
            for h in (1, 2, 3)
        ]
    )
    return panel, scores


def test_plot_writes_a_png(tmp_path, tables):
    panel, scores = tables
    path = unit_plot(panel, scores, "U1", tmp_path / "figs" / "u1.png", months=24)
    data = path.read_bytes()
    assert path == tmp_path / "figs" / "u1.png"
    assert data[:8] == PNG and len(data) > 1024
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left no temporary file


def test_plot_bytes_are_deterministic(tmp_path, tables):
    panel, scores = tables
    a = unit_plot(panel, scores, "U0", tmp_path / "a.png").read_bytes()
    b = unit_plot(panel, scores, "U0", tmp_path / "b.png").read_bytes()
    assert a == b


def test_unit_without_scores_gets_its_history(tmp_path, tables):
    panel, scores = tables
    data = unit_plot(panel, scores, "U2", tmp_path / "u2.png").read_bytes()
    assert data[:8] == PNG and len(data) > 1024


def test_unknown_unit_lists_valid_ids(tmp_path, tables):
    panel, scores = tables
    with pytest.raises(ValueError, match=r"unknown unit_id 'U9': the panel has e.g. U0, U1, U2"):
        unit_plot(panel, scores, "U9", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_months_must_be_positive(tmp_path, tables):
    panel, scores = tables
    with pytest.raises(ValueError, match="months must be at least 1, got 0"):
        unit_plot(panel, scores, "U0", tmp_path / "x.png", months=0)
