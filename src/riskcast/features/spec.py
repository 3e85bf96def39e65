"""Feature sets as data: ``features/*.toml`` -> feature objects.

A set file lists features by class name with their parameters::

    name = "history_only"
    include = []                 # other sets whose features come first
    [[features]]
    feature = "Rolling"
    window = [3, 6, 12]          # a list expands: one feature per value (cartesian product)
    stat = "sum"
    of = { feature = "Events", event_type = ["Battles", "Violence against civilians"] }

A parameter whose default is a tuple (e.g. ``months``) takes a list as its value; a list of
lists expands. An unknown feature, an unknown parameter or a bad value fails at load time
naming the file and the key (``features[3].windw``).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import tomllib
from pathlib import Path

from riskcast.errors import ConfigError
from riskcast.features import calendar, history, presence, shocks, spatial
from riskcast.features.base import Feature, FeatureError
from riskcast.paths import project_file

__all__ = ["registry", "load_feature_set", "FeatureSet", "resolve_set_path", "describe_registry"]


def registry() -> dict[str, type[Feature]]:
    """Every feature class by name."""
    out: dict[str, type[Feature]] = {}
    for mod in (history, spatial, presence, shocks, calendar):
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if isinstance(obj, type) and issubclass(obj, Feature) and obj is not Feature:
                out[name] = obj
    return out


class FeatureSet:
    """A named, ordered list of features loaded from a file, with the file's hash."""

    def __init__(
        self, name: str, features: list[Feature], path: Path, sha256: str, description: str = ""
    ) -> None:
        self.name, self.features, self.path, self.sha256, self.description = (
            name,
            features,
            path,
            sha256,
            description,
        )

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.features]

    def __len__(self) -> int:
        return len(self.features)


def resolve_set_path(name_or_path: str | Path) -> Path:
    """A set name (``default``) is looked up in ``features/``; anything else is a path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ConfigError("feature set file not found", file=str(p))
        return p
    try:
        return project_file("features", f"{name_or_path}.toml")
    except FileNotFoundError:
        raise ConfigError(f"no feature set named {name_or_path!r} in features/", key="features.set") from None


def _build(table: dict, reg: dict[str, type[Feature]], file: str, key: str) -> list[Feature]:
    if not isinstance(table, dict) or "feature" not in table:
        raise ConfigError("expected a table with a 'feature' key (the feature class)", file=file, key=key)
    cls_name = table["feature"]
    cls = reg.get(cls_name)
    if cls is None:
        raise ConfigError(
            f"unknown feature {cls_name!r}; known: {', '.join(sorted(reg))}", file=file, key=f"{key}.feature"
        )
    sig = inspect.signature(cls.__init__)
    params = {p: s for p, s in sig.parameters.items() if p != "self"}
    choices: list[list[tuple[str, object]]] = []
    for param, value in table.items():
        if param == "feature":
            continue
        if param not in params:
            raise ConfigError(
                f"{cls_name} has no parameter {param!r}; it takes: {', '.join(params) or 'none'}",
                file=file,
                key=f"{key}.{param}",
            )
        default = params[param].default
        takes_tuple = isinstance(default, tuple)
        if isinstance(value, dict):
            options = _build(value, reg, file, f"{key}.{param}")
        elif isinstance(value, list) and not (takes_tuple and not any(isinstance(v, list) for v in value)):
            options = [
                _inner(v, reg, file, f"{key}.{param}[{i}]")
                if isinstance(v, dict)
                else (tuple(v) if takes_tuple else v)
                for i, v in enumerate(value)
            ]
            options = [o for opt in options for o in (opt if isinstance(opt, list) else [opt])]
        else:
            options = [tuple(value) if takes_tuple and isinstance(value, list) else value]
        choices.append([(param, o) for o in options])
    out = []
    for combo in itertools.product(*choices) if choices else [()]:
        kwargs = dict(combo)
        try:
            out.append(cls(**kwargs))
        except FeatureError as exc:
            raise ConfigError(str(exc), file=file, key=f"{key}.{exc.param}" if exc.param else key) from None
        except TypeError as exc:
            raise ConfigError(f"{cls_name}: {exc}", file=file, key=key) from None
    return out


def _inner(value: dict, reg, file, key) -> list[Feature]:
    return _build(value, reg, file, key)


def load_feature_set(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> FeatureSet:
    """Load a feature set file (and the sets it includes), checking every name and parameter."""
    path = resolve_set_path(name_or_path)
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    unknown = set(data) - {"name", "description", "include", "features"}
    if unknown:
        raise ConfigError(
            "unknown key (expected name, description, include, features)",
            file=str(path),
            key=sorted(unknown)[0],
        )
    reg = registry()
    feats: list[Feature] = []
    digest = hashlib.sha256(raw)
    for inc in data.get("include", []):
        if inc in _seen:
            raise ConfigError(
                f"feature sets include each other in a cycle: {' -> '.join((*_seen, inc))}",
                file=str(path),
                key="include",
            )
        sub = load_feature_set(inc, (*_seen, str(name_or_path)))
        feats += sub.features
        digest.update(sub.sha256.encode())
    for i, table in enumerate(data.get("features", [])):
        feats += _build(table, reg, str(path), f"features[{i}]")
    seen, unique = set(), []
    for f in feats:  # a feature declared twice (e.g. by an include) is kept once
        if f.name not in seen:
            seen.add(f.name)
            unique.append(f)
    return FeatureSet(
        data.get("name", path.stem), unique, path, digest.hexdigest(), data.get("description", "")
    )


def describe_registry() -> list[dict]:
    """Every feature class: name, family, parameters with defaults, description."""
    rows = []
    for name, cls in sorted(registry().items()):
        sig = inspect.signature(cls.__init__)
        params = []
        for p, s in sig.parameters.items():
            if p == "self":
                continue
            d = s.default
            params.append(
                p if d is inspect.Parameter.empty else f"{p}={d.name if isinstance(d, Feature) else d!r}"
            )
        rows.append(
            {
                "feature": name,
                "family": cls.family,
                "params": ", ".join(params),
                "description": (cls.__doc__ or "").strip().splitlines()[0],
            }
        )
    return rows
