"""Reading a TOML settings file and turning pydantic's first complaint into plain words.

Shared by the run config (``settings``) and the monthly job's pipeline spec (``pipeline``), so
both name the file and the dotted key the same way.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from riskcast.errors import ConfigError

__all__ = ["read_toml", "first_error"]


def read_toml(path: Path, what: str) -> dict:
    """The TOML file at ``path`` as a dict; a missing or malformed file is a ConfigError naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None


def first_error(exc: ValidationError) -> tuple[str, str, int]:
    """pydantic's first problem as (dotted key, message in plain words, number of problems)."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "value_error" and "error" in err.get("ctx", {}):
        msg = str(err["ctx"]["error"])  # our validators' own words, without pydantic's "Value error, "
    else:
        msg = err["msg"]
    return key, msg, exc.error_count()
