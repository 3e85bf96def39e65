"""What can go wrong in a fetch, and the exit code each gives."""
from __future__ import annotations

from riskcast.errors import ConfigError

__all__ = ["FetchError", "CredentialsError", "QuotaError", "ShrinkRefused", "EXIT_FETCH_FAILED"]

#: exit code of ``riskcast fetch`` when the source failed or its answer was refused (nothing written)
EXIT_FETCH_FAILED = 3


class FetchError(Exception):
    """The source failed (network, server, an answer that does not parse) or its answer was
    refused; no vintage was written and ``current`` did not move."""


class CredentialsError(ConfigError):
    """Missing or refused credentials (401/403), or a password file others can read (exit 2)."""


class QuotaError(FetchError):
    """The fetch would need more requests than the day's quota has left."""


class ShrinkRefused(FetchError):
    """The fetch returned far fewer rows than the current vintage for the same query."""
