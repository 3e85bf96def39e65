"""The output folder of a run: its file names and the atomic writers.

This is the contract every stage and the report read and write through; it sits below them all.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.atomic import atomic_path
from riskcast.records import RunRecord, read_record, write_record

__all__ = ["RunOutputs", "INGEST_TABLES", "write_df", "read_run", "update_run_json", "month_str", "panel_of"]

#: the canonical tables ingest hands over to the later stages (``tables/<name>.parquet``)
INGEST_TABLES = ("events", "counts", "presence", "shocks", "units")


class RunOutputs:
    """File names inside one output folder."""

    def __init__(self, out: str | Path) -> None:
        self.dir = Path(out)
        self.tables = self.dir / "tables"
        self.ingest = self.dir / "ingest.json"
        self.features = self.dir / "features.parquet"
        self.predictions = self.dir / "predictions.csv"
        self.metrics = self.dir / "metrics.csv"
        self.model = self.dir / "model.json"
        self.scores = self.dir / "scores.csv"
        self.score_record = self.dir / "score.json"
        self.report = self.dir / "report.html"
        self.run = self.dir / "run.json"
        self.figures = self.dir / "figures"
        # intensity targets (P(at least k attacks), ...): long tables with a ``target`` column
        self.intensity_predictions = self.dir / "intensity_predictions.csv"
        self.intensity_metrics = self.dir / "intensity_metrics.csv"
        self.intensity_scores = self.dir / "intensity_scores.csv"

    def require(self, path: Path, stage: str) -> Path:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `riskcast {stage}` (or `riskcast run`) first")
        return path


def write_df(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, float_format="%.10g", date_format="%Y-%m-%d")


def read_run(o: RunOutputs) -> RunRecord:
    """``run.json`` of the folder (empty when no stage has run yet)."""
    return read_record(o.run, RunRecord, "ingest") if o.run.exists() else RunRecord()


def update_run_json(o: RunOutputs, *, fresh: bool = False, **items) -> RunRecord:
    """Set fields of ``run.json`` (validated as a :class:`RunRecord`); ``fresh`` starts a new one."""
    before = {} if fresh else read_run(o).model_dump(exclude_unset=True)
    record = RunRecord.model_validate({**before, **_plain(items)})
    write_record(o.run, record)
    return record


def _plain(items: dict) -> dict:
    """Pydantic records among the values as plain JSON data, so the whole is validated once."""
    return {k: v.model_dump(exclude_unset=True) if hasattr(v, "model_dump") else v for k, v in items.items()}


def month_str(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m")


def panel_of(out: Path, panel: pd.DataFrame | None) -> pd.DataFrame:
    o = RunOutputs(out)
    return panel if panel is not None else pd.read_parquet(o.require(o.features, "features"))
