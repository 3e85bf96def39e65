"""Declared dependencies match what riskcast imports, and the extras stay optional.

``pyproject.toml`` declares the core dependencies and the extras (``pdf``, ``dask``, ``server``,
``dev``). A module imported by riskcast but declared nowhere works here only by accident (another
package pulled it in); an extra imported on the main job's path makes it a core dependency in
all but name.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

from riskcast import extras
from riskcast.config import default_config
from riskcast.errors import ConfigError
from riskcast.jobs.run import run_all
from riskcast.scale import backend_for
from tests.conftest import PROJECT

SRC = PROJECT / "src" / "riskcast"
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())
#: modules of each extra, and the only files allowed to import them
EXTRA_MODULES = {
    "weasyprint": ("pdf", {"reporting/pdf.py"}),
    "pypdfium2": ("pdf", {"reporting/pdf.py"}),
    "dask": (
        "dask",
        {
            "scale/dask.py",
            "scale/dask_features.py",
            "scale/dask_models.py",
            "scale/dask_blocks.py",
            "scale/block_hurdle.py",
        },
    ),
    "distributed": (
        "dask",
        {
            "scale/dask.py",
            "scale/dask_features.py",
            "scale/dask_models.py",
            "scale/dask_blocks.py",
            "scale/block_hurdle.py",
        },
    ),
}


def _names(requirements: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower().replace("_", "-") for r in requirements}


def _third_party_imports() -> dict[str, set[str]]:
    """top-level module -> files (relative to src/riskcast) importing it, stdlib and riskcast left out."""
    found: dict[str, set[str]] = {}
    for f in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            else:
                continue
            for m in mods:
                top = m.split(".")[0]
                if top != "riskcast" and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, set()).add(f.relative_to(SRC).as_posix())
    return found


def test_every_imported_package_is_declared():
    core = _names(PYPROJECT["project"]["dependencies"])
    extras = {k: _names(v) for k, v in PYPROJECT["project"]["optional-dependencies"].items()}
    dists = packages_distributions()
    undeclared = {}
    for module, files in sorted(_third_party_imports().items()):
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        extra = EXTRA_MODULES.get(module, (None,))[0]
        declared = core | (extras.get(extra, set()) if extra else set())
        if not names & declared:
            undeclared[module] = sorted(files)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_extras_are_imported_only_where_they_are_optional():
    imports = _third_party_imports()
    for module, (extra, allowed) in EXTRA_MODULES.items():
        assert imports.get(module, set()) <= allowed, f"{module} (extra {extra!r}) imported outside {allowed}"


def test_the_main_job_and_the_cli_load_without_the_extras_and_test_tools():
    code = (
        "import sys, riskcast.cli, riskcast.jobs.run, riskcast.jobs.retrain, riskcast.reporting.report; "
        "bad = sorted({'dask', 'distributed', 'weasyprint', 'pypdfium2', 'pytest', 'playwright', 'psycopg2'}"
        " & {m.split('.')[0] for m in sys.modules}); print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"loaded on the main path: {r.stdout.strip()}"


def test_the_dev_extra_brings_every_other_extra():
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    self_ref = next(r for r in dev if r.startswith("riskcast["))
    wanted = set(PYPROJECT["project"]["optional-dependencies"]) - {"dev"}
    assert set(self_ref[len("riskcast[") : -1].split(",")) == wanted


def test_a_config_needing_a_missing_extra_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(extras.EXTRAS, "pdf", ("weasyprint", "no_such_module_riskcast"))
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as e:
        run_all(default_config(["report.pdf=true"]), out, echo=lambda m: None)
    assert str(e.value) == (
        "key 'report.pdf': needs riskcast's 'pdf' extra (no_such_module_riskcast not installed): "
        "pip install 'riskcast[pdf]', or set report.pdf = false for the HTML report only"
    )
    assert not out.exists()


def test_the_dask_backend_without_dask_is_refused_in_words(monkeypatch):
    monkeypatch.setitem(extras.EXTRAS, "dask", ("no_such_dask_riskcast",))
    with pytest.raises(
        ConfigError, match=r"pip install 'riskcast\[dask\]', or set compute.backend = \"local\""
    ):
        backend_for(default_config(['compute.backend="dask"']).compute)
