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


def imported_riskcast_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("riskcast."):
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
