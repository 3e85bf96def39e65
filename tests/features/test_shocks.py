"""Shock features: placement, each feature against a plain-loop oracle, the time rule, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.errors import ConfigError, InputError
from riskcast.facts import load_regions
from riskcast.features.base import FeatureError
from riskcast.features.context import build_context
from riskcast.features.shocks import MonthsSinceShock, PostShock, ShockCount, ShockDecay, place_shocks
from riskcast.regions import Gazetteer, normalise_name
from riskcast.schemas import SHOCK_KINDS

MONTHS = pd.date_range("2014-01", "2017-12", freq="MS")
REGIONS = {
    "Mali": ["Gao", "Kidal", "Tombouctou", "Mopti", "Ménaka"],
    "Niger": ["Tillabéri", "Niamey"],
    "Burkina Faso": ["Sahel"],
}


def units_admin1() -> pd.DataFrame:
    units = load_regions("admin1", ["Mali", "Niger"])
    keep = set(units["unit_id"])
    units["neighbours"] = (
        units["neighbours"].fillna("").map(lambda s: "|".join(n for n in s.split("|") if n in keep))
    )
    return units


def random_shocks(seed: int, n: int = 60) -> pd.DataFrame:
    """National and regional shocks of every kind, 2010-2019 (before, in and after the panel)."""
    rng = np.random.default_rng(seed)
    country = rng.choice(list(REGIONS), n, p=[0.5, 0.35, 0.15])
    region = [None if rng.random() < 0.5 else str(rng.choice(REGIONS[c])) for c in country]
    date = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3650, n), unit="D")
    return pd.DataFrame(
        {
            "date": date,
            "country": country,
            "region": region,
            "kind": rng.choice(SHOCK_KINDS, n),
            "actor": None,
            "description": "test",
            "source": "test",
        }
    )


def context(shocks: pd.DataFrame, units: pd.DataFrame | None = None):
    units = units_admin1() if units is None else units
    return build_context(
        units=units,
        months=MONTHS,
        neighbours=Gazetteer(units).neighbour_matrix(),
        arrays={},
        events=pd.DataFrame(columns=["unit_id", "date"]),
        shocks=shocks,
    )


def _ord(ts) -> int:
    return pd.Timestamp(ts).year * 12 + pd.Timestamp(ts).month - 1


def oracle(shocks, units, kind, scope):
    """Per unit and panel month: the months of the shocks (of kind, in scope) that apply to the unit."""
    kinds = None if kind is None else ((kind,) if isinstance(kind, str) else kind)
    out = [[[] for _ in MONTHS] for _ in range(len(units))]
    for u, (uname, ucountry) in enumerate(zip(units["name"], units["country"])):
        for j, m in enumerate(MONTHS):
            for s in shocks.itertuples(index=False):
                national = s.region is None
                applies = s.country == ucountry and (
                    national or normalise_name(s.region) == normalise_name(uname)
                )
                in_scope = scope == "any" or (scope == "national") == national
                if applies and in_scope and (kinds is None or s.kind in kinds) and _ord(s.date) <= _ord(m):
                    out[u][j].append(_ord(m) - _ord(s.date))
    return out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "kind,scope",
    [
        ("coup", "any"),
        (("withdrawal_completed", "peace_accord", "election"), "any"),
        ("other", "national"),
        (("sanctions", "deployment", "other"), "unit"),
    ],
)
def test_features_match_the_oracle(seed, kind, scope):
    shocks = random_shocks(seed, 150)
    ctx = context(shocks)
    ages = oracle(shocks, ctx.units, kind, scope)
    want_since = np.array([[min(min(a), 30) if a else 30 for a in row] for row in ages], dtype=float)
    want_decay = np.array([[2.0 ** (-min(a) / 2.5) if a else 0.0 for a in row] for row in ages])
    want_post = np.array([[float(any(x < 4 for x in a)) for a in row] for row in ages])
    want_count = np.array([[sum(x < 7 for x in a) for a in row] for row in ages], dtype=float)
    np.testing.assert_array_equal(ctx.get(MonthsSinceShock(kind, scope, cap=30)), want_since)
    np.testing.assert_allclose(ctx.get(ShockDecay(kind, 2.5, scope)), want_decay)
    np.testing.assert_array_equal(ctx.get(PostShock(kind, 4, scope)), want_post)
    np.testing.assert_array_equal(ctx.get(ShockCount(7, kind, scope)), want_count)
    assert want_post.any() and not want_post.all()
    all_ages = oracle(shocks, ctx.units, None, "any")
    np.testing.assert_array_equal(
        ctx.get(ShockCount(12)), [[sum(x < 12 for x in a) for a in row] for row in all_ages]
    )


def test_placement_and_counts_of_what_was_left_out():
    shocks = random_shocks(2)
    placed = place_shocks(shocks, units_admin1(), MONTHS)
    after = shocks["date"] >= MONTHS[-1] + pd.DateOffset(months=1)
    burkina = shocks["country"] == "Burkina Faso"
    assert placed.attrs["unplaced"] == {
        k: v
        for k, v in {
            "country not in the run": int(burkina.sum()),
            "after the panel end": int((after & ~burkina).sum()),
        }.items()
        if v
    }
    assert placed["month_ix"].min() < 0  # shocks before the panel are kept: months since them are known
    national = placed[placed["national"]]
    assert (
        national.groupby("line").size() == placed.loc[placed["national"]].groupby("line")["unit_ix"].nunique()
    ).all()
    n_mali = 10
    assert set(national.groupby("line").size()) <= {n_mali, 8}


def test_regional_shocks_at_admin2_and_priogrid():
    from riskcast.regions import priogrid_gazetteer, priogrid_gid

    shocks = pd.DataFrame(
        {
            "date": pd.Timestamp("2015-03-10"),
            "country": "Mali",
            "region": ["Kidal", None],
            "kind": ["withdrawal_completed", "coup"],
            "actor": None,
            "description": "t",
            "source": "t",
        }
    )
    cercles = load_regions("admin2", ["Mali"])
    placed = place_shocks(shocks, cercles, MONTHS)
    ids = cercles["unit_id"].to_numpy()
    assert sorted(ids[placed.loc[placed["line"] == 2, "unit_ix"]]) == ["ML0801", "ML0802", "ML0803", "ML0804"]
    assert (placed["line"] == 3).sum() == len(cercles)
    cells = priogrid_gazetteer(
        [int(priogrid_gid(18.44, 1.41)), int(priogrid_gid(16.27, -0.04)), int(priogrid_gid(13.5, 2.1))],
        country="Mali/Niger",
    )
    placed = place_shocks(shocks, cells, MONTHS)
    kidal = placed[placed["line"] == 2]["unit_ix"].tolist()
    national = placed[placed["line"] == 3]["unit_ix"].tolist()
    assert len(kidal) == 1 and cells["centroid_lat"].iloc[kidal[0]] > 18  # the Kidal cell only
    assert len(national) == 2  # the two Malian cells; the Niamey cell is in Niger


# --- the time rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("t", ["2014-03", "2015-09", "2017-06"])
@pytest.mark.parametrize("mode", ["removed", "changed"])
def test_shocks_after_t_do_not_move_values_at_t(t, mode):
    t = pd.Timestamp(t)
    rng = np.random.default_rng(5)
    shocks = random_shocks(3, 100)
    late = shocks["date"] >= t + pd.DateOffset(months=1)
    other = shocks[~late]
    if mode == "changed":
        moved = shocks[late].copy()
        moved["kind"] = rng.choice(SHOCK_KINDS, len(moved))
        moved["date"] = rng.permutation(moved["date"].to_numpy())
        extra = moved.assign(region=None, kind="coup")
        other = pd.concat([other, moved, extra], ignore_index=True)
    feats = [
        MonthsSinceShock("coup"),
        MonthsSinceShock(("coup", "other"), "unit"),
        ShockDecay("peace_accord", 3),
        PostShock("coup", 6),
        ShockCount(12),
        ShockCount(3, "election", "national"),
    ]
    a, b = context(shocks), context(other)
    upto = MONTHS <= t
    changed = False
    for f in feats:
        np.testing.assert_array_equal(a.get(f)[:, upto], b.get(f)[:, upto], err_msg=f.name)
        changed |= not np.array_equal(a.get(f)[:, ~upto], b.get(f)[:, ~upto])
    assert changed


def test_a_shock_counts_in_its_own_month():
    shocks = pd.DataFrame(
        {
            "date": [pd.Timestamp("2015-03-31")],
            "country": "Mali",
            "region": None,
            "kind": "coup",
            "actor": None,
            "description": "t",
            "source": "t",
        }
    )
    ctx = context(shocks)
    j = MONTHS.get_loc(pd.Timestamp("2015-03-01"))
    since = ctx.get(MonthsSinceShock("coup"))
    assert (since[:10, j] == 0).all() and (since[:10, j - 1] == 120).all() and (since[10:] == 120).all()
    post = ctx.get(PostShock("coup", 6))
    assert post[0, j : j + 6].tolist() == [1.0] * 6 and post[0, j + 6] == 0 and post[0, j - 1] == 0


# --- bad input -----------------------------------------------------------------------------


def test_unknown_kind_names_row_and_field():
    shocks = random_shocks(0, 5)
    shocks.loc[3, "kind"] = "invasion"
    with pytest.raises(InputError) as exc:
        place_shocks(shocks, units_admin1(), MONTHS)
    assert exc.value.row == 5 and exc.value.column == "kind"
    assert "unknown shock kind 'invasion'" in str(exc.value)


def test_bad_parameters():
    with pytest.raises(FeatureError) as exc:
        ShockDecay("coup", 0)
    assert exc.value.param == "halflife"
    with pytest.raises(FeatureError, match="kind must be"):
        MonthsSinceShock("putsch")
    with pytest.raises(FeatureError, match="scope must be"):
        PostShock("coup", 3, scope="regional")


def test_halflife_zero_in_a_feature_set_names_file_and_key(tmp_path):
    from riskcast.features.spec import load_feature_set

    f = tmp_path / "shocks.toml"
    f.write_text('name = "s"\n[[features]]\nfeature = "ShockDecay"\nkind = "coup"\nhalflife = [3, 0]\n')
    with pytest.raises(ConfigError) as exc:
        load_feature_set(f)
    assert exc.value.file == str(f) and exc.value.key == "features[0].halflife"


def test_names_and_words():
    assert MonthsSinceShock("coup").name == "months_since_shock_coup"
    assert ShockDecay(["withdrawal_announced", "withdrawal_completed"], 6).name == (
        "shock_decay_kindwithdrawal_announced_withdrawal_completed_halflife6"
    )
    assert PostShock("coup", 6).describe() == "1 in the month of a coup and the 5 months after it"
    assert ShockCount(12).family == "shocks"
