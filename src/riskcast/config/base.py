"""The base of every config section: frozen (a run's settings never change under it) and strict
(an unknown key is a typo, refused)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["_Frozen"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
