"""Typed records of the output folder: ``ingest.json``, ``run.json`` and ``model.json``.

Stages hand over through files; these records are the contract for what the JSON files hold, so a
reader gets attributes that exist (or a clear error) instead of ``.get(...)`` chains that silently
fall back. Every hand-over carries a :class:`BuiltFrom` stamp: the hash of each config section the
stage read and the input data hashes, so the next stage can refuse a hand-over built from another
config or other inputs (see ``riskcast.jobs.handover``).

Unknown keys are refused (``extra="forbid"``): a misspelt field fails where it is written, not
where a report later reads a default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from riskcast.atomic import write_text
from riskcast.errors import InputError

__all__ = [
    "BuiltFrom",
    "IngestRecord",
    "RunRecord",
    "ModelRecord",
    "ScoreRecord",
    "PanelInfo",
    "BacktestInfo",
    "read_record",
    "write_record",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuiltFrom(_Record):
    """What a hand-over was built from: one sha256 per config section the stage read, and the inputs."""

    stage: str
    config_sections: dict[str, str]
    data_hashes: dict[str, str | None]


class IngestRecord(_Record):
    """``ingest.json``: how each input was read and where its rows went."""

    inputs: dict[str, dict[str, Any]]
    data_hashes: dict[str, str | None]
    region_assignment: dict[str, Any]
    warnings: list[str] = []
    data_vintages: dict[str, Any] = {}
    built_from: BuiltFrom | None = None


class FeatureSetInfo(_Record):
    file: str
    sha256: str
    columns: list[str]


class PanelInfo(_Record):
    units: int
    months: int
    first_month: str
    last_month: str
    features: list[str]
    events_not_in_panel: dict[str, int]
    rows_not_placed: dict[str, Any] = {}
    #: "file": features.parquet is one file; "blocks": a folder of the Dask workers' block files
    storage: Literal["file", "blocks"] = "file"


class BacktestInfo(_Record):
    folds: int
    #: horizon -> [first origin, last origin] (``YYYY-MM``)
    origins: dict[str, list[str]]
    models: list[str]
    baselines: list[str]
    #: wall seconds of each part of the stage: models, metrics, ablation, intensity, the rest
    seconds: dict[str, float] = {}
    #: seconds each model's fits and forecasts took in their worker, summed over horizons
    #: (the main target; ablation variants and intensity targets under "ablation:" / "<target>:")
    model_seconds: dict[str, float] = {}


class PromotionInfo(_Record):
    promoted: bool
    reason: str


class RunRecord(_Record):
    """``run.json``: what every stage of one run recorded. Stages fill it in order; ingest starts it."""

    config_hash: str | None = None
    inputs: dict[str, dict[str, Any]] = {}
    data_hashes: dict[str, str | None] = {}
    region_assignment: dict[str, Any] = {}
    warnings: list[str] = []
    data_vintages: dict[str, Any] = {}
    #: stage -> what its hand-over was built from
    stages: dict[str, BuiltFrom] = {}
    feature_sets: dict[str, FeatureSetInfo] = {}
    feature_definitions: dict[str, str] = {}
    panel: PanelInfo | None = None
    backtest: BacktestInfo | None = None
    targets: dict[str, str] = {}
    ablation_model: str | None = None
    backtest_run_id: str | None = None
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    registered_model: str | None = None
    registered_model_version: str | None = None
    champion_version: str | None = None
    promotion: PromotionInfo | None = None
    training_windows: dict[str, list[str]] = {}
    as_of: str | None = None
    scored_with: str | None = None
    scores_reused: bool | None = None
    drift: dict[str, Any] | None = None
    timings_seconds: dict[str, float] = {}
    outputs: dict[str, str] = {}


class ChampionBefore(_Record):
    version: str | None = None
    model: str | None = None
    scores_on_window: dict[str, Any] | None = None


class ModelRecord(_Record):
    """``model.json``: the model ``riskcast train`` registered, and the promotion decision."""

    mlflow_run_id: str
    tracking_uri: str
    registered_model: str
    version: str
    model: str
    champion_version: str | None
    promoted: bool
    would_promote: bool
    action: str
    promotion_reason: str
    champion_before: ChampionBefore
    backtest_window: str
    backtest_scores: dict[str, float | None]
    data_hash: str
    training_windows: dict[str, list[str]]
    features: list[str]
    intensity_models: dict[str, str] = {}
    built_from: BuiltFrom | None = None


class ScoreRecord(_Record):
    """``score.json``: which month ``riskcast score`` scored last, with which model.

    Kept apart from ``run.json`` so that scoring again (another version, a new month) never
    rewrites the record of the run that trained the model."""

    as_of: str
    scored_with: str
    scores_reused: bool
    built_from: BuiltFrom | None = None


def read_record(path: Path, kind: type[_Record], stage: str) -> _Record:
    """Read and validate a record; a file that is not one names the stage that writes it."""
    try:
        return kind.model_validate_json(Path(path).read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(
            f"is not a {path.name} that riskcast writes ({where}: {first['msg']}): "
            f"run `riskcast {stage}` again to rewrite it",
            file=str(path),
        ) from None


def write_record(path: Path, record: _Record) -> None:
    """Atomically write a record with sorted keys, leaving out fields never set."""
    # python mode and ``default=str``: values typed Any (an input's read report) may hold paths or
    # timestamps, written as text as they always were
    data = record.model_dump(mode="python", exclude_unset=True)
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
