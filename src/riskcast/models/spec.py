"""Model sets as data: ``models/*.toml`` -> named, unfitted estimators.

A set file lists models by class name with their parameters::

    name = "default"
    description = "..."
    [[models]]
    name = "climatology"          # every set needs it: the reference of the skill scores
    model = "Climatology"
    [[models]]
    name = "logistic"
    model = "LogisticCount"
    features = "full"             # a column list the run provides ("full", "history")
    params = { C = 0.05 }
    [[models]]
    name = "ensemble"
    model = "Ensemble"
    members = ["logistic"]        # models declared above, cloned
    [[models]]
    name = "logistic_calibrated"
    model = "Calibrated"
    base = "logistic"             # a model declared above, cloned

Models know nothing of features: the run passes the column lists, and the baselines' columns
(``share``, ``sum``, ``current``) fill their ``share_column``, ``sum_column`` and ``column``
parameters. An unknown model, parameter or name fails at load time naming the file and the key
(``models[3].params.Cc``).
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
import warnings
from pathlib import Path

from sklearn.base import BaseEstimator, clone

from riskcast.errors import ConfigError
from riskcast.paths import project_file

__all__ = [
    "registry",
    "load_model_set",
    "resolve_model_set_path",
    "refit_overrides",
    "describe_models",
    "REFERENCE_MODEL",
]

#: The model every set must contain: skill scores are relative to it.
REFERENCE_MODEL = "climatology"
_MODULES = ("baselines", "linear", "glm", "gbm", "calibration", "ensemble", "tuning", "shrinkage")
_TOP_KEYS = {"name", "description", "models"}
_MODEL_KEYS = {
    *("name", "model", "description", "features", "params", "members", "base", "part_only"),
    "refit_every",
}
# Parameters a set file may not give in ``params``: the run, the backtest or another key sets them.
_RESERVED = {
    "columns": 'use features = "<list name>"',
    "estimator": 'use base = "<model name>"',
    "members": "use members = [...] at the model level",
    "horizon": "the backtest sets it for each horizon",
    "share_column": "the run sets the baselines' columns",
    "sum_column": "the run sets the baselines' columns",
    "column": "the run sets the baselines' columns",
}
_BASELINE_PARAMS = {"share_column": "share", "sum_column": "sum", "column": "current"}


def _scan() -> tuple[dict[str, type], dict[str, str]]:
    classes: dict[str, type] = {}
    missing: dict[str, str] = {}
    for mod_name in _MODULES:
        full = f"riskcast.models.{mod_name}"
        try:
            mod = importlib.import_module(full)
        except ImportError as exc:  # glm/gbm may not exist yet; reported, never silent
            missing[full] = f"{type(exc).__name__}: {exc}"
            continue
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if isinstance(obj, type) and issubclass(obj, BaseEstimator):
                classes[name] = obj
    return classes, missing


def registry() -> dict[str, type]:
    """Every model class by name (classes of modules that fail to import are left out)."""
    return _scan()[0]


def resolve_model_set_path(name_or_path: str | Path) -> Path:
    """A set name (``default``) is looked up in ``models/``; anything else is a path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ConfigError("model set file not found", file=str(p))
        return p
    try:
        return project_file("models", f"{name_or_path}.toml")
    except FileNotFoundError:
        raise ConfigError(f"no model set named {name_or_path!r} in models/", key="model.set") from None


def _str_list(value, file: str, key: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError("expected a non-empty list of model names", file=file, key=key)
    return value


def _build(
    i: int,
    table,
    built: dict,
    dropped: dict,
    reg: dict,
    missing: dict,
    file: str,
    columns: dict,
    baseline_columns: dict,
    climatology_window: int | None,
):
    """One model from its table: (name, estimator) or (name, reason it was dropped)."""
    key = f"models[{i}]"
    if not isinstance(table, dict):
        raise ConfigError("expected a table ([[models]])", file=file, key=key)
    unknown = sorted(set(table) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key (expected {', '.join(sorted(_MODEL_KEYS))})", file=file, key=f"{key}.{unknown[0]}"
        )
    for required in ("name", "model"):
        if not isinstance(table.get(required), str) or not table[required]:
            raise ConfigError(f"missing or empty {required!r} (a string)", file=file, key=f"{key}.{required}")
    name, cls_name = table["name"], table["model"]
    if name in built or name in dropped:
        raise ConfigError(f"duplicate model name {name!r}", file=file, key=f"{key}.name")
    cls = reg.get(cls_name)
    if cls is None:
        hint = "".join(f"; could not import {m} ({e})" for m, e in missing.items())
        raise ConfigError(
            f"unknown model {cls_name!r}; known: {', '.join(sorted(reg))}{hint}",
            file=file,
            key=f"{key}.model",
        )
    accepted = set(cls._get_param_names())
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("expected a table of parameters", file=file, key=f"{key}.params")
    kwargs: dict = {}
    choices = getattr(cls, "_param_choices", {})
    for p, v in params.items():
        if p not in accepted:
            raise ConfigError(
                f"{cls_name} has no parameter {p!r}; it takes: {', '.join(sorted(accepted - set(_RESERVED))) or 'none'}",
                file=file,
                key=f"{key}.params.{p}",
            )
        if p in _RESERVED or (
            p == "window" and climatology_window is not None and "share_column" in accepted
        ):
            why = _RESERVED.get(p, "the run sets the climatology window (model.climatology_months)")
            raise ConfigError(f"{p!r} cannot be set here: {why}", file=file, key=f"{key}.params.{p}")
        if p in choices and v not in choices[p]:
            raise ConfigError(
                f"{cls_name}.{p} must be one of {list(choices[p])}, not {v!r}",
                file=file,
                key=f"{key}.params.{p}",
            )
        kwargs[p] = v
    for p, which in _BASELINE_PARAMS.items():
        if p in accepted:
            if which not in baseline_columns:
                raise ValueError(
                    f"load_model_set: baseline_columns has no {which!r} column (needed by {cls_name})"
                )
            kwargs[p] = baseline_columns[which]
    if climatology_window is not None and "window" in accepted and "share_column" in accepted:
        kwargs["window"] = climatology_window
    if "features" in table:
        feats = table["features"]
        if "columns" not in accepted:
            raise ConfigError(
                f"{cls_name} reads no feature columns (it has no 'columns' parameter)",
                file=file,
                key=f"{key}.features",
            )
        if not isinstance(feats, str) or feats not in columns:
            raise ConfigError(
                f"unknown column list {feats!r}; the run provides: {', '.join(sorted(columns))}",
                file=file,
                key=f"{key}.features",
            )
        if not columns[feats]:
            return name, f"the run has no {feats!r} columns"
        kwargs["columns"] = tuple(columns[feats])
    for ref_key, param in (("base", "estimator"), ("members", "members")):
        if ref_key not in table:
            if param in accepted:
                raise ConfigError(
                    f"{cls_name} needs {ref_key} = ... (models declared above)",
                    file=file,
                    key=f"{key}.{ref_key}",
                )
            continue
        if param not in accepted:
            raise ConfigError(f"{cls_name} takes no {ref_key!r}", file=file, key=f"{key}.{ref_key}")
        refs = [table[ref_key]] if ref_key == "base" else _str_list(table[ref_key], file, f"{key}.{ref_key}")
        for j, ref in enumerate(refs):
            rkey = f"{key}.base" if ref_key == "base" else f"{key}.members[{j}]"
            if not isinstance(ref, str) or (ref not in built and ref not in dropped):
                raise ConfigError(
                    f"no model named {ref!r} declared above (known: {', '.join(built) or 'none'})",
                    file=file,
                    key=rkey,
                )
        if len(set(refs)) != len(refs):
            raise ConfigError("a member is listed twice", file=file, key=f"{key}.{ref_key}")
        live = [r for r in refs if r in built]
        if not live:
            return name, f"{ref_key} {refs} were dropped ({'; '.join(dropped[r] for r in refs)})"
        if len(live) < len(refs):
            warnings.warn(
                f"{file}: model {name!r} loses members {[r for r in refs if r not in built]} (dropped)",
                stacklevel=4,
            )
        kwargs[param] = clone(built[live[0]]) if ref_key == "base" else [(r, clone(built[r])) for r in live]
    try:
        return name, cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls_name}: {exc}", file=file, key=key) from None


def load_model_set(
    name_or_path: str | Path,
    columns: dict[str, list[str] | None],
    baseline_columns: dict[str, str],
    *,
    climatology_window: int | None = None,
) -> dict:
    """Load a model set file into ``{name: unfitted estimator}``, in file order.

    Args:
        name_or_path: a set name in ``models/`` (``"default"``) or a path to a TOML file.
        columns: the column lists models may read, by name (``full``, ``history``). A model
            whose list is empty or None is dropped with a warning (so is a ``Calibrated`` or
            ``Ensemble`` left with nothing to wrap).
        baseline_columns: ``share``, ``sum`` and ``current``: the baselines' columns.
        climatology_window: when given, the window of every climatology (it must match the
            ``share``/``sum`` columns); the file may then not set it.

    Raises:
        ConfigError: naming the file and the key, for anything wrong in the file.
    """
    path = resolve_model_set_path(name_or_path)
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError("unknown key (expected name, description, models)", file=file, key=unknown[0])
    tables = data.get("models")
    if not isinstance(tables, list) or not tables:
        raise ConfigError("expected at least one [[models]] table", file=file, key="models")
    reg, missing = _scan()
    built: dict = {}
    dropped: dict[str, str] = {}
    for i, table in enumerate(tables):
        name, est = _build(
            i, table, built, dropped, reg, missing, file, columns, baseline_columns, climatology_window
        )
        if isinstance(est, str):
            dropped[name] = est
            warnings.warn(f"{file}: model {name!r} dropped: {est}", stacklevel=2)
        else:
            built[name] = est
    for i, table in enumerate(tables):
        flag = table.get("part_only", False)
        if not isinstance(flag, bool):
            raise ConfigError("part_only must be true or false", file=file, key=f"models[{i}].part_only")
        if flag and table.get("name") == REFERENCE_MODEL:
            raise ConfigError(
                f"{REFERENCE_MODEL!r} cannot be part_only: it is the reference",
                file=file,
                key=f"models[{i}].part_only",
            )
    # part_only models are building blocks of a base/members reference: not backtested on their own
    hidden = {t.get("name") for t in tables if t.get("part_only") is True}
    built = {k: v for k, v in built.items() if k not in hidden}
    if REFERENCE_MODEL not in built:
        raise ConfigError(
            f"every model set needs a model named {REFERENCE_MODEL!r} (the reference of the skill scores)",
            file=file,
            key="models",
        )
    return built


def refit_overrides(name_or_path: str | Path) -> dict[str, int]:
    """Models of a set that fix their own backtest refit cadence (``refit_every = k`` in their
    table, origins between refits), overriding ``backtest.refit_every``: ``{name: k}``.

    Raises:
        ConfigError: a cadence that is not a whole number >= 1, naming the file and the key.
    """
    path = resolve_model_set_path(name_or_path)
    tables = tomllib.loads(path.read_text(encoding="utf-8")).get("models") or []
    out = {}
    for i, table in enumerate(tables):
        if "refit_every" not in table:
            continue
        k = table["refit_every"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(
                f"refit_every must be a whole number of origins >= 1, not {k!r}",
                file=str(path),
                key=f"models[{i}].refit_every",
            )
        out[table.get("name")] = k
    return out


def describe_models() -> list[dict]:
    """Every model class: name, module, parameters with defaults, description (for the CLI)."""
    classes, missing = _scan()
    rows = []
    for name, cls in sorted(classes.items()):
        params = []
        for p, s in inspect.signature(cls.__init__).parameters.items():
            if p == "self" or s.kind in (s.VAR_KEYWORD, s.VAR_POSITIONAL):
                continue
            params.append(p if s.default is inspect.Parameter.empty else f"{p}={s.default!r}")
        doc = (cls.__doc__ or "").strip().splitlines()
        rows.append(
            {
                "model": name,
                "module": cls.__module__,
                "params": ", ".join(params),
                "description": doc[0] if doc else "",
            }
        )
    for mod, err in sorted(missing.items()):
        rows.append({"model": "-", "module": mod, "params": "", "description": f"unavailable: {err}"})
    return rows
