"""The ``fetch`` command: download a source (ACLED, UCDP, coups) into a new vintage, or list vintages.

The fetch code is imported inside the command: ``import riskcast.jobs.fetch`` takes ~0.6 s
(requests, pandas) while ``riskcast --help`` takes ~0.2 s, and shell completion runs the program
on every TAB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from riskcast.cli.root import app, guard, out
from riskcast.cli_out import check_out_dir, ui
from riskcast.errors import ConfigError

__all__ = ["fetch"]


@app.command()
def fetch(
    source: Annotated[Optional[str], typer.Argument(help="acled, ucdp or coups")] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="data folder: vintages go to DATA_DIR/<source>/<UTC time>/")
    ] = Path("data"),
    country: Annotated[
        Optional[list[str]], typer.Option("--country", help="a country to fetch (repeatable; default Mali)")
    ] = None,
    since: Annotated[Optional[str], typer.Option(help="first event date, YYYY-MM-DD")] = None,
    until: Annotated[Optional[str], typer.Option(help="last event date, YYYY-MM-DD")] = None,
    version: Annotated[
        Optional[list[str]],
        typer.Option(
            "--version", help="UCDP GED release: 25.1 (yearly) or 25.0.3 (monthly candidate); repeatable"
        ),
    ] = None,
    base_url: Annotated[
        Optional[str],
        typer.Option(
            "--base-url",
            help="replace the source's scheme and host (its paths are kept); http only on loopback",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="accept a table smaller than --min-rows-ratio of the current vintage"),
    ] = False,
    min_rows_ratio: Annotated[
        float, typer.Option(help="refuse a table below this share of the current vintage's rows (same query)")
    ] = 0.9,
    daily_quota: Annotated[int, typer.Option(help="UCDP requests allowed a day, errors included")] = 5000,
    retries: Annotated[int, typer.Option(help="tries per request (connection errors, 429, 5xx)")] = 6,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 60.0,
    list_: Annotated[
        bool, typer.Option("--list", help="list the vintages in --out instead of fetching")
    ] = False,
) -> None:
    """Fetch a source into a new vintage (ACLED_EMAIL + ACLED_PASSWORD[_FILE]; UCDP_ACCESS_TOKEN).

    Exit codes: 0 fetched; 2 bad option or refused credentials; 3 the source failed or its answer
    was refused (too few rows, over the quota): nothing written, DATA_DIR/<source>/current unchanged.
    """
    from riskcast.fetch import FetchRequest, RetryPolicy
    from riskcast.jobs.fetch import run_fetch, vintage_rows

    def go():
        check_out_dir(out_dir, writable=not list_)  # listing only reads the data folder
        if list_:
            rows = vintage_rows(out_dir, source)
            if not rows:
                out.print(f"no vintages in {out_dir}", highlight=False)
            for r in rows:
                out.print(
                    f"{r['source']:6} {r['vintage']:20} {'current' if r['current'] else '       '} {r['kind']:6} "
                    f"new {r['new']}, changed {r['changed']}, deleted {r['deleted']}, total {r['total']}  "
                    f"{r['query']}{'  version ' + r['dataset_version'] if r['dataset_version'] else ''}  sha256 {r['sha256']}",
                    highlight=False,
                    soft_wrap=True,
                )
            return
        if source is None:
            raise ConfigError("name the source to fetch: acled, ucdp or coups (or --list)", key="SOURCE")
        req = FetchRequest(
            source=source,
            countries=tuple(country or ("Mali",)),
            since=since,
            until=until,
            versions=tuple(version or ()),
            base_url=base_url,
            min_rows_ratio=min_rows_ratio,
            daily_quota=daily_quota,
            force=force,
        )
        run_fetch(
            req,
            out_dir,
            policy=RetryPolicy(timeout=timeout, attempts=retries),
            console=ui.bars(),
            echo=ui.info,
        )

    guard(go)
