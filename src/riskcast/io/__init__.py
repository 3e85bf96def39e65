"""Readers that turn real input formats into riskcast's canonical tables.

Use :func:`read_input` (format name -> reader via :data:`READERS`) and :func:`merge_events`.
"""

from __future__ import annotations

from riskcast.io.merge import merge_events
from riskcast.io.registry import READERS, read_input

__all__ = ["read_input", "merge_events", "READERS"]
