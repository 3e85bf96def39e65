"""Optional parts of riskcast (``pyproject.toml`` extras), refused in words when a config needs one.

The PDF renderer and Dask are extras so that the main job installs only what it needs; a config
that asks for them on a machine without them gets exit 2 and the command that installs them,
before any work starts, instead of an ImportError after the backtest.
"""

from __future__ import annotations

from importlib.util import find_spec

from riskcast.errors import ConfigError

__all__ = ["EXTRAS", "require_extra"]

#: extra -> the modules it provides (as imported)
EXTRAS = {
    "pdf": ("weasyprint", "pypdfium2"),
    "dask": ("dask", "distributed"),
}


def require_extra(extra: str, *, key: str, alternative: str) -> None:
    """Raise unless every module of ``extra`` can be imported.

    Args:
        extra: a name in :data:`EXTRAS`.
        key: the config key that asks for it (named in the message).
        alternative: what to set instead, in words.
    """
    missing = [m for m in EXTRAS[extra] if find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"needs riskcast's {extra!r} extra ({', '.join(missing)} not installed): "
            f"pip install 'riskcast[{extra}]', or {alternative}",
            key=key,
        )
