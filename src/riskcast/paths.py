"""Where riskcast finds the files users edit (features/, models/, pipelines/, reports/).

In a source checkout they are the top-level folders; in an installed wheel they are shipped
inside the package under ``riskcast/_project``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["project_file", "facts_file"]

_PKG = Path(__file__).resolve().parent


def project_file(*parts: str) -> Path:
    """Path of a project file such as ``project_file("reports", "report.html.j2")``."""
    for root in (_PKG.parent.parent, _PKG / "_project"):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError("/".join(parts))


def facts_file(name: str) -> Path:
    """Path of one of riskcast's curated fact tables (shipped in ``riskcast/facts``)."""
    return _PKG / "facts" / name
