"""What the report needs to know of the run's config, and nothing more.

The report reads the run's output folder; from the config it needs a title, the units' kind,
the countries, the horizons, how many units to list, what counted as an attack, the tiers, and the
backtest's bootstrap (resamples and seed) so its own intervals are drawn like ``metrics.csv``'s.
:meth:`ReportSettings.from_config` takes them from a config (or anything with the same
attributes), so reporting does not depend on the config's whole shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ReportSettings"]


@dataclass(frozen=True)
class ReportSettings:
    title: str
    config_name: str
    unit: str
    countries: tuple[str, ...]
    horizons: tuple[int, ...]
    top_n: int
    attack_threshold: int = 1
    event_types: tuple[str, ...] = ()
    tiers: dict[str, float] = field(default_factory=dict)
    boundaries: Path | None = None
    name_property: str = "shapeName"
    #: the backtest's resamples and seed: the report's own intervals draw the same origin months
    n_boot: int = 200
    seed: int = 20240601

    @classmethod
    def from_config(cls, cfg) -> "ReportSettings":
        """The report's settings from a run config (``riskcast.config.Config``)."""
        return cls(
            title=cfg.report.title,
            config_name=cfg.name,
            unit=cfg.unit,
            countries=tuple(cfg.countries),
            horizons=tuple(cfg.backtest.horizons),
            top_n=cfg.report.top_n,
            attack_threshold=cfg.target.threshold,
            event_types=tuple(cfg.target.event_types),
            tiers=dict(cfg.scoring.tiers),
            boundaries=cfg.regions.boundaries,
            name_property=cfg.regions.name_property,
            n_boot=cfg.backtest.n_boot,
            seed=cfg.seed,
        )

    @property
    def first_horizon(self) -> int:
        return min(self.horizons)

    @property
    def unit_word(self) -> str:
        """What one unit is called in sentences: cell, region, cercle, province or district."""
        if self.unit == "priogrid":
            return "cell"
        if self.unit == "admin1":
            return "region"
        return {("Mali",): "cercle", ("Burkina Faso",): "province"}.get(self.countries, "district")
