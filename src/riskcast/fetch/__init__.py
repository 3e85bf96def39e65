"""Live data: riskcast fetches its own inputs (ACLED's API, UCDP's GED API, the coups list).

Each fetch writes an immutable vintage (:mod:`riskcast.io.vintages`) holding the same canonical
table the file readers produce, so a run on fetched data goes through the same ingestion as a
run on a file downloaded by hand (``inputs.<name>.format = "vintage"``).
"""

from __future__ import annotations

from riskcast.fetch.errors import EXIT_FETCH_FAILED, CredentialsError, FetchError, QuotaError, ShrinkRefused
from riskcast.fetch.http import RetryPolicy
from riskcast.fetch.runner import SOURCES, FetchOutcome, FetchRequest, fetch_source, source_root

__all__ = [
    "fetch_source",
    "FetchRequest",
    "FetchOutcome",
    "RetryPolicy",
    "SOURCES",
    "source_root",
    "FetchError",
    "CredentialsError",
    "QuotaError",
    "ShrinkRefused",
    "EXIT_FETCH_FAILED",
]
