"""Champion promotion: an alias moves only to a challenger that beats the champion on the same window."""

from __future__ import annotations

import pytest

from riskcast.tracking.registry import (
    TAG_PROMOTION,
    TAG_PROMOTION_REASON,
    get_client,
    promote_if_better,
    set_version_tags,
    version_record,
)

NAME = "riskcast-test"
W1, W2 = "2022-01..2023-12", "2023-01..2024-12"


def _register(client, tmp_path, n: int) -> list[str]:
    """n registered versions pointing at a placeholder artifact folder (no model needed here)."""
    src = tmp_path / "artifact"
    src.mkdir(exist_ok=True)
    client.create_registered_model(NAME)
    return [str(client.create_model_version(NAME, source=src.as_uri()).version) for _ in range(n)]


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def _first(client, version, metrics, window=W1, **kw):
    decision = promote_if_better(client, NAME, version, metrics, window=window, **kw)
    assert decision.promoted
    return decision


def test_first_model_becomes_champion_and_tags_are_written(store, tmp_path):
    client = get_client(store)
    (v1,) = _register(client, tmp_path, 1)
    d = promote_if_better(store, NAME, v1, {"brier": 0.1, "ece": 0.02}, window=W1)
    assert (d.promoted, d.champion_before, d.champion_after) == (True, None, v1)
    assert d.reason == "first model: no champion yet"
    assert _champion(client) == v1
    tags = client.get_model_version(NAME, v1).tags
    assert tags[TAG_PROMOTION] == "promoted" and tags[TAG_PROMOTION_REASON] == d.reason
    assert version_record(client, NAME, v1) == (W1, {"brier": 0.1, "ece": 0.02})


def test_better_challenger_moves_the_alias(store, tmp_path):
    client = get_client(store)
    v1, v2 = _register(client, tmp_path, 2)
    _first(client, v1, {"brier": 0.10, "ece": 0.02})
    d = promote_if_better(client, NAME, v2, {"brier": 0.09, "ece": 0.02}, window=W1)
    assert (d.promoted, d.champion_before, d.champion_after) == (True, v1, v2)
    assert d.reason == "brier 0.09 beats champion v1 (0.1)"
    assert d.metrics == {"challenger": {"brier": 0.09, "ece": 0.02}, "champion": {"brier": 0.10, "ece": 0.02}}
    assert _champion(client) == v2
    # Promotion moves an alias: the versions and their sources are untouched.
    assert client.get_model_version(NAME, v1).source == client.get_model_version(NAME, v2).source


@pytest.mark.parametrize("brier", [0.11, 0.10])  # worse, and a tie (the incumbent stays)
def test_worse_or_equal_challenger_is_refused(store, tmp_path, brier):
    client = get_client(store)
    v1, v2 = _register(client, tmp_path, 2)
    _first(client, v1, {"brier": 0.10, "ece": 0.02})
    d = promote_if_better(client, NAME, v2, {"brier": brier, "ece": 0.01}, window=W1)
    assert (d.promoted, d.champion_before, d.champion_after) == (False, v1, v1)
    assert d.reason == f"brier {brier:g} does not beat champion v1 (0.1)"
    assert _champion(client) == v1
    tags = client.get_model_version(NAME, v2).tags
    assert (tags[TAG_PROMOTION], tags[TAG_PROMOTION_REASON]) == ("refused", d.reason)


def test_higher_is_better_metric(store, tmp_path):
    client = get_client(store)
    v1, v2 = _register(client, tmp_path, 2)
    _first(client, v1, {"auc": 0.70, "ece": 0.02}, metric="auc", lower_is_better=False)
    d = promote_if_better(
        client, NAME, v2, {"auc": 0.72, "ece": 0.02}, metric="auc", lower_is_better=False, window=W1
    )
    assert d.promoted and _champion(client) == v2


def test_worse_calibration_is_refused_unless_within_tolerance(store, tmp_path):
    client = get_client(store)
    v1, v2, v3 = _register(client, tmp_path, 3)
    _first(client, v1, {"brier": 0.10, "ece": 0.02})
    d = promote_if_better(client, NAME, v2, {"brier": 0.09, "ece": 0.03}, window=W1)
    assert not d.promoted and _champion(client) == v1
    assert d.reason == "brier 0.09 beats champion v1 (0.1) but ece 0.03 is worse than 0.02 + tolerance 0"
    d = promote_if_better(
        client, NAME, v3, {"brier": 0.09, "ece": 0.03}, window=W1, calibration_tolerance=0.015
    )
    assert d.promoted and _champion(client) == v3


def test_different_windows_are_not_compared(store, tmp_path):
    client = get_client(store)
    v1, v2, v3 = _register(client, tmp_path, 3)
    _first(client, v1, {"brier": 0.10, "ece": 0.02})
    d = promote_if_better(client, NAME, v2, {"brier": 0.01, "ece": 0.0}, window=W2)
    assert not d.promoted and _champion(client) == v1
    assert d.reason == (
        f"backtest windows differ: champion v1 was scored on {W1}, the challenger on {W2}; "
        f"re-score the champion on {W2} to compare"
    )
    # With the champion re-scored on the new window, the comparison happens.
    d = promote_if_better(
        client,
        NAME,
        v3,
        {"brier": 0.08, "ece": 0.02},
        window=W2,
        champion_metrics={"brier": 0.09, "ece": 0.02},
    )
    assert d.promoted and _champion(client) == v3
    assert d.metrics["champion"] == {"brier": 0.09, "ece": 0.02}


def test_champion_without_metrics_and_bad_challenger_metrics(store, tmp_path):
    client = get_client(store)
    v1, v2 = _register(client, tmp_path, 2)
    client.set_registered_model_alias(NAME, "champion", v1)  # a champion set by hand, with no tags
    set_version_tags(client, NAME, v1, window=W1)
    d = promote_if_better(client, NAME, v2, {"brier": 0.09, "ece": 0.02}, window=W1)
    assert not d.promoted and d.reason == "champion v1 has no brier on this window: re-score it to compare"
    with pytest.raises(ValueError, match="challenger_metrics has no 'brier' value"):
        promote_if_better(client, NAME, v2, {"ece": 0.02}, window=W1)
    d = promote_if_better(client, NAME, v1, {"brier": 0.09, "ece": 0.02}, window=W1)
    assert not d.promoted and d.reason == "v1 is already the champion"
