"""Import boundaries: data flows one way (io -> panel -> features -> models -> evaluation -> reporting)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "riskcast"

# package -> riskcast packages it must never import
FORBIDDEN = {
    "io": ["features", "models", "evaluation", "tracking", "reporting", "jobs", "cli"],
    "features": ["models", "evaluation", "tracking", "reporting", "jobs", "cli", "io"],
    "models": ["features", "evaluation", "tracking", "reporting", "jobs", "cli", "io", "panel"],
    "evaluation": ["tracking", "reporting", "jobs", "cli", "io"],
    "reporting": [
        "models",
        "evaluation",
        "tracking",
        "jobs",
        "cli",
        "io",
        "config",
    ],  # the report takes ReportSettings, not the config
    "regions": ["features", "models", "evaluation", "tracking", "reporting", "jobs", "cli"],
    "panel": ["features", "models", "evaluation", "tracking", "reporting", "jobs", "cli"],
    "fetch": ["features", "models", "evaluation", "tracking", "reporting", "jobs", "cli", "panel"],
    "tracking": ["features", "evaluation", "reporting", "jobs", "cli", "io", "panel"],
    # where the work runs: below the stages, beside the models and the evaluation it runs
    "scale": ["jobs", "cli", "reporting"],
    # the output-folder contract sits below every stage and the report
    "outputs": [
        "io",
        "features",
        "models",
        "evaluation",
        "tracking",
        "reporting",
        "jobs",
        "cli",
        "panel",
        "regions",
    ],
}


#: Every package and top-level module of riskcast, lowest first: a module may import its own layer
#: and those below, never one above (circles inside a layer are tests/test_import_graph.py's job).
#: A new package must be placed here, so the test fails until its place is decided.
LAYERS = [
    {"__init__", "errors", "paths", "atomic", "extras", "coverage", "hashing"},
    {"schemas", "records"},
    {"io", "facts", "synth", "outputs", "models"},
    {"fetch"},
    {"config"},  # the config names the fetchable sources, so it sits above fetch
    {"panel", "regions"},
    {"features"},
    {"evaluation", "tracking", "drift"},
    {"scoring", "scoring_cache"},
    {"scale", "reporting"},
    {"jobs"},
    {"cli", "cli_out", "__main__"},
]


def imported_riskcast_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "riskcast":  # from riskcast import facts
            names |= {a.name for a in node.names if a.name != "__version__"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("riskcast."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("riskcast.")}
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_data_flow(package):
    files = list((SRC / package).rglob("*.py")) if (SRC / package).is_dir() else [SRC / f"{package}.py"]
    assert files
    for f in files:
        bad = imported_riskcast_modules(f) & set(FORBIDDEN[package])
        assert not bad, f"{f.relative_to(SRC)} imports {sorted(bad)}"


def _unit(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def test_every_package_has_a_layer():
    units = {_unit(f) for f in SRC.rglob("*.py")}
    placed = set().union(*LAYERS)
    assert units - placed == set(), "place these in LAYERS"
    assert placed - units == set(), "LAYERS names modules that do not exist"


@pytest.mark.parametrize("package", sorted({_unit(f) for f in SRC.rglob("*.py")}))
def test_no_module_imports_a_higher_layer(package):
    layer = {u: i for i, units in enumerate(LAYERS) for u in units}
    for f in sorted(SRC.rglob("*.py")):
        if _unit(f) != package:
            continue
        higher = {m for m in imported_riskcast_modules(f) if layer.get(m, -1) > layer[package]}
        assert not higher, f"{f.relative_to(SRC)} imports {sorted(higher)}, a higher layer than {package!r}"
