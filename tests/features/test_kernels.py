"""The fast kernels and shortcuts against their plain definitions, bit for bit.

Each definition below is the obvious whole-array numpy expression (the implementation the
kernels replaced). The fast paths work by row blocks, by doubling, by lookup tables, on the
distinct rows of a grid or the distinct strings of a column; they must give the same float64
values to the bit (compared as integers), also on NaN, -0.0, infinities, non-contiguous arrays
and windows longer than the panel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from riskcast.config import TargetSpec
from riskcast.features import Escalation, FeatureContext, Indicator, Rolling
from riskcast.features import kernels as K
from riskcast.features.context import _month_ix, _place_events, _target_flags
from riskcast.features.presence import _coverage
from riskcast.features.selection import _factorize, event_counts, str_codes
from riskcast.features.shocks import _expand, _hits
from riskcast.panel import target_mask, to_month

# --- the definitions ------------------------------------------------------------------------


def lag_def(x, k):
    out = np.zeros_like(x)
    if k < x.shape[1]:
        out[:, k:] = x[:, : x.shape[1] - k]
    return out


def rolling_sum_def(x, w):
    c = np.cumsum(x, axis=1)
    out = c.copy()
    out[:, w:] = c[:, w:] - c[:, :-w]
    return out


def rolling_max_def(x, w):
    pad = np.concatenate([np.full((x.shape[0], w - 1), -np.inf), x], axis=1)
    out = sliding_window_view(pad, w, axis=1).max(axis=2)
    return np.where(np.isneginf(out), 0.0, out)


def last_hit_def(hit):
    months = np.arange(hit.shape[1])
    last = np.maximum.accumulate(np.where(hit, months, -1), axis=1)
    return months, last


def months_since_def(hit, cap):
    months, last = last_hit_def(hit)
    return np.where(last < 0, cap, np.minimum(months - last, cap)).astype(float)


def decay_def(hit, halflife):
    months, last = last_hit_def(hit)
    out = np.exp2(-(months - last).astype(float) / halflife)
    out[last < 0] = 0.0
    return out


def onset_def(x, quiet):
    before = rolling_sum_def(lag_def((x != 0).astype(float), 1), quiet)
    return ((x > 0) & (before == 0)).astype(float)


def assert_bits(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.int64), b.view(np.int64))


def arrays(seed: int):
    """Counts, real values, and real values with NaN, +-0.0, +-inf; C, Fortran and sliced."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in [(9, 40), (3, 1), (1, 7), (70, 33)]:
        counts = rng.poisson(0.7, shape).astype(float)
        real = counts * rng.normal(size=shape)
        odd = real.copy().reshape(-1)
        idx = rng.choice(odd.size, max(4, odd.size // 8))
        odd[idx] = np.resize([np.nan, -0.0, 0.0, np.inf, -np.inf], len(idx))
        odd = odd.reshape(shape)
        out += [counts, real, odd, -counts, np.asfortranarray(real)]
        if shape[1] > 2:
            out.append(odd[:, 1:])
    return out


WINDOWS = [1, 2, 3, 5, 12, 13, 64, 500]


@pytest.mark.parametrize("seed", [0, 1])
def test_window_kernels_match_their_definitions(seed):
    with np.errstate(invalid="ignore"):
        for x in arrays(seed):
            for w in WINDOWS:
                assert_bits(K.lag(x, w), lag_def(x, w))
                assert_bits(K.change(x, w), x - lag_def(x, w))
                assert_bits(K.rolling_sum(x, w), rolling_sum_def(x, w))
                assert_bits(K.rolling_sum(x, w, divide=w), rolling_sum_def(x, w) / w)
                assert_bits(K.window_sum(K.running_total(x), w), rolling_sum_def(x, w))
                assert_bits(K.window_sum(K.running_total(x), w, divide=w), rolling_sum_def(x, w) / w)
                assert_bits(K.rolling_max(x, w), rolling_max_def(x, w))
                assert_bits(K.onset(x, w), onset_def(x, w))


@pytest.mark.parametrize("seed", [0, 1])
def test_months_since_and_decay_match_their_definitions(seed):
    for x in arrays(seed):
        hit = x > 0
        for cap in [1, 3, 12, 120, 10**6]:
            assert_bits(K.months_since(hit, cap), months_since_def(hit, cap))
            assert_bits(K.months_since(K.AboveZero(x), cap), months_since_def(hit, cap))
        for halflife in [1e-3, 0.5, 3, 6.5, 12, 1e9]:
            assert_bits(K.decay_since(K.AboveZero(x), halflife), decay_def(hit, halflife))
        start = min(3, x.shape[1])
        assert_bits(K.decay_since(hit, 6, start=start), decay_def(hit, 6)[:, start:])


def test_blocks_of_rows_do_not_change_values(monkeypatch):
    """A block of one row and a block of everything give the same values."""
    x = arrays(2)[2]
    for size in (1, 1 << 30):
        monkeypatch.setattr(K, "BLOCK_BYTES", size)
        with np.errstate(invalid="ignore"):
            assert_bits(K.rolling_sum(x, 5), rolling_sum_def(x, 5))
            assert_bits(K.rolling_max(x, 6), rolling_max_def(x, 6))
            assert_bits(K.months_since(x > 0, 7), months_since_def(x > 0, 7))
            assert_bits(K.onset(x, 4), onset_def(x, 4))


def test_indicator_and_escalation_match_their_definitions():
    for x in arrays(3):
        n_u, n_m = x.shape
        ctx = FeatureContext(
            units=pd.DataFrame({"unit_id": [f"U{i}" for i in range(n_u)]}),
            months=pd.date_range("2000-01", periods=n_m, freq="MS"),
            neighbours=None,
            arrays={"n_target": np.ascontiguousarray(x)},
        )
        with np.errstate(invalid="ignore"):
            assert_bits(ctx.get(Indicator(2)), (x >= 2).astype(float))
            for factor, window in [(2.0, 12), (0.3, 1), (1.5, 100)]:
                before = rolling_sum_def(lag_def(x, 1), window) / window
                want = ((x >= 1) & (x > factor * before)).astype(float)
                assert_bits(ctx.get(Escalation(factor, window)), want)
            assert_bits(ctx.get(Rolling(4, "mean")), rolling_sum_def(x, 4) / 4)


# --- strings and events ---------------------------------------------------------------------


def test_str_codes_point_at_the_strings_of_astype_str():
    rng = np.random.default_rng(4)
    words = np.array(["Battles", "Riots", "battles", "", "Protests"], dtype=object)
    plain = pd.Series(words[rng.integers(0, 5, 300)], dtype=object)
    gappy = plain.copy()
    gappy[rng.choice(300, 20)] = None
    gappy[rng.choice(300, 20)] = np.nan
    mixed = plain.copy()
    mixed[rng.choice(300, 10)] = 1.0
    # Equal strings in distinct objects (as a reader that does not reuse them would give).
    copies = pd.Series(["".join(list(w)) for w in plain], dtype=object)
    assert copies[0] is not plain[0] or len(plain[0]) < 2
    for column in (plain, gappy, mixed, copies, plain.astype("category"), plain.iloc[:0]):
        codes, uniques = _factorize(column)
        want_codes, want_uniques = pd.factorize(column)
        np.testing.assert_array_equal(codes, want_codes)
        assert list(uniques) == list(np.asarray(want_uniques, dtype=object))
    for column in (plain, gappy, mixed, copies, plain.astype("category")):
        for fill in (None, ""):
            codes, uniques = str_codes(column, fill)
            want = (column.fillna(fill) if fill is not None else column).astype(str).to_numpy()
            assert list(uniques[codes]) == list(want)


def random_events(seed: int, n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame, pd.DatetimeIndex]:
    rng = np.random.default_rng(seed)
    units = pd.DataFrame({"unit_id": [f"U{i}" for i in range(6)]})
    months = pd.date_range("2015-01", periods=30, freq="MS")
    types = np.array(["Battles", "Riots", "Violence against civilians", "Protests"], dtype=object)
    actors = np.array(["JNIM", "Dozo militia", "Military Forces of Mali", None, np.nan], dtype=object)
    events = pd.DataFrame(
        {
            "unit_id": rng.choice(["U0", "U1", "U2", "U3", "U4", "U5", "U9"], n),
            "date": pd.Timestamp("2014-10-01") + pd.to_timedelta(rng.integers(0, 1100, n), unit="D"),
            "event_type": types[rng.integers(0, 4, n)],
            "actor1": actors[rng.integers(0, 5, n)],
            "actor2": actors[rng.integers(0, 5, n)],
            "fatalities": rng.poisson(2, n),
        },
        index=np.arange(n) * 3 + 5,
    )
    return events, units, months


TARGETS = [
    TargetSpec(),
    TargetSpec(actors=["JNIM", "militia", "none", "nan"]),
    TargetSpec(min_fatalities=2),
    TargetSpec(actors=["mali"], min_fatalities=1),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_placed_events_match_the_definition(seed):
    """_place_events + _target_flags = assign the indices, keep the rows inside, target_mask."""
    events, units, months = random_events(seed)
    if seed == 1:
        events.loc[events.index[:5], "event_type"] = None  # a missing type reads "None"
    if seed == 2:
        events["date"] = events["date"].dt.strftime("%Y-%m-%d")  # strings go the general way
    before = events.copy()
    unit_ix = pd.Index(units["unit_id"])
    for target in TARGETS:
        want = events.assign(
            unit_ix=unit_ix.get_indexer(events["unit_id"].astype(str)),
            month_ix=months.get_indexer(to_month(events["date"])),
        )
        want = want[(want["unit_ix"] >= 0) & (want["month_ix"] >= 0)].copy()
        want["is_target"] = target_mask(want, target).to_numpy()
        got = _place_events(events, unit_ix, months)
        ctx = FeatureContext(units=units, months=months, neighbours=None, events=got)
        got["is_target"] = _target_flags(ctx, target)
        pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_exact=True)
    pd.testing.assert_frame_equal(events, before)  # the caller's table is untouched


@pytest.mark.parametrize("start", ["1965-11", "2015-01"])
def test_month_index_of_any_instant(start):
    """Times of day, the last nanosecond of a month, dates before 1970, outside the panel, NaT."""
    rng = np.random.default_rng(9)
    months = pd.date_range(start, periods=30, freq="MS")
    ns = rng.integers(-400, 1300, 2000) * 86_400 * 10**9 + rng.integers(0, 86_400 * 10**9, 2000)
    dates = pd.Series(months[0] + pd.to_timedelta(ns))
    dates.iloc[:30] = months - pd.Timedelta(1, "ns")
    dates.iloc[30:60] = months
    dates.iloc[60:65] = pd.NaT
    want = months.get_indexer(to_month(dates))
    np.testing.assert_array_equal(_month_ix(dates, months), want)
    assert (want == -1).any() and (want >= 0).any()


@pytest.mark.filterwarnings("ignore:Converting to PeriodArray")
def test_month_index_takes_the_general_path_for_time_zones_and_odd_months():
    events, _, months = random_events(3)
    dates = events["date"].dt.tz_localize("UTC")
    np.testing.assert_array_equal(_month_ix(dates, months), months.get_indexer(to_month(dates)))
    odd = months[::2]
    np.testing.assert_array_equal(_month_ix(events["date"], odd), odd.get_indexer(to_month(events["date"])))


def test_event_counts_are_the_grid_of_the_selected_rows():
    rng = np.random.default_rng(8)
    n = 500
    events = pd.DataFrame(
        {
            "unit_ix": rng.integers(0, 6, n),
            "month_ix": rng.integers(0, 20, n),
            "fatalities": rng.choice([0.0, 1.0, 2.5, -0.0, np.nan, 7.0], n),
        }
    )
    ctx = FeatureContext(
        units=pd.DataFrame({"unit_id": range(6)}),
        months=pd.date_range("2010-01", periods=20, freq="MS"),
        neighbours=None,
        events=events,
    )
    mask = rng.random(n) < 0.4
    fat = events["fatalities"].to_numpy()
    assert_bits(event_counts(ctx, mask), ctx.grid(events[mask]))
    assert_bits(event_counts(ctx, mask, fat), ctx.grid(events[mask], fat[mask]))
    outside = events.assign(month_ix=np.where(np.arange(n) == 3, 25, events["month_ix"]))
    ctx = FeatureContext(units=ctx.units, months=ctx.months, neighbours=None, events=outside)
    keep = mask & (np.arange(n) != 3)
    assert_bits(event_counts(ctx, keep, fat), ctx.grid(outside[keep], fat[keep]))
    with pytest.raises(IndexError, match="outside"):
        event_counts(ctx, np.arange(n) == 3)


# --- distinct rows --------------------------------------------------------------------------


def test_shock_rows_shared_by_units_are_the_full_grid():
    """Units whose shocks fall in the same months share a row; expanded, the rows are the grid."""
    rng = np.random.default_rng(6)
    n_u, n_m = 12, 30
    # National shocks: every unit of a country (0-7 or 8-11) in the shock's month; regional: one unit.
    country = [np.arange(8), np.arange(8, 12)]
    rows = []
    for line in range(2, 40):
        national = rng.random() < 0.6
        units = country[int(rng.integers(0, 2))] if national else [int(rng.integers(0, n_u))]
        kind, month = rng.choice(["coup", "peace_accord"]), int(rng.integers(-6, n_m))
        rows += [(kind, u, month, national, line) for u in units]
    shocks = pd.DataFrame(rows, columns=["kind", "unit_ix", "month_ix", "national", "line"])
    shocks = pd.concat([shocks, shocks.iloc[:5]], ignore_index=True)  # the same shock twice
    ctx = FeatureContext(
        units=pd.DataFrame({"unit_id": range(n_u)}),
        months=pd.date_range("2010-01", periods=n_m, freq="MS"),
        neighbours=None,
        shocks=shocks,
    )
    for kind, scope in [(None, "any"), ("coup", "national"), ("peace_accord", "unit"), ("coup", "any")]:
        t = shocks if kind is None else shocks[shocks["kind"] == kind]
        t = t if scope == "any" else t[t["national"] == (scope == "national")]
        pad = int(max(0, -t["month_ix"].min()))
        want = np.zeros((n_u, pad + n_m))
        np.add.at(want, (t["unit_ix"].to_numpy(), t["month_ix"].to_numpy() + pad), 1.0)
        rows, group, got_pad = _hits(ctx, kind, scope)
        assert got_pad == pad and len(rows) < n_u
        assert_bits(_expand(rows, group), want)


def test_presence_coverage_on_the_units_with_rows_is_the_full_grid():
    rng = np.random.default_rng(7)
    n_u, n_m = 50, 24
    start = rng.integers(-10, n_m, 40)
    presence = pd.DataFrame(
        {
            "force": rng.choice(["France", "MINUSMA"], 40),
            "unit_ix": rng.integers(0, 8, 40),
            "start_at": start,
            "end_at": np.minimum(start + rng.integers(0, 12, 40), n_m - 1),
        }
    ).assign(force_key=lambda d: d["force"].str.casefold(), start_ix=0, end_ix=0)
    ctx = FeatureContext(
        units=pd.DataFrame({"unit_id": range(n_u)}),
        months=pd.date_range("2010-01", periods=n_m, freq="MS"),
        neighbours=None,
        presence=presence,
    )
    for force in (None, "France"):
        t = presence if force is None else presence[presence["force_key"] == force.casefold()]
        pad = int(max(0, -t["start_at"].min()))
        diff = np.zeros((n_u, pad + n_m + 1))
        np.add.at(diff, (t["unit_ix"].to_numpy(), t["start_at"].to_numpy() + pad), 1.0)
        np.add.at(diff, (t["unit_ix"].to_numpy(), t["end_at"].to_numpy() + pad + 1), -1.0)
        want = np.cumsum(diff[:, :-1], axis=1) > 0.5
        units, rows, got_pad = _coverage(ctx, force)
        full = np.zeros_like(want)
        full[units] = rows
        assert got_pad == pad and len(units) <= 8
        np.testing.assert_array_equal(full, want)
