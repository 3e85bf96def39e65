"""Stage 1: read every configured input, assign events to units, report what was kept and why."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from riskcast import facts, synth
from riskcast.config import Config, InputSpec
from riskcast.errors import InputError
from riskcast.features.presence import check_presence_overlaps
from riskcast.hashing import file_sha256
from riskcast.io.base import ReadReport, ReadResult
from riskcast.io.bounds import check_at_most
from riskcast.io.merge import merge_events
from riskcast.io.registry import read_input
from riskcast.io.vintages import resolve_vintage
from riskcast.panel import to_month
from riskcast.paths import facts_file
from riskcast.regions import (
    Gazetteer,
    assign_units,
    check_unassigned,
    load_boundaries,
)
from riskcast.regions.units import load_units
from riskcast.schemas import COUNTS, EVENTS, PRESENCE, SHOCKS, empty

__all__ = ["Ingested", "ingest", "input_record", "current_digest"]

#: The curated tables each kind of ``format = "curated"`` input reads.
_CURATED = {"shocks": "shocks_sahel.csv", "presence": "presence_sahel.csv"}


@dataclass
class Ingested:
    """Canonical tables of one run, with units assigned, and the account of every input."""

    events: pd.DataFrame
    counts: pd.DataFrame
    presence: pd.DataFrame
    shocks: pd.DataFrame
    units: pd.DataFrame
    reports: dict[str, dict] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    assignment: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: input name -> the fetched vintage it was read from (inputs of format ``vintage`` only)
    vintages: dict[str, dict] = field(default_factory=dict)


def _read(name: str, spec: InputSpec, cfg: Config) -> tuple[ReadResult, str]:
    """Read one input; returns the result and the sha256 of the bytes it came from."""
    if spec.format == "synthetic":
        end = spec.options.get("end", "2024-12")
        df = synth.default_events(
            seed=cfg.seed,
            start=spec.options.get("start", "2012-01"),
            end=end,
            level=spec.options.get("level", "admin1"),
        )
        report = ReadReport(
            file="<synthetic>", format="synthetic", table="events", rows_read=len(df), rows_kept=len(df)
        )
        report.notes.append("SYNTHETIC events from riskcast.synth (seeded generator), not real events")
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        return ReadResult(df, report), hashlib.sha256(buf.getvalue().encode()).hexdigest()
    if spec.format == "curated":
        loader = {"shocks": facts.load_shocks, "presence": facts.load_presence}
        if spec.kind not in loader:
            raise InputError(
                f"format 'curated' provides shocks and presence, not {spec.kind}", file=f"inputs.{name}"
            )
        fname = _CURATED[spec.kind]
        df = loader[spec.kind]()
        report = ReadReport(
            file=str(facts_file(fname)),
            format="curated",
            table=spec.kind,
            rows_read=len(df),
            rows_kept=len(df),
        )
        return ReadResult(df, report), file_sha256(facts_file(fname))
    if spec.path is None:
        raise InputError(
            f"input {name!r} (format {spec.format}) needs a path", file="config", column=f"inputs.{name}.path"
        )
    result = read_input(spec.kind, spec.format, spec.path, sheet=spec.sheet, options=dict(spec.options))
    if result.report.vintage is not None:  # a fetched vintage: its table's hash, checked against its manifest
        return result, result.report.vintage["sha256"]
    return result, file_sha256(spec.path)


def input_record(spec: InputSpec, cfg: Config) -> dict:
    """What an input was read as: its config entry (and the seed, for the generator), as JSON."""
    rec = spec.model_dump(mode="json")
    if spec.format == "synthetic":  # the generator's output is fixed by its options and the seed
        rec["seed"] = cfg.seed
    return json.loads(json.dumps(rec, sort_keys=True))


def current_digest(spec: InputSpec) -> str | None:
    """The sha256 an input would be recorded with if it were read now (None: the generator,
    whose output is fixed by its record)."""
    if spec.format == "synthetic":
        return None
    if spec.format == "curated":
        return file_sha256(facts_file(_CURATED[spec.kind])) if spec.kind in _CURATED else None
    if spec.path is None:
        return None
    if spec.format == "vintage":
        return resolve_vintage(spec.path).manifest["sha256"]
    return file_sha256(spec.path)


def _select_countries(
    df: pd.DataFrame, report: ReadReport, countries: tuple[str, ...], column: str = "country"
) -> pd.DataFrame:
    keep = df[column].isin(countries)
    report.drop(f"country not in run ({', '.join(countries)})", int((~keep).sum()))
    return df[keep]


def ingest(cfg: Config, pins: dict[str, Path] | None = None) -> Ingested:
    """Read all inputs, merge events without double counting, assign them to units.

    ``pins`` maps an input of format ``vintage`` to the exact vintage folder to read (the
    monthly job pins the vintages its fetch step just wrote).
    """

    units = load_units(cfg)
    results: dict[str, list[tuple[str, ReadResult]]] = {
        "events": [],
        "counts": [],
        "presence": [],
        "shocks": [],
    }
    hashes: dict[str, str] = {}
    records: dict[str, dict] = {}
    for name, spec in sorted(cfg.inputs.items()):
        if pins and name in pins:
            spec = spec.model_copy(update={"path": Path(pins[name])})
        result, digest = _read(name, spec, cfg)
        if spec.kind == "events":
            check_at_most(
                result,
                "fatalities",
                cfg.ingest.max_fatalities_per_event,
                setting="ingest.max_fatalities_per_event",
            )
        results[spec.kind].append((name, result))
        hashes[name] = digest
        records[name] = input_record(cfg.inputs[name], cfg)  # as configured, not as pinned

    reports = {name: r.report for kind in results for name, r in results[kind]}
    # Country filter before merging, so that the counts of what was dropped stay per input.
    for kind in ("events", "counts"):
        for name, r in results[kind]:
            r.table = _select_countries(r.table, r.report, cfg.countries)
    _require_some_events(results, cfg)
    if results["events"]:
        events, dups = merge_events([r for _, r in results["events"]])
        for name, r in results["events"]:
            n = dups.get(r.report.file, 0)
            r.report.drop("duplicate of an event already read from an earlier input", n)
    else:
        events = empty(EVENTS)

    gaz = Gazetteer(units)
    boundaries = (
        load_boundaries(cfg.regions.boundaries, cfg.regions.name_property) if cfg.regions.boundaries else None
    )
    events, assign_report = assign_units(events, gaz, boundaries=boundaries, file="events")
    check_unassigned(
        assign_report,
        cfg.regions.max_unassigned_share,
        file=", ".join(r.report.file for _, r in results["events"]) or "events",
    )
    unassigned = assign_report.unassigned
    for name, r in results["events"]:
        src_ids = set(r.table["event_id"])
        n = int(unassigned["event_id"].isin(src_ids).sum()) if len(unassigned) else 0
        r.report.drop("region could not be resolved to a unit (listed in run.json)", n)

    count_parts = []
    for name, r in results["counts"]:
        table = r.table.assign(
            event_id=[f"{name}-{i}" for i in range(len(r.table))],
            latitude=float("nan"),
            longitude=float("nan"),
        )
        assigned, rep = assign_units(table, gaz, file=r.report.file)
        check_unassigned(rep, cfg.regions.max_unassigned_share, file=r.report.file)
        r.report.drop("region could not be resolved to a unit", rep.n_events - rep.n_assigned)
        count_parts.append(assigned.drop(columns=["event_id", "latitude", "longitude"]))
    counts = (
        pd.concat(count_parts, ignore_index=True)
        if count_parts
        else empty(COUNTS).assign(unit_id=pd.Series(dtype=str))
    )

    def _concat(kind: str, schema) -> pd.DataFrame:
        parts = [r.table for _, r in results[kind]]
        return pd.concat(parts, ignore_index=True) if parts else empty(schema)

    _drop_duplicate_shocks(results["shocks"])
    for name, r in results["presence"]:  # per input, so that the error names the right file
        check_presence_overlaps(r.table, file=r.report.file)
    for kind in ("events", "counts", "presence", "shocks"):
        for name, r in results[kind]:
            r.report.rows_kept = r.report.rows_read - r.report.rows_dropped
    warnings = _overlap_warnings(events, counts)
    return Ingested(
        events=events,
        counts=counts,
        presence=_concat("presence", PRESENCE),
        shocks=_concat("shocks", SHOCKS),
        units=units,
        # each input's report records what it was read from, so later stages can tell stale tables
        reports={name: {**rep.to_dict(), "input": records[name]} for name, rep in reports.items()},
        hashes=hashes,
        assignment=assign_report.to_dict(),
        warnings=warnings,
        vintages={name: dict(rep.vintage) for name, rep in sorted(reports.items()) if rep.vintage},
    )


def _require_some_events(results: dict[str, list[tuple[str, ReadResult]]], cfg: Config) -> None:
    """Refuse a run left with no events and no counts: every later stage would have nothing to learn from."""
    sources = results["events"] + results["counts"]
    if any(len(r.table) for _, r in sources):
        return
    said = "; ".join(
        f"inputs.{name}: {r.report.rows_read} rows read, none in these countries" for name, r in sources
    )
    raise InputError(
        f"no events or counts for the run's countries ({', '.join(cfg.countries)}) in any input ({said})",
        file=", ".join(r.report.file for _, r in sources),
    )


def _drop_duplicate_shocks(results: list[tuple[str, ReadResult]]) -> None:
    """The same shock from two sources (a coup in the curated timeline and in Powell & Thyne)
    is kept once, from the first input by name, and counted as dropped in the others."""
    seen: set[tuple] = set()
    for name, r in results:
        t = r.table
        keys = list(zip(t["country"], pd.to_datetime(t["date"]), t["kind"], t["region"].fillna("")))
        dup = pd.Series([k in seen for k in keys], index=t.index)
        seen.update(keys)
        r.report.drop(
            "same shock (country, date, kind, region) already read from an earlier input", int(dup.sum())
        )
        r.table = t[~dup.to_numpy()]


def _overlap_warnings(events: pd.DataFrame, counts: pd.DataFrame) -> list[str]:
    """Events and aggregated counts for the same unit-month are both summed: say so."""
    if events.empty or counts.empty:
        return []
    ev = set(zip(events["unit_id"], to_month(events["date"])))
    ct = counts[counts["events"] > 0]
    both = sum(1 for key in zip(ct["unit_id"], pd.to_datetime(ct["month"])) if key in ev)
    if not both:
        return []
    return [
        f"{both} unit-months have both events and aggregated counts; both are summed in the panel "
        "(double counting if they describe the same events: use one kind of input per country)"
    ]
