"""The monthly job's pipeline spec (``pipelines/monthly.toml``): the job, its validation limits, drift."""
from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskcast.errors import ConfigError
from riskcast.jobs.fetch import FetchStep

__all__ = ["RetrainSpec", "load_spec"]


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: str = Field(description="the run config, relative to the spec's folder unless absolute")
    state_dir: str = Field("../out/monthly", description="state folder, relative to the spec's folder unless absolute")
    as_of: str = Field("previous_month", pattern=r"^(data|previous_month|\d{4}-\d{2})$",
                       description='"data" (newest event month), "previous_month" (from the clock) or "YYYY-MM"')


class _Validation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_lag_months: int = Field(2, ge=0, description="newest event month of every events input >= as_of minus this")
    max_unassigned_share: float = Field(0.05, ge=0, le=1, description="events that cannot be placed in a unit")
    min_rows_ratio: float = Field(0.5, ge=0, le=1, description="rows kept per input vs the last successful month")


class _Drift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_months: int = Field(12, ge=1)
    mix_threshold: float = Field(0.10, ge=0, le=1)


class RetrainSpec(BaseModel):
    """A pipeline spec (``pipelines/monthly.toml``): the job, its validation limits, drift settings."""

    model_config = ConfigDict(extra="forbid")
    job: _Job
    validation: _Validation = _Validation()
    drift: _Drift = _Drift()
    fetch: FetchStep | None = Field(None, description="sources fetched before ingest (optional)")


def load_spec(path: str | Path) -> RetrainSpec:
    """Read and validate a pipeline spec; a wrong key or value names the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("pipeline spec not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        return RetrainSpec.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ConfigError({"extra_forbidden": "unknown key"}.get(e["type"], e["msg"]), file=str(path),
                          key=".".join(str(p) for p in e["loc"])) from None
