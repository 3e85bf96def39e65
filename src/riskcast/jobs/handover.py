"""Stage hand-overs: each stage stamps what it built from, and the next refuses a stale hand-over.

Stages talk through the output folder, and a folder outlives any one config: a failed or skipped
stage leaves the previous outputs in place. So every hand-over records a :class:`BuiltFrom` stamp
(one sha256 per config section the stage read, and the input data hashes), and a stage reading a
hand-over compares that stamp with its own config and with the data ingested in the folder. A
mismatch is refused with exit 2, naming the differing sections and the stage to run again.

Sections that cannot change a hand-over are left out of its stamp, so that, say, changing the
report's title does not force a new backtest: ``name`` is a label, ``compute`` picks a backend
that gives identical numbers (``tests/scale`` proves it), and each stage ignores the sections of
the stages after it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from riskcast.config import Config, config_hash
from riskcast.errors import InputError
from riskcast.jobs.ingest import Ingested, current_digest, input_record
from riskcast.outputs import INGEST_TABLES, RunOutputs, read_run, update_run_json, write_df
from riskcast.records import BuiltFrom, IngestRecord, ScoreRecord, read_record, write_record
from riskcast.regions.units import load_units

__all__ = [
    "STAGES",
    "stamp",
    "check_stamp",
    "record_ingest",
    "load_ingested",
    "verified_data_hashes",
    "require_upstream",
    "mark_built",
]

#: the stages in order; each one's stamp covers the config sections of itself and those before it
STAGES = ("ingest", "features", "backtest", "train", "score")
_LABELS = {"name", "compute"}
_LATER = {
    "ingest": {
        "target",
        "panel",
        "features",
        "backtest",
        "model",
        "promotion",
        "scoring",
        "tracking",
        "report",
    },
    "features": {"backtest", "model", "promotion", "scoring", "tracking", "report"},
    "backtest": {"promotion", "scoring", "tracking", "report"},
    "train": {"scoring", "report"},
    "score": {"report"},
}


def _section_hashes(cfg: Config, stage: str) -> dict[str, str]:
    data = cfg.model_dump(mode="json")
    return {
        name: hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        for name, value in sorted(data.items())
        if name not in _LABELS | _LATER[stage]
    }


def stamp(cfg: Config, stage: str, data_hashes: dict[str, str | None]) -> BuiltFrom:
    """What a hand-over of ``stage`` built now from ``cfg`` and these inputs records."""
    return BuiltFrom(stage=stage, config_sections=_section_hashes(cfg, stage), data_hashes=dict(data_hashes))


def check_stamp(
    cfg: Config,
    built: BuiltFrom | None,
    stage: str,
    *,
    file: Path | str,
    data_hashes: dict[str, str | None] | None,
) -> None:
    """Refuse a hand-over of ``stage`` not built from ``cfg`` (and, if given, from these inputs).

    Raises:
        InputError: naming the differing config sections or inputs, and the stage to rerun.
    """
    rerun = f"run `riskcast {stage}` with this config first (or `riskcast run`)"
    if built is None:
        raise InputError(f"does not record the config and inputs it was built from: {rerun}", file=str(file))
    now = _section_hashes(cfg, stage)
    sections = sorted(
        k for k in set(now) | set(built.config_sections) if now.get(k) != built.config_sections.get(k)
    )
    reasons = []
    if sections:
        reasons.append(f"with other settings in [{'], ['.join(sections)}] than this config")
    if data_hashes is not None and built.data_hashes != data_hashes:
        changed = sorted(
            k
            for k in set(data_hashes) | set(built.data_hashes)
            if data_hashes.get(k) != built.data_hashes.get(k)
        )
        reasons.append(f"from other data than the tables ingested here (inputs {', '.join(changed)})")
    if reasons:
        raise InputError(f"was built {' and '.join(reasons)}: {rerun}", file=str(file))


def record_ingest(o: RunOutputs, cfg: Config, data: Ingested) -> IngestRecord:
    """Write the ingested tables and ``ingest.json``, and start a new ``run.json``."""
    for name in INGEST_TABLES:
        write_df(getattr(data, name), o.tables / f"{name}.parquet")
    record = IngestRecord(
        inputs=data.reports,
        data_hashes=data.hashes,
        region_assignment=data.assignment,
        warnings=data.warnings,
        data_vintages=data.vintages,
        built_from=stamp(cfg, "ingest", data.hashes),
    )
    write_record(o.ingest, record)
    # The stamps of the later stages describe files still in the folder, so they survive a new
    # ingest: the next stage compares them with the data ingested now and refuses stale ones.
    previous = _carried_stamps(o)
    update_run_json(
        o,
        fresh=True,
        config_hash=config_hash(cfg),
        stages={**previous, "ingest": record.built_from},
        **record.model_dump(exclude={"built_from"}),
    )
    return record


def _carried_stamps(o: RunOutputs) -> dict[str, BuiltFrom]:
    """The later stages' stamps of the folder's run.json; none when it is missing or unreadable
    (ingest is the stage that starts run.json afresh, so a damaged one must not block it, and
    without stamps every later hand-over is refused until rebuilt)."""
    try:
        return dict(read_run(o).stages) if o.run.exists() else {}
    except InputError:
        return {}


def _check_inputs(cfg: Config, record: IngestRecord, units: pd.DataFrame, *, file: str) -> None:
    """Refuse ingested tables that were not read from the inputs ``cfg`` names, as they are now.

    A failed ``riskcast ingest`` leaves the previous tables in place, so without this check
    ``riskcast features`` would build a panel from another file than the config names.
    """
    reports, hashes = record.inputs, record.data_hashes
    diffs = [
        f"input {n!r} is in the config but was not ingested" for n in sorted(set(cfg.inputs) - set(reports))
    ]
    diffs += [
        f"input {n!r} was ingested but is not in the config" for n in sorted(set(reports) - set(cfg.inputs))
    ]
    for name in sorted(set(cfg.inputs) & set(reports)):
        spec, before = cfg.inputs[name], reports[name].get("input")
        now = input_record(spec, cfg)
        if before is not None and before != now:
            diffs += [
                f"{'seed' if k == 'seed' else f'inputs.{name}.{k}'} is {now.get(k)!r} in the config, "
                f"the tables were read with {before.get(k)!r}"
                for k in sorted(set(now) | set(before))
                if now.get(k) != before.get(k)
            ]
            continue
        if (
            spec.format not in ("synthetic", "curated", "vintage")
            and spec.path is not None
            and not Path(spec.path).is_file()
        ):
            diffs.append(f"inputs.{name}.path {str(spec.path)!r} is not found")
            continue
        digest = current_digest(spec)
        if digest is not None and hashes.get(name) not in (None, digest):
            diffs.append(
                f"inputs.{name} ({spec.path or spec.format}) changed since it was ingested "
                f"(sha256 {str(hashes[name])[:12]} then, {digest[:12]} now)"
            )
    expected = load_units(cfg)
    if sorted(expected["unit_id"]) != sorted(units["unit_id"]):
        diffs.append(
            f"the config's units ({cfg.unit}, {', '.join(cfg.countries)}: {len(expected)}) are not those "
            f"the tables were assigned to ({len(units)})"
        )
    if diffs:
        raise InputError(
            "the tables here were not ingested from the inputs this config names, as they are now "
            f"({'; '.join(diffs)}): run `riskcast ingest` with this config first "
            "(a failed ingest leaves the previous tables in place)",
            file=file,
        )


def _ingest_record(o: RunOutputs, cfg: Config, units: pd.DataFrame | None = None) -> IngestRecord:
    """``ingest.json``, refused unless ``cfg`` ingested it; with ``units`` (the ingested units
    table) the inputs are also compared with the files as they are now, which names the
    differing input in detail, so that check goes first."""
    record = read_record(o.require(o.ingest, "ingest"), IngestRecord, "ingest")
    if units is not None:
        _check_inputs(cfg, record, units, file=str(o.ingest))
    check_stamp(cfg, record.built_from, "ingest", file=o.ingest, data_hashes=None)
    return record


def verified_data_hashes(out: Path, cfg: Config) -> dict[str, str | None]:
    """The data hashes of the tables ingested in ``out``, refused unless ``cfg`` ingested them
    from its inputs as they are now."""
    o = RunOutputs(out)
    units = pd.read_parquet(o.require(o.tables / "units.parquet", "ingest"))
    return _ingest_record(o, cfg, units).data_hashes


def load_ingested(out: Path, cfg: Config) -> Ingested:
    """The tables ``riskcast ingest`` wrote in ``out``, refused unless they were read from the
    inputs ``cfg`` names, as those are now (a failed ingest leaves the previous tables behind)."""
    o = RunOutputs(out)
    tables = {
        name: pd.read_parquet(o.require(o.tables / f"{name}.parquet", "ingest")) for name in INGEST_TABLES
    }
    record = _ingest_record(o, cfg, tables["units"])
    return Ingested(
        **tables,
        reports=record.inputs,
        hashes=record.data_hashes,
        assignment=record.region_assignment,
        warnings=record.warnings,
        vintages=record.data_vintages,
    )


#: the file each stage hands over (what a refusal names)
_HANDED_OVER = {
    "features": "features.parquet",
    "backtest": "metrics.csv",
    "train": "model.json",
    "score": "scores.csv",
}


def require_upstream(
    cfg: Config, out: Path, *upstream: str, reread_inputs: bool, config_only: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """Refuse unless the ingest and each ``upstream`` stage's hand-over in ``out`` were built from
    ``cfg`` and from the same ingested data; returns that data's hashes.

    Hand-overs of the ``config_only`` stages need only the same config: a registered model or a
    backtest made on last month's data still serves this month's scores and report.

    ``reread_inputs`` also hashes the input files again (when a stage reads its hand-over from
    disk, the inputs may have changed since); a hand-over passed in memory within one run skips it.
    """
    o = RunOutputs(out)
    for stage in (*upstream, *config_only):  # the nearest missing stage is the one to name
        o.require(o.dir / _HANDED_OVER[stage], stage)
    data = verified_data_hashes(out, cfg) if reread_inputs else _ingest_record(o, cfg).data_hashes
    stages = dict(read_run(o).stages)
    if o.score_record.exists():  # scoring stamps its own record, not run.json (see ScoreRecord)
        stages["score"] = read_record(o.score_record, ScoreRecord, "score").built_from
    for stage in upstream:
        check_stamp(cfg, stages.get(stage), stage, file=o.dir / _HANDED_OVER[stage], data_hashes=data)
    for stage in config_only:
        check_stamp(cfg, stages.get(stage), stage, file=o.dir / _HANDED_OVER[stage], data_hashes=None)
    return data


def mark_built(cfg: Config, out: Path, stage: str, data_hashes: dict[str, str | None]) -> BuiltFrom:
    """Record in ``run.json`` that ``stage`` wrote its hand-over from ``cfg`` and this data."""
    o = RunOutputs(out)
    built = stamp(cfg, stage, data_hashes)
    update_run_json(o, stages={**read_run(o).stages, stage: built})
    return built
