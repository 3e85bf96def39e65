"""A ledger of the requests sent to a source today, for sources with a daily quota (UCDP).

UCDP allows 5,000 requests a day per token, errors included, and tells nobody how many are
left: riskcast counts its own, in ``DATA_DIR/<source>/quota.json`` (written after every request,
under the source's fetch lock), and resets the count when the UTC day changes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from riskcast.atomic import write_text
from riskcast.fetch.errors import QuotaError

__all__ = ["QuotaLedger"]


class QuotaLedger:
    def __init__(self, path: str | Path, daily_limit: int, source: str) -> None:
        self.path, self.daily_limit, self.source = Path(path), int(daily_limit), source
        self.day, self.used = self._today(), 0
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                if data.get("day") == self.day:
                    self.used = int(data.get("used", 0))
            except (OSError, ValueError):
                pass  # an unreadable ledger counts from zero; the server still enforces its quota

    @staticmethod
    def _today() -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%d")

    @property
    def remaining(self) -> int:
        if self._today() != self.day:
            self.day, self.used = self._today(), 0
        return max(0, self.daily_limit - self.used)

    def count(self) -> None:
        """One request sent (whatever its answer)."""
        _ = self.remaining  # roll over at midnight UTC
        self.used += 1
        write_text(
            self.path,
            json.dumps({"day": self.day, "used": self.used, "daily_limit": self.daily_limit}) + "\n",
        )

    def require(self, needed: int, what: str) -> None:
        """Refuse, before sending them, ``needed`` requests that the day's quota cannot cover.

        Raises:
            QuotaError: naming what is needed, what is left and when the count resets.
        """
        left = self.remaining
        if needed > left:
            raise QuotaError(
                f"{self.source}: {what} needs {needed} more request(s), but only {left} of the daily "
                f"{self.daily_limit} are left today ({self.used} used, errors included; the count resets at "
                f"00:00 UTC; ledger {self.path}). Nothing was written: narrow the query "
                "(--country, --since, --until) or fetch tomorrow."
            )
