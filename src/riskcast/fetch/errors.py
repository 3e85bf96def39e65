"""What can go wrong in a fetch, and the exit code each gives."""

from __future__ import annotations

from riskcast.errors import EXIT_FETCH_FAILED, ConfigError, FetchError

__all__ = ["FetchError", "CredentialsError", "QuotaError", "ShrinkRefused", "EXIT_FETCH_FAILED"]


class CredentialsError(ConfigError):
    """Missing or refused credentials (401/403), or a password file others can read (exit 2)."""


class QuotaError(FetchError):
    """The fetch would need more requests than the day's quota has left."""


class ShrinkRefused(FetchError):
    """The fetch returned far fewer rows than the current vintage for the same query."""
