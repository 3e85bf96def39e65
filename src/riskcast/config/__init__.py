"""Settings files: the run config (``settings``: one TOML file per run, frozen pydantic models,
``--set`` overrides) and the monthly job's pipeline spec (``pipeline``). A wrong key or value fails
once, at entry, naming the file (or the ``--set``) and the dotted key."""

from __future__ import annotations

from riskcast.config.pipeline import FetchSourceStep, FetchStep, RetrainSpec, load_spec
from riskcast.config.settings import (
    DEFAULT_EVENT_TYPES,
    BacktestSpec,
    ComputeSpec,
    Config,
    IngestSpec,
    InputSpec,
    IntensitySpec,
    TargetSpec,
    config_from_dict,
    config_hash,
    default_config,
    load_config,
)

__all__ = [
    "Config",
    "InputSpec",
    "IngestSpec",
    "IntensitySpec",
    "TargetSpec",
    "BacktestSpec",
    "ComputeSpec",
    "DEFAULT_EVENT_TYPES",
    "load_config",
    "default_config",
    "config_from_dict",
    "config_hash",
    "RetrainSpec",
    "FetchStep",
    "FetchSourceStep",
    "load_spec",
]
