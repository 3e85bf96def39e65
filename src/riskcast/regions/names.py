"""Place names as matching keys, and the countries' other spellings."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

__all__ = ["normalise_name", "normalise_names", "COUNTRY_ALIASES"]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")

#: Other spellings of the countries' names (normalised -> normalised), applied to the
#: gazetteer and the events alike: ISO3 codes and the short "Burkina".
COUNTRY_ALIASES: dict[str, str] = {
    "mli": "mali",
    "bfa": "burkina faso",
    "burkina": "burkina faso",
    "ner": "niger",
}


def normalise_name(s: str) -> str:
    """A place name as a matching key: accents folded, case folded, punctuation to spaces.

    ``"Ségou"``, ``"SEGOU"`` and ``" segou "`` give ``"segou"``; ``"Centre-Nord"`` gives
    ``"centre nord"``; ``"N'Guigmi"`` gives ``"n guigmi"``. Letters that Unicode does not
    decompose (``"ø"``, ``"œ"``) are dropped with the other non-alphanumerics.
    """
    decomposed = unicodedata.normalize("NFKD", str(s))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NON_ALNUM.sub(" ", plain).strip()


def normalise_names(s: pd.Series) -> pd.Series:
    """:func:`normalise_name` over a Series (each distinct value once); missing stays missing.

    Empty strings and names that normalise to nothing become missing too.
    """
    s = pd.Series(s)
    distinct = pd.unique(s.dropna())
    keys = {v: (normalise_name(v) or None) for v in distinct}
    return s.map(keys).astype(object).where(s.notna(), None)


def _country_key(c: object) -> str | None:
    if c is None or (not isinstance(c, str) and pd.isna(c)):
        return None
    k = normalise_name(c)
    return COUNTRY_ALIASES.get(k, k) or None


def _country_keys(s: pd.Series) -> pd.Series:
    return normalise_names(s).map(lambda k: None if k is None else COUNTRY_ALIASES.get(k, k))


def _split(v: object) -> list[str]:
    """A '|'-separated list cell as a list of stripped, non-empty items."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return []
    return [x.strip() for x in str(v).split("|") if x.strip()]
