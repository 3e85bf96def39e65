"""What a registered bundle needs to load outside riskcast's own environment.

Two things travel with every logged bundle:

- **pinned requirements**: ``name==installed version`` of every third-party distribution that
  unpickling the bundle and running it imports. The modules come from two places: the classes
  and functions the pickle refers to (a fitted statsmodels result, a LightGBM booster, numpy's
  array constructor, ...), and the imports of every riskcast module those load, followed
  through riskcast's own source (importing ``riskcast.models.glm`` runs
  ``riskcast/models/__init__.py``, which imports every model family). Reading imports from
  the source is deterministic and needs no subprocess, unlike MLflow's own inference, which
  loads the model again in a child process at every training.
- **riskcast's wheel**, written from the imported package at train time (see
  :func:`build_wheel` for why a wheel rather than ``code_paths``).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import sys
import types
import zipfile
from pathlib import Path

import cloudpickle

import riskcast

__all__ = ["pinned_requirements", "build_wheel", "imported_modules", "WHEEL_TAG"]

ROOT = "riskcast"
WHEEL_TAG = "py3-none-any"
#: What MLflow itself uses to load any pyfunc: pinned whatever riskcast imports, since a
#: python model pickled by one cloudpickle is only known to load with the same one.
_LOADER = ("mlflow", "cloudpickle")
#: A fixed timestamp for every wheel entry: the same code gives the same wheel, byte for byte.
_EPOCH = (1980, 1, 1, 0, 0, 0)


class _ModuleRecorder(cloudpickle.Pickler):
    """cloudpickle's own pickler (the one MLflow saves python models with), noting the module
    of every object, class and function it writes."""

    def __init__(self, file) -> None:
        super().__init__(file)
        self.modules: set[str] = set()

    def reducer_override(self, obj):
        self.modules.add(type(obj).__module__)
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)):
            name = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
            if isinstance(name, str):
                self.modules.add(name)
        return super().reducer_override(obj)


def pickled_modules(obj) -> set[str]:
    """The modules unpickling ``obj`` imports (as cloudpickle writes it)."""
    recorder = _ModuleRecorder(io.BytesIO())
    recorder.dump(obj)
    return {m for m in recorder.modules if m and m != "builtins"}


def _source_imports(module: str) -> set[str]:
    """Every module named by an import statement of a riskcast module's source (top-level or
    not, ``TYPE_CHECKING`` blocks included: a requirement too many is harmless, one too few
    breaks loading)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return set()
    package = module if spec.submodule_search_locations is not None else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            # ``from riskcast.models import glm`` names a submodule, not only the package
            found |= {f"{base}.{a.name}" for a in node.names if a.name != "*"}
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def imported_modules(start: set[str]) -> set[str]:
    """``start`` and, followed through riskcast's source, every module importing them imports.

    Third-party modules are kept as named (their own imports are their distribution's business:
    pip installs its dependencies); riskcast modules are opened and followed, parents included.
    """
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] in sys.stdlib_module_names or name == "__future__":
            continue
        if name.split(".")[0] != ROOT:
            seen.add(name)
            continue
        if not _is_module(name):  # a name imported from a riskcast module, not a module
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(_source_imports(name))
    return seen


def pinned_requirements(bundle) -> list[str]:
    """``name==version`` for every installed third-party distribution the bundle needs to load
    and predict (see the module docstring), sorted; riskcast itself is not among them."""
    modules = imported_modules(pickled_modules(bundle) | {type(bundle).__module__})
    tops = {m.split(".")[0] for m in modules} - {ROOT}
    by_module = importlib.metadata.packages_distributions()
    dists: set[str] = set(_LOADER)
    for top in tops:
        # a module no installed distribution provides cannot be needed at load time: training just
        # imported it, so it is an optional import that failed (``try: import x``)
        dists |= set(by_module.get(top, ()))
    pins = {}
    for dist in dists:
        meta = importlib.metadata.metadata(dist)
        pins[meta["Name"].lower()] = f"{meta['Name']}=={meta['Version']}"
    return [pins[k] for k in sorted(pins)]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest: Path) -> Path:
    """Write riskcast's wheel (pure Python, ``py3-none-any``) from the imported package into ``dest``.

    Why a wheel and not ``code_paths``: MLflow puts a model's code paths at the front of
    ``sys.path`` of whatever process loads the model, for the rest of its life. In riskcast's
    own scoring process an older champion's copy of ``riskcast/`` would then shadow the
    installed riskcast for every module imported after the load (the report stage, say), mixing
    two versions of riskcast in one process. A wheel is inert until someone installs it, which is
    what a fresh environment or ``--env-manager virtualenv`` does from the model's
    ``requirements.txt``.

    It is written here rather than by a build backend: riskcast may be installed from a wheel
    (no source tree to build), and a backend is not installed at run time (pip would fetch one).
    The wheel declares no dependencies: the model's ``requirements.txt`` pins what scoring
    needs, where riskcast's own metadata would pull in the CLI's, fetching's and reporting's.
    Entries carry a fixed date, so the same code gives the same bytes.
    """
    pkg = Path(riskcast.__file__).resolve().parent
    version = riskcast.__version__
    info = f"{ROOT}-{version}.dist-info"
    path = Path(dest) / f"{ROOT}-{version}-{WHEEL_TAG}.whl"
    files = sorted(
        p
        for p in pkg.rglob("*")
        if p.is_file() and "__pycache__" not in p.relative_to(pkg).parts and p.suffix not in (".pyc", ".pyo")
    )
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {ROOT}\n"
        f"Version: {version}\n"
        "Summary: riskcast's code as a registered model loads it (dependencies: the model's requirements.txt)\n"
        "Requires-Python: >=3.11\n"
    )
    wheel = f"Wheel-Version: 1.0\nGenerator: riskcast\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
    entries = [(f"{ROOT}/{p.relative_to(pkg).as_posix()}", p.read_bytes()) for p in files]
    entries += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel.encode())]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data)
    return path
