"""The score cache: a hit needs every key part equal and a file stamped with that key; chunked scoring."""

from __future__ import annotations

import dataclasses
import shutil

import pandas as pd
import pytest

from riskcast.scoring import score_month, write_scores
from riskcast.scoring_cache import ScoreKey, cache_file, cached_score, frame_hash, score_key
from riskcast.tracking.bundle import ForecastBundle
from tests.tracking._models import FEATURES, BareModel, ContractModel, tiny_panel

KEY = ScoreKey(
    model_name="riskcast",
    model_version="7",
    data_hash="abc",
    as_of="2021-12",
    features_hash="f0",
    settings="s0",
)


@pytest.fixture
def setup():
    panel = tiny_panel(n_units=9)
    rows = panel[panel["month"] == panel["month"].max()].reset_index(drop=True)
    model = ContractModel(columns=("a", "b", "c")).fit(panel[FEATURES], panel["y"])
    bundle = ForecastBundle({1: model, 3: BareModel(p=0.55)}, FEATURES, "contract")
    return bundle, rows


def _score(bundle, rows, **kw):
    return score_month(
        bundle, rows, as_of="2021-12", model_name="riskcast", model_version=7, data_hash="abc", **kw
    )


class Counter:
    def __init__(self, df: pd.DataFrame) -> None:
        self.df, self.calls = df, 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        return self.df


def test_second_call_is_a_hit_with_identical_bytes(tmp_path, setup):
    bundle, rows = setup
    compute = Counter(_score(bundle, rows))
    first, hit1 = cached_score(tmp_path / "score_cache", KEY, compute)
    second, hit2 = cached_score(tmp_path / "score_cache", KEY, compute)
    assert (hit1, hit2, compute.calls) == (False, True, 1)
    pd.testing.assert_frame_equal(first, second)
    for suffix in (".csv", ".json", ".parquet"):
        a, b = write_scores(first, tmp_path / f"a{suffix}"), write_scores(second, tmp_path / f"b{suffix}")
        assert a.read_bytes() == b.read_bytes(), suffix


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(ScoreKey)])
def test_any_key_part_differing_recomputes(tmp_path, setup, field):
    bundle, rows = setup
    compute = Counter(_score(bundle, rows))
    cached_score(tmp_path, KEY, compute)
    other = dataclasses.replace(KEY, **{field: getattr(KEY, field) + "x"})
    _, hit = cached_score(tmp_path, other, compute)
    assert not hit and compute.calls == 2
    assert cached_score(tmp_path, KEY, compute)[1] and cached_score(tmp_path, other, compute)[1]


def test_score_key_follows_features_ids_and_settings(setup):
    _, rows = setup
    kw = dict(
        model_name="riskcast",
        model_version=7,
        data_hash="abc",
        as_of=pd.Timestamp("2021-12-01"),
        feature_cols=FEATURES,
    )
    base = score_key(rows=rows, **kw)
    assert base.as_of == "2021-12" and base.model_version == "7"
    assert score_key(rows=rows.copy(), **kw) == base
    assert score_key(rows=rows.set_index("unit_id", drop=False), **kw) == base  # the index does not matter
    edited = rows.copy()
    edited.loc[0, "a"] += 1e-9
    assert score_key(rows=edited, **kw).features_hash != base.features_hash
    renamed = rows.assign(unit_name=rows["unit_name"] + "!")
    assert score_key(rows=renamed, **kw).features_hash != base.features_hash
    unused = rows.assign(y=1 - rows["y"])  # not a feature: same scores, same key
    assert score_key(rows=unused, **kw) == base
    assert score_key(rows=rows, top_k=5, **kw).settings != base.settings
    assert score_key(rows=rows, tiers=[("low", 0.0)], **kw).settings != base.settings
    assert frame_hash(rows, ["a"]) != frame_hash(rows, ["b"])


def test_corrupt_cache_file_is_ignored_and_overwritten(tmp_path, setup):
    bundle, rows = setup
    compute = Counter(_score(bundle, rows))
    path = cache_file(tmp_path, KEY)
    path.write_bytes(b"PAR1 not really parquet")
    df, hit = cached_score(tmp_path, KEY, compute)
    assert not hit and compute.calls == 1
    again, hit = cached_score(tmp_path, KEY, compute)
    assert hit and compute.calls == 1
    pd.testing.assert_frame_equal(df, again)


def test_file_stamped_with_another_key_is_not_trusted(tmp_path, setup):
    bundle, rows = setup
    other = dataclasses.replace(KEY, data_hash="zzz")
    stale = Counter(_score(bundle, rows).assign(p=0.0))
    cached_score(tmp_path, other, stale)
    # A file carrying other's key placed where KEY's table belongs (a renamed or colliding file).
    shutil.copy(cache_file(tmp_path, other), cache_file(tmp_path, KEY))
    fresh = Counter(_score(bundle, rows))
    df, hit = cached_score(tmp_path, KEY, fresh)
    assert not hit and fresh.calls == 1 and (df["p"] > 0).all()
    df2, hit = cached_score(tmp_path, KEY, fresh)
    assert hit and fresh.calls == 1
    pd.testing.assert_frame_equal(df, df2)


@pytest.mark.parametrize("chunk_size", [1, 2, 4, 9, 100])
def test_chunked_scoring_equals_unchunked_and_reports_progress(setup, chunk_size):
    bundle, rows = setup
    whole = _score(bundle, rows, chunk_size=10_000)
    seen: list[int] = []
    chunked = _score(bundle, rows, chunk_size=chunk_size, progress=seen.append)
    pd.testing.assert_frame_equal(chunked, whole)
    expected = list(range(chunk_size, len(rows), chunk_size)) + [len(rows)]
    assert seen == expected


def test_chunk_size_must_be_positive(setup):
    bundle, rows = setup
    with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
        _score(bundle, rows, chunk_size=0)
