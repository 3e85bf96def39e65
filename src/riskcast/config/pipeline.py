"""The monthly job's pipeline spec (``pipelines/monthly.toml``): the job, its validation limits,
drift settings and the optional fetch step; read like the run config (file and key named)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from riskcast.config._load import first_error, read_toml
from riskcast.errors import ConfigError
from riskcast.fetch import SOURCES

__all__ = ["RetrainSpec", "FetchStep", "FetchSourceStep", "load_spec"]


class FetchSourceStep(BaseModel):
    """One source the monthly job fetches before it ingests (``[fetch.sources.<source>]``)."""

    model_config = ConfigDict(extra="forbid")
    countries: list[str] | None = Field(None, description="default: the run config's countries")
    since: str | None = Field(None, description="first event date, YYYY-MM-DD")
    until: str | None = Field(None, description="last event date, YYYY-MM-DD")
    versions: list[str] = Field(default_factory=list, description="UCDP GED releases (25.1, 25.0.3, ...)")
    base_url: str | None = Field(None, description="replace the source's scheme and host (paths kept)")
    min_rows_ratio: float = Field(
        0.9, ge=0, le=1, description="refuse a table below this share of the current vintage"
    )
    daily_quota: int = Field(5000, ge=1, description="UCDP requests a day, errors included")


class FetchStep(BaseModel):
    """``[fetch]`` of a pipeline spec: what to fetch, where the vintages live, how hard to try."""

    model_config = ConfigDict(extra="forbid")
    data_dir: str = Field(
        "../data", description="the data folder, relative to the spec's folder unless absolute"
    )
    sources: dict[str, FetchSourceStep] = Field(default_factory=dict)
    retries: int = Field(6, ge=1, description="tries per request")
    timeout: float = Field(60.0, gt=0, description="seconds per request")

    @field_validator("sources")
    @classmethod
    def _known(cls, v: dict[str, FetchSourceStep]) -> dict[str, FetchSourceStep]:
        unknown = sorted(set(v) - set(SOURCES))
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}: known are {sorted(SOURCES)}")
        return v


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: str = Field(description="the run config, relative to the spec's folder unless absolute")
    state_dir: str = Field(
        "../out/monthly", description="state folder, relative to the spec's folder unless absolute"
    )
    as_of: str = Field(
        "previous_month",
        pattern=r"^(data|previous_month|\d{4}-\d{2})$",
        description='"data" (newest event month), "previous_month" (from the clock) or "YYYY-MM"',
    )


class _Validation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_lag_months: int = Field(
        2, ge=0, description="newest event month of every events input >= as_of minus this"
    )
    max_unassigned_share: float = Field(
        0.05, ge=0, le=1, description="events that cannot be placed in a unit"
    )
    min_rows_ratio: float = Field(
        0.5, ge=0, le=1, description="rows kept per input vs the last successful month"
    )


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
    data = read_toml(path, "pipeline spec")
    try:
        return RetrainSpec.model_validate(data)
    except ValidationError as exc:
        key, msg, _ = first_error(exc)
        raise ConfigError(msg, file=str(path), key=key) from None
