"""Presence features: placement on units, each feature against a plain-loop oracle, the time rule, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.facts import load_regions
from riskcast.features import Change, FeatureContext, SpatialLag
from riskcast.features.context import build_context
from riskcast.features.presence import (
    Bases,
    MonthsSinceArrival,
    MonthsSinceDeparture,
    Present,
    Troops,
    Withdrawal,
    place_presence,
)
from riskcast.regions import Gazetteer, normalise_name

MONTHS = pd.date_range("2014-01", "2017-12", freq="MS")
# (country, region, location, lat, lon): towns of the curated tables; Burkina is not in the run.
PLACES = [
    ("Mali", "Gao", "Gao", 16.27, -0.04),
    ("Mali", "Gao", "Ansongo", 15.66, 0.5),
    ("Mali", "Kidal", "Kidal", 18.44, 1.41),
    ("Mali", "Kidal", "Tessalit", 20.2, 1.01),
    ("Mali", "Tombouctou", "Tombouctou", 16.77, -3.01),
    ("Mali", "Mopti", "Sévaré", 14.53, -4.1),
    ("Niger", "Niamey", "Niamey", 13.48, 2.18),
    ("Niger", "Agadez", "Agadez", 16.96, 8.0),
    ("Burkina Faso", "Centre", "Ouagadougou", 12.37, -1.52),
]
FORCES = ["France", "MINUSMA", "Wagner"]


def units_admin1(countries=("Mali", "Niger")) -> pd.DataFrame:
    """The curated admin-1 units of ``countries``, neighbours kept within them (as ingest does)."""
    units = load_regions("admin1", list(countries))
    keep = set(units["unit_id"])
    units["neighbours"] = (
        units["neighbours"].fillna("").map(lambda s: "|".join(n for n in s.split("|") if n in keep))
    )
    return units


def random_presence(seed: int) -> pd.DataFrame:
    """Ragged, gapped, back-to-back and ongoing rows; some before or after the panel; NaN troops."""
    rng = np.random.default_rng(seed)
    rows = []
    for force in FORCES:
        for place in PLACES:
            if rng.random() < 0.35:
                continue
            m = pd.Timestamp("2011-06-01") + pd.DateOffset(months=int(rng.integers(0, 40)))
            while m < pd.Timestamp("2019-01-01"):
                length = int(rng.integers(1, 20))
                end = m + pd.DateOffset(months=length - 1)
                ongoing = rng.random() < 0.15
                troops = np.nan if rng.random() < 0.3 else float(rng.integers(50, 3000))
                rows.append(
                    (
                        force if rng.random() < 0.8 else force.upper(),
                        *place[:3],
                        place[3],
                        place[4],
                        m,
                        pd.NaT if ongoing else end,
                        troops,
                        "test",
                    )
                )
                if ongoing:
                    break
                m = end + pd.DateOffset(months=int(rng.choice([1, 1, 2, 5, 13])))  # 1 = back to back
    cols = [
        "force",
        "country",
        "region",
        "location",
        "latitude",
        "longitude",
        "start_month",
        "end_month",
        "troops",
        "source",
    ]
    return pd.DataFrame(rows, columns=cols).sample(frac=1, random_state=seed).reset_index(drop=True)


def context(presence: pd.DataFrame, units: pd.DataFrame | None = None) -> FeatureContext:
    units = units_admin1() if units is None else units
    n = (len(units), len(MONTHS))
    return build_context(
        units=units,
        months=MONTHS,
        neighbours=Gazetteer(units).neighbour_matrix(),
        arrays={"n_target": np.zeros(n)},
        events=pd.DataFrame(columns=["unit_id", "date"]),
        presence=presence,
    )


# --- the oracle: plain loops over units, months and rows ----------------------------------


def _ord(ts) -> int:
    return pd.Timestamp(ts).year * 12 + pd.Timestamp(ts).month - 1


def oracle(
    presence: pd.DataFrame, units: pd.DataFrame, force: str | None, cap: int = 120, halflife: float = 6.0
):
    names = [normalise_name(x) for x in units["name"]]
    first = min(_ord(s) for s in presence["start_month"])
    panel = [_ord(m) for m in MONTHS]
    out = {
        k: np.zeros((len(units), len(MONTHS)))
        for k in ("troops", "present", "bases", "arrival", "departure", "withdrawal")
    }

    def covering(u, m):
        hits = []
        for r in presence.itertuples(index=False):
            if force is not None and r.force.casefold() != force.casefold():
                continue
            if r.country not in ("Mali", "Niger") or normalise_name(r.region) != names[u]:
                continue
            end = panel[-1] if pd.isna(r.end_month) else _ord(r.end_month)
            if _ord(r.start_month) <= m <= end:
                hits.append(r)
        return hits

    for u in range(len(units)):
        present = {m: bool(covering(u, m)) for m in range(first - 1, panel[-1] + 1)}
        for j, m in enumerate(panel):
            rows = covering(u, m)
            out["troops"][u, j] = sum(0.0 if pd.isna(r.troops) else r.troops for r in rows)
            out["present"][u, j] = float(bool(rows))
            out["bases"][u, j] = len({normalise_name(r.location) for r in rows})
            if rows:
                s = m
                while present[s - 1]:
                    s -= 1
                out["arrival"][u, j] = min(m - s, cap)
                out["departure"][u, j] = cap
            else:
                out["arrival"][u, j] = cap
                last = [s for s in range(first, m) if present[s]]
                out["departure"][u, j] = min(m - last[-1], cap) if last else cap
                out["withdrawal"][u, j] = 2.0 ** (-(m - last[-1]) / halflife) if last else 0.0
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("force", [None, "France", "minusma"])
def test_features_match_the_oracle(seed, force):
    presence = random_presence(seed)
    ctx = context(presence)
    want = oracle(presence, ctx.units, force, cap=24, halflife=4.0)
    np.testing.assert_allclose(ctx.get(Troops(force)), want["troops"])
    np.testing.assert_array_equal(ctx.get(Present(force)), want["present"])
    np.testing.assert_array_equal(ctx.get(Bases(force)), want["bases"])
    np.testing.assert_array_equal(ctx.get(MonthsSinceArrival(force, cap=24)), want["arrival"])
    np.testing.assert_array_equal(ctx.get(MonthsSinceDeparture(force, cap=24)), want["departure"])
    np.testing.assert_allclose(ctx.get(Withdrawal(force, halflife=4.0)), want["withdrawal"])
    assert want["present"].any() and (want["present"] == 0).any()


def test_composition_with_change_and_spatial_lag():
    presence = random_presence(3)
    ctx = context(presence)
    troops = ctx.get(Troops())
    change = ctx.get(Change(of=Troops()))
    np.testing.assert_allclose(change[:, 1:], troops[:, 1:] - troops[:, :-1])
    np.testing.assert_allclose(
        ctx.get(SpatialLag(of=Present("France"))), ctx.neighbours @ ctx.get(Present("France"))
    )
    assert Change(of=Troops("France")).name == "change_of_troops_force_france"


def test_placement_columns_and_unplaced_counts():
    presence = random_presence(0)
    placed = place_presence(presence, units_admin1(), MONTHS)
    assert list(placed.columns[:4]) == ["force", "force_key", "unit_ix", "start_ix"]
    assert (
        placed["start_ix"].between(0, len(MONTHS) - 1).all()
        and placed["end_ix"].between(-1, len(MONTHS) - 1).all()
    )
    starts = presence["start_month"]
    n_after = int((starts > MONTHS[-1]).sum())
    n_burkina = int(((presence["country"] == "Burkina Faso") & (starts <= MONTHS[-1])).sum())
    assert placed.attrs["unplaced"] == {
        k: v
        for k, v in {"country not in the run": n_burkina, "starts after the panel end": n_after}.items()
        if v
    }
    assert len(placed) == len(presence) - n_burkina - n_after
    ongoing = presence.index[
        presence["end_month"].isna() & (starts <= MONTHS[-1]) & (presence["country"] != "Burkina Faso")
    ]
    assert (placed.set_index("line").loc[ongoing + 2, "end_ix"] == len(MONTHS) - 1).all()


# --- the time rule ---------------------------------------------------------------------------


def _after_t(presence: pd.DataFrame, t: pd.Timestamp, mode: str, rng) -> pd.DataFrame:
    """Rows starting after t removed or moved; end_months after t changed (still after t)."""
    p = presence.copy()
    late = p["start_month"] > t
    straddle = ~late & (p["end_month"].isna() | (p["end_month"] > t))
    if mode == "removed":
        p = p[~late]
        p.loc[straddle[~late], "end_month"] = pd.NaT
        return p
    p.loc[straddle, "end_month"] = t + pd.DateOffset(months=1)
    shift = pd.DateOffset(months=3)
    p.loc[late, "start_month"] = p.loc[late, "start_month"] + shift
    p.loc[late, "end_month"] = p.loc[late, "end_month"] + shift
    p.loc[late, "troops"] = rng.integers(0, 9000, int(late.sum())).astype(float)
    new = pd.DataFrame(
        {
            "force": "Newcomers",
            "country": "Mali",
            "region": ["Kayes", "Gao"],
            "location": ["Kayes", "Gao"],
            "latitude": np.nan,
            "longitude": np.nan,
            "start_month": t + pd.DateOffset(months=1),
            "end_month": pd.NaT,
            "troops": 500.0,
            "source": "test",
        }
    )
    return pd.concat([p, new], ignore_index=True)


@pytest.mark.parametrize("t", ["2014-06", "2015-11", "2017-02"])
@pytest.mark.parametrize("mode", ["removed", "changed"])
def test_nothing_after_t_moves_values_at_t(t, mode):
    t = pd.Timestamp(t)
    presence = random_presence(4)
    feats = [
        Troops(),
        Present(),
        Bases(),
        MonthsSinceArrival(),
        MonthsSinceDeparture(),
        Withdrawal(),
        Troops("France"),
        Withdrawal("MINUSMA", halflife=2.0),
        Change(of=Troops()),
        SpatialLag(of=Withdrawal()),
    ]
    a, b = context(presence), context(_after_t(presence, t, mode, np.random.default_rng(0)))
    upto = MONTHS <= t
    moved = False
    for f in feats:
        np.testing.assert_array_equal(a.get(f)[:, upto], b.get(f)[:, upto], err_msg=f.name)
        moved |= not np.array_equal(a.get(f)[:, ~upto], b.get(f)[:, ~upto])
    assert moved  # the change after t is real


# --- other levels --------------------------------------------------------------------------


def test_admin2_points_go_to_the_nearest_cercle_of_their_region_and_regions_to_all_cercles():
    units = load_regions("admin2")
    p = pd.DataFrame(
        {
            "force": ["MINUSMA", "MINUSMA", "France"],
            "country": "Mali",
            "region": ["Tombouctou", "Gao", "Kidal"],
            "location": ["Léré", None, "Aguelhok"],
            "latitude": [15.72, np.nan, 19.46],
            "longitude": [-4.91, np.nan, 0.86],
            "start_month": pd.Timestamp("2015-01-01"),
            "end_month": pd.NaT,
            "troops": [90.0, 300.0, np.nan],
            "source": "t",
        }
    )
    placed = place_presence(p, units, MONTHS)
    ids = units["unit_id"].to_numpy()
    by_line = placed.groupby("line")["unit_ix"].apply(lambda s: sorted(ids[s]))
    assert by_line[2] == ["ML0604"]  # Niafunké: nearest cercle of Tombouctou (Youwarou, in Mopti, is nearer)
    assert by_line[3] == sorted(units.loc[units["parent"] == "ML07", "unit_id"])  # every cercle of Gao
    assert by_line[4] == ["ML0803"]  # Tessalit
    assert placed.loc[placed["line"] == 3, "troops"].sum() == pytest.approx(300.0)  # split, not repeated


def test_admin1_points_without_region_use_the_nearest_cercles_parent():
    p = pd.DataFrame(
        {
            "force": "MINUSMA",
            "country": "Mali",
            "region": None,
            "location": ["Gossi", "Tombouctou (Timbuktu)"],
            "latitude": [15.82, 16.77],
            "longitude": [-1.3, -3.01],
            "start_month": pd.Timestamp("2015-01-01"),
            "end_month": pd.NaT,
            "troops": 1.0,
            "source": "t",
        }
    )
    units = units_admin1()
    placed = place_presence(p, units, MONTHS)
    assert units["unit_id"].to_numpy()[placed["unit_ix"]].tolist() == ["ML06", "ML06"]


def test_priogrid_by_gid_or_coordinates():
    from riskcast.regions import priogrid_gazetteer, priogrid_gid

    gids = [int(priogrid_gid(16.27, -0.04)), int(priogrid_gid(18.44, 1.41))]
    units = priogrid_gazetteer(gids, country="Mali/Niger")
    p = pd.DataFrame(
        {
            "force": "MINUSMA",
            "country": "Mali",
            "region": ["Gao", "Kidal", "Gao"],
            "location": ["Gao", "Kidal", "x"],
            "latitude": [16.27, np.nan, np.nan],
            "longitude": [-0.04, np.nan, np.nan],
            "start_month": pd.Timestamp("2015-01-01"),
            "end_month": pd.NaT,
            "troops": 1.0,
            "source": "t",
            "priogrid_gid": pd.array([None, gids[1], None], dtype="Int64"),
        }
    )
    placed = place_presence(p, units, MONTHS)
    assert placed["unit_ix"].tolist() == [0, 1]
    assert placed.attrs["unplaced"] == {"no coordinates or priogrid_gid (needed for PRIO-GRID units)": 1}


# --- bad input -----------------------------------------------------------------------------


def test_overlapping_rows_name_the_csv_lines_and_fields():
    p = random_presence(0).iloc[:10].copy()
    p["force"] = [f"F{i}" for i in range(10)]
    p.loc[2, ["force", "country", "region", "location", "start_month", "end_month"]] = [
        "France",
        "Mali",
        "Gao",
        "Gao",
        pd.Timestamp("2014-08-01"),
        pd.Timestamp("2022-08-01"),
    ]
    p.loc[7, ["force", "country", "region", "location", "start_month", "end_month"]] = [
        "france",
        "Mali",
        "Gao",
        "GAO",
        pd.Timestamp("2020-01-01"),
        pd.Timestamp("2020-06-01"),
    ]
    with pytest.raises(InputError) as exc:
        place_presence(p, units_admin1(), MONTHS)
    assert exc.value.detail.startswith(
        "presence rows 4 and 9 overlap for force 'france' at 'GAO' (2014-08..2022-08 and 2020-01..2020-06)"
    )
    assert exc.value.row == 9 and exc.value.column == "start_month/end_month"


def test_back_to_back_rows_do_not_overlap_but_an_ongoing_row_does():
    base = dict(
        force="France",
        country="Mali",
        region="Gao",
        location="Gao",
        latitude=np.nan,
        longitude=np.nan,
        troops=1.0,
        source="t",
    )
    ok = pd.DataFrame(
        [
            {**base, "start_month": pd.Timestamp("2014-01-01"), "end_month": pd.Timestamp("2014-05-01")},
            {**base, "start_month": pd.Timestamp("2014-06-01"), "end_month": pd.NaT},
        ]
    )
    place_presence(ok, units_admin1(), MONTHS)
    bad = pd.DataFrame(
        [
            {**base, "start_month": pd.Timestamp("2014-01-01"), "end_month": pd.NaT},
            {**base, "start_month": pd.Timestamp("2016-06-01"), "end_month": pd.Timestamp("2016-07-01")},
        ]
    )
    with pytest.raises(InputError, match=r"rows 2 and 3 overlap .*\(2014-01..ongoing and 2016-06..2016-07\)"):
        place_presence(bad, units_admin1(), MONTHS)


def test_unknown_region_is_counted_not_silent():
    p = pd.DataFrame(
        {
            "force": "France",
            "country": "Mali",
            "region": ["Atlantis"],
            "location": ["x"],
            "latitude": np.nan,
            "longitude": np.nan,
            "start_month": pd.Timestamp("2015-01-01"),
            "end_month": pd.NaT,
            "troops": 1.0,
            "source": "t",
        }
    )
    placed = place_presence(p, units_admin1(), MONTHS)
    assert placed.empty and placed.attrs["unplaced"] == {"no unit named 'Atlantis' in Mali": 1}


def test_halflife_zero_in_a_feature_set_names_file_and_key(tmp_path):
    from riskcast.errors import ConfigError
    from riskcast.features.spec import load_feature_set

    f = tmp_path / "bad.toml"
    f.write_text(
        'name = "bad"\n[[features]]\nfeature = "Present"\n[[features]]\nfeature = "Withdrawal"\nforce = "France"\nhalflife = 0\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_feature_set(f)
    assert exc.value.file == str(f) and exc.value.key == "features[1].halflife"
    assert "halflife must be > 0, got 0" in str(exc.value)


def test_a_neighbour_naming_an_unknown_unit_is_named():
    regions = load_regions("admin1", ["Mali"])
    regions.loc[0, "neighbours"] = "ML02|ML99"
    with pytest.raises(ValueError, match=r"unit 'ML01' lists neighbour 'ML99', which is not a unit"):
        Gazetteer(regions).neighbour_matrix()


def test_describe_in_plain_words():
    assert Withdrawal("France").describe().startswith("fading signal of France having left the unit")
    assert Present().name == "present" and Present("MINUSMA").name == "present_force_minusma"
    assert Troops("France").family == "presence"
