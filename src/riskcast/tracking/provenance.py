"""Which riskcast made a run or a model version: its version and, from a git checkout, its commit."""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import riskcast

__all__ = ["git_commit", "provenance_tags", "TAG_VERSION", "TAG_COMMIT", "MLFLOW_COMMIT_TAG"]

TAG_VERSION = "riskcast.version"
TAG_COMMIT = "riskcast.git_commit"
#: The tag MLflow's UI shows as a run's "Git commit". MLflow sets it only when the program's entry
#: script lies in a git checkout, which the ``riskcast`` console script (in the venv) never does.
MLFLOW_COMMIT_TAG = "mlflow.source.git.commit"

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=4)
def git_commit(package: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout riskcast's own source lies in; None elsewhere.

    Asked of the folder of the imported package (``package`` overrides it), not of the current
    directory (cron starts anywhere). The package must be tracked there: riskcast installed into
    a virtual environment that sits inside some other repository must not claim that
    repository's commit. Read once per process.
    """
    pkg = Path(package or Path(riskcast.__file__).resolve().parent)
    if _git(pkg, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    sha = _git(pkg, "rev-parse", "HEAD")
    return sha if sha and _SHA.match(sha) else None


def provenance_tags() -> dict[str, str]:
    """The tags every riskcast run and registered version carries: version, and commit when known."""
    tags = {TAG_VERSION: riskcast.__version__}
    sha = git_commit()
    if sha:
        tags[TAG_COMMIT] = sha
        tags[MLFLOW_COMMIT_TAG] = sha
    return tags
