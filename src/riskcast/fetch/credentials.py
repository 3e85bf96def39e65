"""Credentials from the environment (never from the config, so they never reach a logged file)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from riskcast.fetch.errors import CredentialsError

__all__ = ["acled_credentials", "ucdp_token"]


def _password_file(path: str) -> str:
    """The password in ``path``, which only its owner may read (like ssh's private keys)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise CredentialsError("ACLED_PASSWORD_FILE names a file that does not exist", file=str(p)) from None
    except OSError as exc:
        raise CredentialsError(
            f"the password file cannot be read ({type(exc).__name__})", file=str(p)
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"the password file can be read by others (mode {stat.S_IMODE(st.st_mode):o}): "
            f"run `chmod 600 {p}`",
            file=str(p),
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CredentialsError("the password file belongs to another user", file=str(p))
    try:
        text = p.read_text(encoding="utf-8").strip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:  # a folder, no permission, not text
        raise CredentialsError(
            f"the password file cannot be read ({type(exc).__name__})", file=str(p)
        ) from None
    if not text:
        raise CredentialsError("the password file is empty", file=str(p))
    return text


def acled_credentials(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(e-mail, password) of the ACLED account: ``ACLED_EMAIL`` and ``ACLED_PASSWORD`` or
    ``ACLED_PASSWORD_FILE``.

    Raises:
        CredentialsError: a variable missing, or a password file others can read.
    """
    env = os.environ if env is None else env
    email = env.get("ACLED_EMAIL", "").strip()
    if not email:
        raise CredentialsError(
            "set ACLED_EMAIL to the e-mail of your ACLED account (and ACLED_PASSWORD or "
            "ACLED_PASSWORD_FILE): see README, 'Getting data'"
        )
    if env.get("ACLED_PASSWORD_FILE"):
        return email, _password_file(env["ACLED_PASSWORD_FILE"])
    password = env.get("ACLED_PASSWORD", "")
    if not password:
        raise CredentialsError(
            "set ACLED_PASSWORD, or ACLED_PASSWORD_FILE to a file only you can read, "
            "with the password of your ACLED account"
        )
    return email, password


def ucdp_token(env: Mapping[str, str] | None = None) -> str:
    """The UCDP API access token (``UCDP_ACCESS_TOKEN``).

    Raises:
        CredentialsError: the variable is missing.
    """
    env = os.environ if env is None else env
    token = env.get("UCDP_ACCESS_TOKEN", "").strip()
    if not token:
        raise CredentialsError(
            "set UCDP_ACCESS_TOKEN to your UCDP API access token (request one from UCDP): "
            "see README, 'Getting data'"
        )
    return token
