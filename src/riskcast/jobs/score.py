"""Score the latest month with the registered champion (or a given version or run), and say what moved.

Scoring always loads ``models:/<name>@champion`` from the configured registry; a month already
scored with the same model version, data and settings is read back from the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from riskcast.atomic import atomic_path
from riskcast.config import Config
from riskcast.errors import ConfigError
from riskcast.jobs.handover import check_stamp, require_upstream, stamp
from riskcast.jobs.intensity import intensity_scores
from riskcast.outputs import RunOutputs, last_month, month_rows, panel_of
from riskcast.records import ModelRecord, ScoreRecord, read_record, write_record
from riskcast.scale import backend_for
from riskcast.scoring import explain_change, score_month, write_scores
from riskcast.scoring_cache import CACHE_DIRNAME, cached_score, score_key
from riskcast.tracking.registry import alias_version, list_versions
from riskcast.tracking.runs import load_registered, setup_mlflow

__all__ = ["stage_score", "scoring_summary"]


def _write_intensity_scores(
    cfg: Config,
    o: RunOutputs,
    bundle,
    features: pd.DataFrame,
    latest: pd.DataFrame,
    as_of,
    models: dict[str, str],
) -> None:
    """Every intensity target's forecasts for the latest month, from the same registered bundle."""
    if not models:
        o.intensity_scores.unlink(missing_ok=True)
        return
    wide = bundle.predict(features)
    table = intensity_scores(pd.DataFrame(wide), latest, as_of, models, cfg.backtest.horizons)
    with atomic_path(o.intensity_scores) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g")


def stage_score(
    cfg: Config,
    out: Path,
    panel: pd.DataFrame | None = None,
    version: str | None = None,
    run_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Score the latest month with ``models:/<name>@champion`` (or a given version or run) from the registry."""
    o = RunOutputs(out)
    data_hashes = require_upstream(cfg, out, "features", reread_inputs=panel is None)
    panel = panel_of(out, panel)
    model = read_record(o.require(o.model, "train"), ModelRecord, "train")
    # the registered model may have been trained on earlier data: scoring new months with it is
    # the point, so only its config is compared
    check_stamp(cfg, model.built_from, "train", file=o.model, data_hashes=None)
    setup_mlflow(model.tracking_uri, cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    name = model.registered_model
    if run_id is not None:
        bundle, version = load_registered(run_id=run_id), f"run:{run_id}"
    elif version is None:
        version = alias_version(name, "champion")
        if version is None:
            raise FileNotFoundError(
                f"registered model {name!r} has no champion: run `riskcast train` first, or pass --version"
            )
        bundle = load_registered(name, alias="champion")
    else:
        known = list_versions(name)
        if str(version) not in known:
            raise ConfigError(
                f"registered model {name!r} has no version {version}: its versions are "
                f"{', '.join(known) or 'none'} (champion: {alias_version(name, 'champion') or 'none'})",
                key="--version",
            )
        bundle = load_registered(name, version=version)
    as_of = last_month(panel)
    month_before = as_of - pd.DateOffset(months=1)
    recent = month_rows(panel, [month_before, as_of])  # a block panel is read for these two months only
    latest = recent[recent["month"] == as_of].reset_index(drop=True)
    tiers = list(cfg.scoring.tiers.items())
    # A month already scored with this model version, data and settings is read back, not recomputed.
    key = score_key(
        model_name=name,
        model_version=version,
        data_hash=model.data_hash,
        as_of=as_of,
        rows=latest,
        feature_cols=model.features,
        tiers=tiers,
        top_k=cfg.scoring.top_k,
    )
    scorer = backend_for(cfg.compute).scorer(
        bundle, None if run_id is not None else f"models:/{name}/{version}", latest, cfg.scoring.top_k
    )
    scores, reused = cached_score(
        o.dir / CACHE_DIRNAME,
        key,
        lambda: score_month(
            scorer,
            latest,
            as_of=as_of,
            model_name=name,
            model_version=version,
            data_hash=model.data_hash,
            tiers=tiers,
            top_k=cfg.scoring.top_k,
            progress=progress,
        ),
    )
    write_scores(scores, o.scores)
    _write_intensity_scores(cfg, o, bundle, latest[model.features], latest, as_of, model.intensity_models)
    # what moved each unit's forecast since last month, with the same model (reported as drivers)
    before = recent[recent["month"] == month_before]
    if len(before):
        change = explain_change(
            bundle, latest, before, horizon=min(cfg.backtest.horizons), top_k=cfg.scoring.top_k
        )
        with atomic_path(o.dir / "changes.csv") as tmp:
            change.to_csv(tmp, index=False)
    else:
        (o.dir / "changes.csv").unlink(missing_ok=True)
    # every month's scores are kept, so a report can say what changed since the previous one
    write_scores(scores, o.dir / "scores_history" / f"scores_{as_of:%Y-%m}.csv")
    write_record(
        o.score_record,
        ScoreRecord(
            as_of=f"{as_of:%Y-%m}",
            scored_with=f"{name}/{version}",
            scores_reused=reused,
            built_from=stamp(cfg, "score", data_hashes),
        ),
    )
    return scores


def scoring_summary(out: Path) -> dict:
    """What the last scoring in ``out`` recorded, as ``run.json`` fields (a whole run records it there)."""
    o = RunOutputs(out)
    record = read_record(o.require(o.score_record, "score"), ScoreRecord, "score")
    return record.model_dump(exclude={"built_from"})
