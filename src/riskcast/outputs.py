"""The output folder of a run: its file names and the atomic writers.

This is the contract every stage and the report read and write through; it sits below them all.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from riskcast.atomic import atomic_path
from riskcast.records import RunRecord, read_record, write_record

__all__ = [
    "RunOutputs",
    "INGEST_TABLES",
    "BlockPanel",
    "write_df",
    "read_run",
    "update_run_json",
    "month_str",
    "panel_of",
    "month_rows",
    "head_rows",
    "last_month",
]

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


def panel_of(out: Path, panel: "pd.DataFrame | BlockPanel | None") -> "pd.DataFrame | BlockPanel":
    """The run's feature panel: the one given, else ``features.parquet`` read whole, or, when a
    Dask run wrote it as block files (a folder), a :class:`BlockPanel` that reads it by part."""
    o = RunOutputs(out)
    if panel is not None:
        return panel
    path = o.require(o.features, "features")
    return BlockPanel(path) if path.is_dir() else pd.read_parquet(path)


class BlockPanel:
    """A feature panel too large for one process, as the Dask workers wrote it: one parquet file
    per spatial block (``features.parquet/block-<b>.parquet``), each holding its units' rows,
    unit by unit, every month, with the keys, counts, features and targets of an in-memory panel.

    It is read by column and by month, never whole: the backtest's baselines read their few
    columns, scoring reads the last two months, LightGBM reads the blocks on the workers.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files = sorted(self.path.glob("block-*.parquet"))
        if not self.files:
            raise FileNotFoundError(
                f"{self.path} holds no block files (block-*.parquet): run `riskcast features`"
            )
        self.columns = pd.Index(pq.read_schema(self.files[0]).names)

    def read(self, columns: list[str] | None = None, months=None) -> pd.DataFrame:
        """``columns`` (all when None) of the rows of ``months`` (all when None), block after block."""
        dataset = ds.dataset([str(f) for f in self.files], format="parquet")
        where = None
        if months is not None:
            stamps = pd.DatetimeIndex(months).as_unit("ns")
            where = ds.field("month").isin(stamps.to_numpy())
        # One batch and one file at a time: arrow's default read-ahead (16 batches, 4 files) held
        # 2.2 GB to give scoring its two months of an Africa-sized grid; this holds 0.9 GB.
        table = dataset.to_table(
            columns=None if columns is None else list(columns),
            filter=where,
            batch_readahead=1,
            fragment_readahead=1,
        )
        return table.to_pandas()

    @property
    def months(self) -> pd.DatetimeIndex:
        """Every month of the panel (each block holds them all)."""
        return pd.DatetimeIndex(pd.unique(pd.read_parquet(self.files[0], columns=["month"])["month"]))

    def unit_order(self) -> list[str]:
        """The panel's unit order: the run's ingested units table (``tables/units.parquet``)."""
        units = pd.read_parquet(self.path.parent / "tables" / "units.parquet", columns=["unit_id"])
        return units["unit_id"].astype(str).tolist()


def month_rows(panel: "pd.DataFrame | BlockPanel", months) -> pd.DataFrame:
    """Every column of the panel's rows at ``months`` (a block panel reads only those rows)."""
    if isinstance(panel, BlockPanel):
        return panel.read(months=months)
    return panel[panel["month"].isin(pd.DatetimeIndex(months))]


def head_rows(panel: "pd.DataFrame | BlockPanel", n: int) -> pd.DataFrame:
    """The panel's first ``n`` rows (a block panel's: its first block's)."""
    if isinstance(panel, BlockPanel):
        return pq.ParquetFile(panel.files[0]).read_row_group(0).slice(0, n).to_pandas()
    return panel.head(n)


def last_month(panel: "pd.DataFrame | BlockPanel") -> pd.Timestamp:
    """The panel's last month."""
    return panel.months.max() if isinstance(panel, BlockPanel) else panel["month"].max()
