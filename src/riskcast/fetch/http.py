"""HTTP for the fetchers: timeouts on every request, retries with backoff, no plain http off loopback.

``requests`` does the HTTP and ``tenacity`` the retrying. What is retried: connection errors and
time-outs, 429 (waiting what its ``Retry-After`` asks) and 5xx, with exponential backoff and
jitter, up to ``attempts`` tries. Never retried: any other 4xx (a bad request stays bad), and an
answer that does not parse as JSON (the server sent it whole; asking again gives the same).
Every attempt, failed ones included, is reported to ``on_request`` (UCDP counts them against
its daily quota).
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import tenacity

from riskcast.errors import ConfigError
from riskcast.fetch.errors import CredentialsError, FetchError

__all__ = [
    "RetryPolicy",
    "HttpStatus",
    "Redactor",
    "require_secure_url",
    "join_url",
    "get_json",
    "retrying",
    "retry_after_seconds",
]


@dataclass(frozen=True)
class RetryPolicy:
    """Time-outs and retries of every request of a fetch."""

    timeout: float = 60.0  #: seconds to connect and between bytes read
    attempts: int = 6  #: tries per request, the first included
    backoff: float = 1.0  #: first wait (seconds); doubles at each retry
    max_backoff: float = 60.0  #: longest wait between tries
    max_retry_after: float = 600.0  #: a 429 asking to wait longer than this is given up at once
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(
                f"the time-out must be more than 0 seconds, got {self.timeout}", key="--timeout"
            )
        if self.attempts < 1:
            raise ConfigError(f"at least one try is needed, got {self.attempts}", key="--retries")


class HttpStatus(Exception):
    """An HTTP answer that is not 2xx (raised inside the retry loop)."""

    def __init__(self, status: int, reason: str, retry_after: float | None, body: str) -> None:
        self.status, self.reason, self.retry_after, self.body = status, reason, retry_after, body
        super().__init__(f"HTTP {status} {reason}")

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


class Redactor:
    """Replaces every secret it knows (passwords, tokens) by ``***`` in a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        # very short values would blank ordinary words; real secrets are longer
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def __call__(self, text: object) -> str:
        out = str(text)
        for s in sorted(self._secrets, key=len, reverse=True):
            out = out.replace(s, "***")
        return out


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure_url(url: str, *, key: str = "--base-url") -> str:
    """The URL without a trailing slash; plain ``http://`` only for loopback addresses.

    Credentials and tokens travel with these requests, so they must not cross a network in clear.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"expected an http(s) URL such as https://host, got {url!r}", key=key)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"plain http:// is refused for {parts.hostname} (credentials would travel in clear): "
            "use https://, or a loopback address (127.0.0.1, localhost) for a local test server",
            key=key,
        )
    return url.rstrip("/")


def join_url(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, HttpStatus):
        return exc.retryable
    return isinstance(
        exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    )


def retrying(
    policy: RetryPolicy, what: str, redact: Redactor, echo: Callable[[str], None] = lambda m: None
) -> tenacity.Retrying:
    """The retry loop of one request: tenacity's exponential backoff with jitter, or the wait a
    429's ``Retry-After`` asks for."""
    backoff = tenacity.wait_exponential_jitter(
        initial=policy.backoff, max=policy.max_backoff, jitter=policy.backoff
    )

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, HttpStatus) and exc.status == 429 and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        echo(
            redact(
                f"{what}: {exc}; try {state.attempt_number + 1} of {policy.attempts} in "
                f"{state.next_action.sleep if state.next_action else 0:.1f} s"
            )
        )

    def stop(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if (
            isinstance(exc, HttpStatus)
            and exc.retry_after is not None
            and exc.retry_after > policy.max_retry_after
        ):
            return True  # the server asks for a longer pause than a fetch should sit through
        return state.attempt_number >= policy.attempts

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(_retryable),
        wait=wait,
        stop=stop,
        sleep=policy.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def _send(
    session: requests.Session,
    method: str,
    url: str,
    policy: RetryPolicy,
    on_request: Callable[[], None] | None,
    **kwargs,
) -> requests.Response:
    if on_request is not None:
        on_request()
    # no redirects: requests keeps custom headers (UCDP's token) when it follows one to another host
    resp = session.request(method, url, timeout=policy.timeout, allow_redirects=False, **kwargs)
    if 300 <= resp.status_code < 400:
        raise requests.TooManyRedirects(f"redirected to {resp.headers.get('Location', '?')}", response=resp)
    if resp.status_code >= 400:
        raise HttpStatus(
            resp.status_code,
            resp.reason or "",
            retry_after_seconds(resp.headers.get("Retry-After")),
            resp.text[:500],
        )
    return resp


def get_json(
    session: requests.Session,
    url: str,
    *,
    params: dict | None = None,
    policy: RetryPolicy,
    what: str,
    redact: Redactor,
    on_request: Callable[[], None] | None = None,
    echo: Callable[[str], None] = lambda m: None,
    method: str = "GET",
    data: dict | None = None,
) -> object:
    """One request, retried as the policy says, decoded as JSON.

    Raises:
        CredentialsError: 401 or 403 (after the caller's own chance to refresh a token).
        FetchError: any other failure once retries are spent, or a body that is not JSON; the
            message names ``what`` and never carries a secret.
    """
    try:
        for attempt in retrying(policy, what, redact, echo):
            with attempt:
                resp = _send(session, method, url, policy, on_request, params=params, data=data)
    except HttpStatus as exc:
        if exc.status in (401, 403):
            err = CredentialsError(
                redact(
                    f"{what}: the server refused the credentials (HTTP {exc.status} {exc.reason}): "
                    f"{_error_text(exc.body)}"
                )
            )
            err.status = exc.status  # 401: a token to refresh; 403: an account without access
            raise err from None
        if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
            tries = f" asking to wait {exc.retry_after:.0f} s, longer than a fetch waits ({policy.max_retry_after:.0f} s)"
        else:
            tries = "" if not exc.retryable else f" after {policy.attempts} tries"
        raise FetchError(
            redact(f"{what}: HTTP {exc.status} {exc.reason}{tries}: {_error_text(exc.body)}")
        ) from None
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
        raise FetchError(
            redact(f"{what}: no answer after {policy.attempts} tries ({type(exc).__name__}: {exc})")
        ) from None
    except requests.TooManyRedirects:
        raise FetchError(
            f"{what}: the server answered with a redirect, which riskcast does not follow with credentials "
            "(they would go to another address): if the new address is right, pass it as --base-url"
        ) from None
    except requests.RequestException as exc:
        raise FetchError(redact(f"{what}: {type(exc).__name__}: {exc}")) from None
    try:
        return resp.json()
    except (json.JSONDecodeError, requests.exceptions.JSONDecodeError) as exc:
        raise FetchError(
            redact(
                f"{what}: the answer is not complete JSON ({len(resp.content)} bytes; {exc}); "
                "a truncated or garbled page"
            )
        ) from None


def _error_text(body: str) -> str:
    """A server's error body in one short line (JSON error fields when there are some)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        return " ".join(str(body).split())[:200] or "(empty body)"
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("error", "error_description", "message", "messages") if data.get(k)]
        if parts:
            return "; ".join(parts)[:300]
    return json.dumps(data)[:200]
