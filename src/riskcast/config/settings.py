"""The run configuration: one TOML file, loaded into frozen pydantic models.

A wrong key or value fails once, at entry, naming the file and the dotted key. Any value can
be overridden from the command line with ``--set dotted.key=value`` (the value is read as a
TOML literal when it parses as one, else as a string).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from riskcast.config._load import first_error, read_toml
from riskcast.config.base import _Frozen
from riskcast.config.compute import ComputeSpec
from riskcast.errors import ConfigError
from riskcast.paths import project_file

__all__ = [
    "Config",
    "InputSpec",
    "IngestSpec",
    "TargetSpec",
    "BacktestSpec",
    "load_config",
    "default_config",
    "config_hash",
    "DEFAULT_EVENT_TYPES",
]

#: Political-violence event types: ACLED's three, and UCDP GED's three types of violence.
DEFAULT_EVENT_TYPES = (
    "Battles",
    "Explosions/Remote violence",
    "Violence against civilians",
    "state-based",
    "non-state",
    "one-sided",
)


class InputSpec(_Frozen):
    """One input file (or the embedded generator) and the table it feeds."""

    kind: Literal["events", "counts", "presence", "shocks"]
    format: str = Field(description="reader name, see `riskcast formats`")
    path: Path | None = Field(
        None, description="file path; relative paths are read from the working directory"
    )
    sheet: str | None = Field(None, description="sheet name for xlsx inputs")
    options: dict[str, Any] = Field(default_factory=dict, description="reader-specific options")


class IntensitySpec(_Frozen):
    """An intensity target beside P(any attack): at least k attacks, at least f deaths, or escalation.

    ``events``: at least ``at_least`` target events in the month; ``fatalities``: at least
    ``at_least`` deaths in target events; ``escalation``: at least one target event and more
    than ``factor`` times the unit's monthly mean over the 12 months before.
    """

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="column-safe name, e.g. 'k5' (lower case, digits, _)"
    )
    kind: Literal["events", "fatalities", "escalation"]
    at_least: float = Field(
        1, gt=0, description="events / fatalities: the month counts when the quantity reaches this"
    )
    factor: float = Field(
        2.0, gt=0, description="escalation: the month's count must exceed factor x the trailing 12-month mean"
    )


class TargetSpec(_Frozen):
    """What counts as an attack: event types, optional actor filter, threshold; and intensity targets."""

    event_types: tuple[str, ...] = DEFAULT_EVENT_TYPES
    actors: tuple[str, ...] = Field(
        (),
        description="keep events whose actor1 or actor2 contains one of these (case-insensitive); empty = all",
    )
    threshold: int = Field(1, ge=1, description="target_any = events >= threshold")
    min_fatalities: int = Field(0, ge=0, description="count only events with at least this many fatalities")
    intensity: tuple[IntensitySpec, ...] = Field(
        (),
        description="intensity targets backtested, registered and reported beside P(any attack) ([[target.intensity]] tables)",
    )

    @field_validator("intensity")
    @classmethod
    def _unique_names(cls, v):
        names = [t.name for t in v]
        dup = sorted({n for n in names if names.count(n) > 1} | ({"any", "count"} & set(names)))
        if dup:
            raise ValueError(f"intensity target names must be unique and not 'any' or 'count': {dup}")
        return v


class IngestSpec(_Frozen):
    """Plausibility bounds every input is held to when it is read."""

    # Real single events stay far below this: the deadliest in the Sahel exports riskcast reads
    # (ACLED Mali, Burkina Faso, Niger, 1997-2020) record 88-230 deaths, and the mass killings
    # elsewhere that event datasets code as one event reach the thousands to tens of thousands
    # (we could not verify a hard maximum, so the default leaves a wide margin). It still refuses
    # the typos and sentinels (1e12) that would swamp the features; raise it for such data.
    max_fatalities_per_event: int = Field(
        100_000,
        ge=1,
        description="refuse an events input holding an event with more deaths than this (a typo or a "
        "missing-value code, not a real event; raise it for data that codes a mass killing as one event)",
    )


class RegionSpec(_Frozen):
    gazetteer: Path | None = Field(
        None, description="regions CSV; default: riskcast's curated gazetteer for the level"
    )
    boundaries: Path | None = Field(None, description="GeoJSON of the units for point-in-polygon assignment")
    name_property: str = Field("shapeName", description="GeoJSON property holding the unit name")
    bbox: tuple[float, float, float, float] | None = Field(
        None,
        description="PRIO-GRID units: [lon_min, lat_min, lon_max, lat_max]; cells whose centre lies inside",
    )
    max_unassigned_share: float = Field(
        0.05, ge=0, le=1, description="fail when more events than this share cannot be assigned"
    )


class PanelSpec(_Frozen):
    start: str = Field("2012-01", pattern=r"^\d{4}-\d{2}$")
    end: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", description="default: the last month with data")


class FeatureSpec(_Frozen):
    set: str = Field("default", description="feature set: a name in features/ or a path to a TOML file")
    baseline_set: str | None = Field(
        "history_only", description="feature set of the history-only benchmark model (none: no such model)"
    )
    actor_groups: str = Field(
        "actor_groups", description="actor-group mapping: a name in features/ or a TOML path"
    )


class BacktestSpec(_Frozen):
    horizons: tuple[int, ...] = (1, 3, 6, 12)
    min_train_months: int = Field(
        36, ge=6, description="months of training rows required before the first origin"
    )
    eval_months: int = Field(24, ge=1, description="number of monthly origins in the evaluation window")
    eval_start: str | None = Field(
        None,
        description="first origin month (YYYY-MM) of the evaluation window; replaces eval_months when set",
    )
    window: Literal["expanding", "sliding"] = "expanding"
    sliding_months: int = Field(60, ge=6)
    n_jobs: int = Field(
        -1,
        description="worker processes for the backtest's (horizon, model) tasks; -1 = one per core, 1 = none (results are identical)",
    )
    # 3: within the refit-at-every-origin intervals for every model on the demo, Mali cercles and
    # regions, Burkina regions and the Sahel panel, at a third of the time; LightGBM keeps 2 in
    # models/default.toml (benchmarks/backtest_cadence.py, numbers in benchmarks/README.md)
    refit_every: int = Field(
        3,
        ge=1,
        description="refit each model at every k-th origin of the backtest and forecast the origins between with the latest fit (1 = refit at every origin; a model set may fix a model's own)",
    )
    n_boot: int = Field(
        200,
        ge=0,
        description="bootstrap resamples (whole origin months) for the metrics' 95% intervals; 0 = none",
    )
    ablation: bool = Field(
        True, description="also backtest the ablation model with each feature family dropped in turn"
    )
    ablation_model: str = Field(
        "logistic",
        description="the model of the set used for the ablation (its columns are replaced per variant)",
    )

    @field_validator("eval_start")
    @classmethod
    def _month(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                pd.Period(v, "M")
            except Exception:
                raise ValueError(f"eval_start must be a month YYYY-MM, not {v!r}") from None
        return v

    @field_validator("horizons")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(h < 1 for h in v):
            raise ValueError("horizons must be a non-empty list of whole months >= 1")
        return tuple(sorted(set(v)))


class ModelSpec(_Frozen):
    set: str = Field(
        "default",
        description="model set: a name in models/ (models/<set>.toml) or a path to a TOML file; "
        'PRIO-GRID runs default to "grid"',
    )
    champion: str = Field(
        "auto",
        description="the model of the set trained on all rows, registered and proposed as champion; 'auto' = the non-baseline model with the lowest backtest Brier score (mean over horizons)",
    )
    climatology_months: int = Field(
        12, ge=1, description="k of the climatology baseline (also the k of its feature columns)"
    )
    intensity_models: tuple[str, ...] = Field(
        ("logistic", "logistic_shrunk", "logistic_history", "logistic_history_shrunk"),
        description="models of the set backtested for every intensity target, beside the set's baselines (each reads the target's own climatology); a shrunk model shares its base's fits",
    )


class PromotionSpec(_Frozen):
    metric: Literal["brier", "log_loss", "crps"] = Field(
        "brier",
        description="a challenger must beat the champion on this metric (mean over horizons, same backtest window)",
    )
    max_ece_increase: float = Field(
        0.0, ge=0, description="and its expected calibration error may exceed the champion's by at most this"
    )
    refresh_same_spec: bool = Field(
        True,
        description="when the best model is the champion's own spec (identical scores on the same window), move the champion to the refit on newer data ('refreshed'), so a monthly job really retrains",
    )


class ScoringSpec(_Frozen):
    tiers: dict[str, float] = Field(
        default_factory=lambda: {"very high": 0.8, "high": 0.5, "elevated": 0.2, "low": 0.0},
        description="risk tier name -> lowest probability of the tier (P(attack) next month)",
    )
    top_k: int = Field(3, ge=0, description="feature contributions listed per unit and horizon")
    format: Literal["csv", "parquet", "json"] = "csv"

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(not 0 <= x <= 1 for x in v.values()) or min(v.values()) != 0:
            raise ValueError("tiers must map names to cut points in [0, 1], the lowest being 0")
        return dict(sorted(v.items(), key=lambda kv: -kv[1]))


class TrackingSpec(_Frozen):
    uri: str | None = Field(None, description="MLflow tracking URI; default sqlite:///<out>/mlflow.db")
    registry_uri: str | None = None
    experiment: str = "riskcast"
    registered_model: str = "riskcast"


class ReportSpec(_Frozen):
    title: str = "riskcast monthly risk report"
    top_n: int = Field(10, ge=1)
    pdf: bool = Field(
        True, description="also write report.pdf (WeasyPrint; about 3 s a report): false for HTML only"
    )


class Config(_Frozen):
    """A whole run: inputs, spatial unit, target, horizons, tracking and output."""

    name: str = "riskcast"
    seed: int = 20240601
    unit: Literal["admin1", "admin2", "priogrid"] = "admin1"
    countries: tuple[str, ...] = ("Mali",)
    inputs: dict[str, InputSpec]
    ingest: IngestSpec = IngestSpec()
    target: TargetSpec = TargetSpec()
    regions: RegionSpec = RegionSpec()
    panel: PanelSpec = PanelSpec()
    features: FeatureSpec = FeatureSpec()
    backtest: BacktestSpec = BacktestSpec()
    model: ModelSpec = ModelSpec()
    promotion: PromotionSpec = PromotionSpec()
    scoring: ScoringSpec = ScoringSpec()
    tracking: TrackingSpec = TrackingSpec()
    report: ReportSpec = ReportSpec()
    compute: ComputeSpec = ComputeSpec()

    @model_validator(mode="before")
    @classmethod
    def _grid_models_for_grid_cells(cls, data: Any) -> Any:
        """PRIO-GRID runs default to models/grid.toml: the default set's GLMs need the whole
        panel in one process, which a grid of tens of thousands of cells does not fit."""
        if isinstance(data, dict) and data.get("unit") == "priogrid":
            model = data.get("model")
            model = dict(model) if isinstance(model, dict) else ({} if model is None else model)
            if isinstance(model, dict) and "set" not in model:
                # its intensity targets and ablation use its own LightGBM (it has no logistic)
                model = {"intensity_models": ("lgbm", "lgbm_history"), **model, "set": "grid"}
                backtest = data.get("backtest")
                backtest = (
                    dict(backtest) if isinstance(backtest, dict) else ({} if backtest is None else backtest)
                )
                if isinstance(backtest, dict):
                    backtest = {"ablation_model": "lgbm", **backtest}
                data = {**data, "model": model, "backtest": backtest}
        return data

    @field_validator("inputs")
    @classmethod
    def _has_events(cls, v: dict[str, InputSpec]) -> dict[str, InputSpec]:
        if not any(s.kind in ("events", "counts") for s in v.values()):
            raise ValueError("at least one input of kind 'events' or 'counts' is needed")
        return v


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_override(data: dict, item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError("not of the form dotted.key=value", file=f"--set {item}")
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(
                "cannot set a key inside a value that is not a table", file=f"--set {item}", key=key.strip()
            )
    node[parts[-1]] = _parse_value(text.strip())


def _validate(data: dict) -> tuple[Config | None, tuple[str, str, int] | None]:
    """The config, or the first problem pydantic finds in ``data`` as (dotted key, message, count)."""
    try:
        return Config.model_validate(data), None
    except ValidationError as exc:
        return None, first_error(exc)


def _blame(key: str, overrides: list[str]) -> str | None:
    """The ``--set`` that wrote ``key`` (or a key inside or around it); the last one wins, as it did."""
    for item in reversed(overrides):
        k = item.partition("=")[0].strip()
        if k == key or key.startswith(k + ".") or k.startswith(key + "."):
            return item
    return None


def config_from_dict(data: dict, *, file: str = "<config>", overrides: list[str] = ()) -> Config:
    """Validate a config's data with its ``--set`` overrides applied.

    An error is attributed to the ``--set`` that caused it (``--set backtest.horizons=[0], key
    'backtest.horizons': ...``) unless the file alone has the same problem: a user looking for it
    in the file would not find it.
    """
    data = json.loads(json.dumps(data, default=str))  # deep copy, plain types
    overrides = list(overrides)
    merged = json.loads(json.dumps(data))
    for item in overrides:
        _apply_override(merged, item)
    cfg, found = _validate(merged)
    if cfg is not None:
        return cfg
    key, msg, n = found
    more = f" ({n - 1} more problem(s))" if n > 1 else ""
    culprit = _blame(key, overrides) if overrides else None
    if culprit is not None:
        _, alone = _validate(data)
        if alone is None or alone[0] != key:
            raise ConfigError(f"{msg}{more}", file=f"--set {culprit}", key=key)
    raise ConfigError(f"{msg}{more}", file=file, key=key)


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a TOML config, apply ``--set`` overrides, and validate it."""
    path = Path(path)
    return config_from_dict(read_toml(path, "config file"), file=str(path), overrides=list(overrides))


def default_config(overrides: list[str] = ()) -> Config:
    """The main job's config: embedded synthetic Mali events plus the curated facts."""
    return load_config(project_file("pipelines", "demo.toml"), overrides)


def config_hash(cfg: Config) -> str:
    """sha256 of the config's canonical JSON: the same settings give the same hash."""
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
