"""Commands beside the pipeline: draw a unit from a run (``plot``), list what a config may declare
(``model-list``, ``formats``, ``feature-list``, ``config-schema``) and write synthetic data (``synth``).

What each command needs is imported inside it: ``riskcast.models.spec`` takes ~1.3 s to import,
``riskcast.features.spec`` and ``riskcast.config`` ~0.6 s, the readers, plots and synthetic data
~0.3-0.4 s (pandas, matplotlib), while ``riskcast --help`` takes ~0.2 s, and shell completion runs
the program on every TAB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from riskcast.cli.root import app, guard, out
from riskcast.cli_out import check_out_dir, plain
from riskcast.errors import ConfigError

__all__ = ["plot", "model_list", "formats", "feature_list", "config_schema", "synth"]


@app.command()
def plot(
    unit: Annotated[str, typer.Option(help="unit id or name, e.g. ML07 or Gao ('Name, Country' if shared)")],
    # no default: a run's folder is named after its config, which plot does not take
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="the run's output folder (as given to riskcast run)")
    ],
    months: Annotated[int, typer.Option(help="months of history to draw")] = 36,
    file: Annotated[
        Optional[Path], typer.Option(help="PNG to write (default DIR/figures/unit_<id>.png)")
    ] = None,
) -> None:
    """Draw one unit's observed attacks and its latest forecast (from a run's output folder)."""
    import pandas as pd

    from riskcast.outputs import RunOutputs
    from riskcast.regions.names import resolve_unit
    from riskcast.reporting.plots import unit_plot

    def go():
        check_out_dir(out_dir, writable=file is None)  # the figure goes into it unless --file says elsewhere
        o = RunOutputs(out_dir)
        # the columns the plot reads (of one file, or of a Dask run's folder of block files)
        panel = pd.read_parquet(
            o.require(o.features, "features"),
            columns=["unit_id", "unit_name", "country", "month", "n_target"],
        )
        scores = pd.read_csv(o.require(o.scores, "score"))
        try:
            unit_id = resolve_unit(unit, panel[["unit_id", "unit_name", "country"]])
            path = unit_plot(panel, scores, unit_id, file or o.figures / f"unit_{unit_id}.png", months=months)
        except ValueError as exc:
            raise ConfigError(str(exc), key="--unit") from None
        out.print(f"plot: {Path(path).resolve()}", highlight=False, soft_wrap=True)

    guard(go)


@app.command("model-list")
def model_list() -> None:
    """List the model classes a models/*.toml set can declare, with their parameters."""
    from riskcast.models.spec import describe_models

    def go():
        for row in describe_models():
            out.print(
                f"{row['model']}({row['params']})\n    {plain(row['description'])}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    guard(go)


@app.command()
def formats() -> None:
    """List the input formats riskcast reads, with the table each one feeds."""
    from riskcast.io.registry import READERS

    for name, (kind, fn) in sorted(READERS.items()):
        doc = plain(fn.__doc__.strip().splitlines()[0]) if fn.__doc__ else ""
        out.print(f"{name:18} {kind:9} {doc}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"{'synthetic':18} {'events':9} riskcast's embedded SYNTHETIC Sahel events (seeded)", highlight=False
    )
    out.print(f"{'curated':18} {'shocks':9} riskcast's curated shock / presence tables", highlight=False)


@app.command("feature-list")
def feature_list(
    feature_set: Annotated[
        Optional[str], typer.Argument(help="a feature set (name in features/ or TOML path) to expand")
    ] = None,
) -> None:
    """List the available features with their parameters and descriptions, or the columns of a set."""

    def go():
        from riskcast.features.spec import describe_registry, load_feature_set

        if feature_set is None:
            table = Table("feature", "family", "parameters", "description")
            for row in describe_registry():
                table.add_row(
                    *(escape(plain(row[k])) for k in ("feature", "family", "params", "description"))
                )
        else:
            s = load_feature_set(feature_set)
            table = Table(
                "column",
                "definition",
                title=f"{s.name}: {len(s)} features ({s.path}, sha256 {s.sha256[:12]})",
            )
            for f in s.features:
                table.add_row(escape(f.name), escape(plain(f.describe())))
        out.print(table)

    guard(go)


@app.command("config-schema")
def config_schema() -> None:
    """Print the JSON schema of the config file."""
    from riskcast.config import Config

    out.print_json(json.dumps(Config.model_json_schema()))


@app.command()
def synth(
    path: Annotated[Path, typer.Argument(help="CSV file to write")],
    seed: Annotated[int, typer.Option(help="seed of the generator")] = 20240601,
    start: Annotated[str, typer.Option(help="first month, YYYY-MM")] = "2012-01",
    end: Annotated[str, typer.Option(help="last month, YYYY-MM")] = "2024-12",
    level: Annotated[str, typer.Option(help="admin1 or admin2")] = "admin1",
) -> None:
    """Write the embedded SYNTHETIC events to a CSV in riskcast's canonical events format."""

    def go():
        from riskcast import synth as s

        df = s.default_events(seed=seed, start=start, end=end, level=level)
        s.write_events(df, path)
        out.print(f"wrote {len(df)} SYNTHETIC events to {path}", highlight=False)

    guard(go)
