"""The model registry: version tags, and champion promotion by moving an alias.

Every registered bundle carries its backtest window and metrics as model-version tags, so a
later challenger can be compared with the champion without re-reading runs. Promotion moves
the ``champion`` alias (``MlflowClient.set_registered_model_alias``); it never copies files,
so ``models:/<name>@champion`` always points at artifacts that were logged once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow import MlflowClient

from riskcast.tracking.offline import disable_network

__all__ = [
    "PromotionDecision",
    "promote_if_better",
    "set_version_tags",
    "version_record",
    "get_client",
    "CHAMPION",
    "TAG_WINDOW",
    "TAG_METRIC",
    "TAG_DATA_HASH",
    "TAG_CONFIG_HASH",
    "TAG_PROMOTION",
    "TAG_PROMOTION_REASON",
    "TAG_MODEL",
    "apply_promotion",
    "alias_version",
]

CHAMPION = "champion"
TAG_WINDOW = "riskcast.backtest_window"
TAG_METRIC = "riskcast.metric."  # prefix: riskcast.metric.brier, riskcast.metric.ece, ...
TAG_DATA_HASH = "riskcast.data_hash"
TAG_CONFIG_HASH = "riskcast.config_hash"
TAG_MODEL = "riskcast.model"  # the model spec's name in the model set, e.g. "glm_negbin"
TAG_PROMOTION = "riskcast.promotion"  # "promoted" | "refused"
TAG_PROMOTION_REASON = "riskcast.promotion.reason"


@dataclass(frozen=True)
class PromotionDecision:
    """What :func:`promote_if_better` decided, and on which numbers.

    ``champion_before``/``champion_after`` are version strings (None when there was no
    champion); ``metrics`` holds ``{"challenger": {...}, "champion": {...} | None}``.
    """

    promoted: bool
    reason: str
    champion_before: str | None
    champion_after: str | None
    metrics: dict = field(default_factory=dict)


def get_client(client_or_uri):
    """An ``MlflowClient`` for a URI (tracking and registry alike), or the client itself."""
    if not isinstance(client_or_uri, str):
        return client_or_uri
    disable_network()
    return MlflowClient(tracking_uri=client_or_uri, registry_uri=client_or_uri)


def set_version_tags(
    client_or_uri,
    name: str,
    version: str | int,
    *,
    window: str | None = None,
    metrics: Mapping[str, float] | None = None,
    data_hash: str | None = None,
    config_hash: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> None:
    """Record the backtest window, metrics and hashes of a version as its tags."""
    client = get_client(client_or_uri)
    tags = dict(extra or {})
    if window is not None:
        tags[TAG_WINDOW] = str(window)
    for key, value in (metrics or {}).items():
        # repr keeps every digit, so a comparison read back from tags is the one computed.
        tags[f"{TAG_METRIC}{key}"] = repr(float(value))
    if data_hash is not None:
        tags[TAG_DATA_HASH] = data_hash
    if config_hash is not None:
        tags[TAG_CONFIG_HASH] = config_hash
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, str(value))


def version_record(client_or_uri, name: str, version: str | int) -> tuple[str | None, dict[str, float]]:
    """The backtest window and the metrics stored as tags on a registered version."""
    tags = get_client(client_or_uri).get_model_version(name, str(version)).tags
    metrics = {k[len(TAG_METRIC) :]: float(v) for k, v in tags.items() if k.startswith(TAG_METRIC)}
    return tags.get(TAG_WINDOW), metrics


def alias_version(name: str, alias: str = "champion", client_or_uri=None) -> str | None:
    """The version ``alias`` points at in the registry (the active one unless given); None when unset."""
    if client_or_uri is None:
        client_or_uri = MlflowClient()
    return _current(get_client(client_or_uri), name, alias)


def _current(client, name: str, alias: str) -> str | None:
    # Read the alias map rather than get_model_version_by_alias: a missing alias is a normal
    # state (no champion yet), and MLflow reports it with a generic INVALID_PARAMETER_VALUE.
    version = client.get_registered_model(name).aliases.get(alias)
    return None if version is None else str(version)


def _number(metrics: Mapping[str, float] | None, key: str) -> float | None:
    value = (metrics or {}).get(key)
    if value is None or math.isnan(float(value)):
        return None
    return float(value)


def _compare(
    chal: Mapping[str, float],
    champ: Mapping[str, float],
    champion: str,
    *,
    metric: str,
    lower_is_better: bool,
    calibration_metric: str | None,
    tolerance: float,
) -> tuple[bool, str]:
    c, k = _number(chal, metric), _number(champ, metric)
    if c is None:
        return False, f"the challenger has no {metric} value"
    if k is None:
        return False, f"champion v{champion} has no {metric} on this window: re-score it to compare"
    beats = c < k if lower_is_better else c > k
    if not beats:
        return False, f"{metric} {c:.6g} does not beat champion v{champion} ({k:.6g})"
    if calibration_metric:
        ce, ke = _number(chal, calibration_metric), _number(champ, calibration_metric)
        if ce is None or ke is None:
            who = "the challenger" if ce is None else f"champion v{champion}"
            return False, f"{who} has no {calibration_metric} value: calibration cannot be checked"
        if ce > ke + tolerance:
            return False, (
                f"{metric} {c:.6g} beats champion v{champion} ({k:.6g}) but {calibration_metric} "
                f"{ce:.6g} is worse than {ke:.6g} + tolerance {tolerance:g}"
            )
    return True, f"{metric} {c:.6g} beats champion v{champion} ({k:.6g})"


def promote_if_better(
    client_or_uri,
    name: str,
    challenger_version: str | int,
    challenger_metrics: Mapping[str, float],
    *,
    metric: str = "brier",
    lower_is_better: bool = True,
    calibration_metric: str | None = "ece",
    calibration_tolerance: float = 0.0,
    window: str,
    champion_metrics: Mapping[str, float] | None = None,
    alias: str = CHAMPION,
    dry_run: bool = False,
    block: str | None = None,
) -> PromotionDecision:
    """Move the ``champion`` alias to the challenger when it beats the champion on the same window.

    The first registered model becomes champion. Otherwise the challenger must beat the
    champion's ``metric`` (strictly; a tie keeps the incumbent, so the alias does not churn)
    and its ``calibration_metric`` must not exceed the champion's by more than
    ``calibration_tolerance``. The champion's numbers come from its version tags and are only
    comparable on the same backtest ``window``; when the windows differ, pass
    ``champion_metrics`` (the champion re-scored on ``window``) or the promotion is refused.
    The decision is tagged on the challenger version (:data:`TAG_PROMOTION`, ``...reason``).

    Args:
        client_or_uri: an ``MlflowClient`` or a tracking/registry URI.
        name: the registered model name.
        challenger_version: the version just registered.
        challenger_metrics: its backtest metrics, e.g. ``{"brier": 0.081, "ece": 0.012}``.
        window: the backtest window the metrics were computed on, e.g. ``"2022-01..2023-12"``.
        champion_metrics: the champion's scores on ``window`` (its spec backtested on the same
            folds), used instead of its tags.
        dry_run: decide, but move no alias and write no decision tags (apply it later with
            :func:`apply_promotion`).
        block: a reason that forbids promotion whatever the scores (e.g. a partial backtest).

    Returns:
        The :class:`PromotionDecision`.
    """
    client = get_client(client_or_uri)
    challenger = str(challenger_version)
    if _number(challenger_metrics, metric) is None:
        raise ValueError(f"challenger_metrics has no {metric!r} value (the promotion metric)")
    # The challenger's own tags are (re)written here so that, once champion, it can be judged.
    set_version_tags(client, name, challenger, window=window, metrics=challenger_metrics)
    before = _current(client, name, alias)
    champ: dict | None = None
    if before is None:
        promoted, reason = True, f"first model: no {alias} yet"
    elif before == challenger:
        promoted, reason = False, f"v{challenger} is already the {alias}"
    else:
        champ_window, champ = version_record(client, name, before)
        if champion_metrics is not None:
            champ = dict(champion_metrics)  # the champion re-scored on the challenger's window
        if champion_metrics is None and champ_window != window:
            promoted, reason = (
                False,
                (
                    f"backtest windows differ: champion v{before} was scored on {champ_window}, "
                    f"the challenger on {window}; re-score the champion on {window} to compare"
                ),
            )
        else:
            promoted, reason = _compare(
                challenger_metrics,
                champ,
                before,
                metric=metric,
                lower_is_better=lower_is_better,
                calibration_metric=calibration_metric,
                tolerance=calibration_tolerance,
            )
    if block and promoted:
        promoted, reason = False, f"{block} (scores alone: {reason})"
    decision = PromotionDecision(
        promoted=promoted,
        reason=reason,
        champion_before=before,
        champion_after=challenger if promoted else before,
        metrics={"challenger": dict(challenger_metrics), "champion": champ},
    )
    if not dry_run:
        apply_promotion(client, name, challenger, decision, alias=alias)
    return decision


def apply_promotion(
    client_or_uri,
    name: str,
    challenger_version: str | int,
    decision: PromotionDecision,
    *,
    alias: str = CHAMPION,
) -> None:
    """Carry out a decision: move the alias when promoted, tag the challenger with the decision.

    Refuses to move the alias when it no longer points where the decision saw it (another job
    promoted in between): the decision was made against a champion that is gone.
    """
    client = get_client(client_or_uri)
    challenger = str(challenger_version)
    if decision.promoted:
        now = _current(client, name, alias)
        if now != decision.champion_before:
            raise RuntimeError(
                f"the {alias} of {name} moved from v{decision.champion_before} to v{now} since the "
                f"decision: not promoting v{challenger}"
            )
        client.set_registered_model_alias(name, alias, challenger)
    client.set_model_version_tag(
        name, challenger, TAG_PROMOTION, "promoted" if decision.promoted else "refused"
    )
    client.set_model_version_tag(name, challenger, TAG_PROMOTION_REASON, decision.reason)


def list_versions(name: str, client_or_uri=None) -> list[str]:
    """The version numbers registered under ``name``, oldest first (empty when there is no such model)."""
    client = MlflowClient() if client_or_uri is None else get_client(client_or_uri)
    found = client.search_model_versions(f"name = '{name.replace(chr(39), chr(39) * 2)}'")
    return sorted((str(v.version) for v in found), key=int)
