"""The default feature set on real inputs: ACLED Mali events, presence from the curated table and
Geo-PKO, shocks from the curated table, Powell & Thyne and the UCDP peace agreements."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from riskcast.config import config_from_dict
from riskcast.features.spec import load_feature_set
from riskcast.jobs.ingest import ingest
from riskcast.jobs.stages import build_feature_panel
from riskcast.paths import project_file

EXTRA_SET = """
name = "default_plus_checks"
include = ["default"]
[[features]]
feature = "Troops"
force = "MINUSMA"
[[features]]
feature = "MonthsSinceArrival"
force = "MINUSMA"
[[features]]
feature = "MonthsSinceShock"
kind = "coup"
"""


@pytest.fixture(scope="module")
def real_panel(shared_data, tmp_path_factory):
    feature_set = tmp_path_factory.mktemp("fs") / "default_plus_checks.toml"
    feature_set.write_text(EXTRA_SET)
    data = tomllib.loads(project_file("pipelines", "demo.toml").read_text(encoding="utf-8"))
    data["inputs"] = {
        "events": {
            "kind": "events",
            "format": "acled_hdx",
            "path": str(shared_data / "events" / "acled_hdx_mali_1997_2019-06.csv"),
        },
        "shocks": {"kind": "shocks", "format": "curated"},
        "presence": {"kind": "presence", "format": "curated"},
        "geopko": {
            "kind": "presence",
            "format": "geopko",
            "path": str(shared_data / "presence" / "geopko_v2.1_derived_kunkel_final.parquet"),
        },
        "coups": {
            "kind": "shocks",
            "format": "powell_thyne",
            "path": str(shared_data / "shocks" / "powell_thyne_coups_V2022.11.29.csv"),
        },
        "peace": {
            "kind": "shocks",
            "format": "ucdp_peace",
            "path": str(shared_data / "shocks" / "ucdp_peace_agreements_221.xlsx"),
        },
    }
    data["panel"] = {"start": "2012-01", "end": "2019-06"}
    data["features"] = {"set": str(feature_set)}
    cfg = config_from_dict(data)
    ingested = ingest(cfg)
    assert {"Geo-PKO v2.1"} < set(ingested.presence["source"]) and len(ingested.shocks) > 85
    return build_feature_panel(cfg, ingested)


def test_default_set_builds_on_real_inputs(real_panel):
    cols = load_feature_set("default").columns
    assert set(cols) <= set(real_panel.columns) and len(cols) >= 60
    assert np.isfinite(real_panel[cols].to_numpy()).all()


@pytest.mark.parametrize("region", ["Gao", "Tombouctou", "Kidal"])
def test_minusma_is_in_the_north_in_2015(real_panel, region):
    rows = real_panel[(real_panel["unit_name"] == region) & (real_panel["month"].dt.year == 2015)]
    assert len(rows) == 12
    assert (rows["present_force_minusma"] == 1).all()
    assert (rows["troops_force_minusma"] > 0).all()  # numbers from Geo-PKO
    assert (rows["months_since_arrival_force_minusma"] > 0).all()
    assert (rows["withdrawal_force_minusma_halflife3"] == 0).all()
    # The 2012 coup (curated and Powell & Thyne) is 34-45 months back.
    assert rows["months_since_shock_coup"].between(34, 45).all()
