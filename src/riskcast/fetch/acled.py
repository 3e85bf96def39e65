"""ACLED's API (2025): OAuth password grant, paged reads, incremental updates with deletions.

The flow follows ACLED's API documentation and its R client acledR (``acled_update``):

* ``POST /oauth/token`` with ``grant_type=password``, ``client_id=acled``, the account e-mail as
  ``username`` and its password gives a Bearer access token (24 h) and a refresh token (14 days).
  Authlib's OAuth2 session reuses the access token and, once it has expired, asks for a new one
  with the refresh token, so a fetch logs in once. A token the server stops accepting mid-fetch
  (401) is refreshed once and the page asked again.
* ``GET /api/acled/read?_format=json&country=..&event_date=A|B&event_date_where=BETWEEN
  &limit=5000&page=N`` (``with_total=true`` asks for ``total_count``), one country at a time,
  pages 1, 2, ... until a short or empty page. A page count that falls short of ``total_count``
  is an error, not the end of the data.
* An update asks only for events changed since the newest ``timestamp`` of the current vintage
  (``timestamp=T&timestamp_where=>=``) and for the events ACLED withdrew since the last fetch
  (``GET /api/deleted/read?deleted_timestamp=T&deleted_timestamp_where=>=``), which are removed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import date

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from riskcast.fetch.errors import CredentialsError, FetchError
from riskcast.fetch.http import (
    HttpStatus,
    Redactor,
    RetryPolicy,
    get_json,
    join_url,
    retry_after_seconds,
    retrying,
)
from riskcast.fetch.rows import rows_to_raw
from riskcast.fetch.update import Fetched
from riskcast.io.acled import acled_events
from riskcast.io.base import ReadReport
from riskcast.io.vintages import Vintage

__all__ = ["AcledClient", "DEFAULT_BASE_URL", "TOKEN_PATH", "READ_PATH", "DELETED_PATH", "PAGE_LIMIT"]

DEFAULT_BASE_URL = "https://acleddata.com"
TOKEN_PATH, READ_PATH, DELETED_PATH = "/oauth/token", "/api/acled/read", "/api/deleted/read"
PAGE_LIMIT = 5000  # ACLED's documented page size
CLIENT_ID = "acled"
#: deletions are asked from this long before the previous fetch started (clocks differ; removing an
#: event that is already gone changes nothing)
DELETION_OVERLAP_S = 86_400

Progress = Callable[[int, int | None], None]


class AcledClient:
    """One fetch's session with ACLED: logs in once, then reads pages.

    Args:
        base_url: scheme and host (``https://acleddata.com``); the paths are ACLED's.
        email, password: the account's credentials (never logged, never in a message).
        policy: time-outs and retries.
        echo: where retry notices go.
    """

    source = "acled"

    def __init__(
        self,
        base_url: str,
        email: str,
        password: str,
        *,
        policy: RetryPolicy,
        redact: Redactor,
        echo: Callable[[str], None] = lambda m: None,
    ) -> None:
        self.base_url, self.policy, self.redact, self.echo = base_url, policy, redact, echo
        self._email, self._password = email, password
        self.redact.add(email, password)
        self.token_url = join_url(base_url, TOKEN_PATH)
        self.session = OAuth2Session(
            client_id=CLIENT_ID,
            token_endpoint=self.token_url,
            default_timeout=policy.timeout,
            token_endpoint_auth_method="none",
            update_token=self._remember,
        )
        # never follow a redirect: requests would resend the password (307/308) or the token to another host
        self.session.max_redirects = 0
        self.session.hooks["response"].append(self._token_hook)
        self.requests = 0
        self.logins = 0
        self.refreshes = 0

    # --- tokens -----------------------------------------------------------------------------

    def _remember(self, token, refresh_token=None, access_token=None) -> None:  # noqa: ARG002 - authlib's hook
        # authlib calls this after every refresh, its own (an expired token) and ours (a refused one)
        self.refreshes += 1
        self.redact.add(token.get("access_token"), token.get("refresh_token"))

    def _token_hook(self, resp: requests.Response, *args, **kwargs) -> None:  # noqa: ARG002 - a requests hook
        """Statuses of the token endpoint that authlib would misread as a token: 429 and 5xx are
        raised to be retried (honouring Retry-After), 401/403 are refused credentials."""
        if resp.request is None or not str(resp.request.url).startswith(self.token_url):
            return
        if resp.status_code == 429 or resp.status_code >= 500:
            raise HttpStatus(
                resp.status_code, resp.reason or "", retry_after_seconds(resp.headers.get("Retry-After")), ""
            )
        if resp.status_code in (401, 403):
            raise CredentialsError(
                f"ACLED refused the login (HTTP {resp.status_code}): check ACLED_EMAIL and the "
                "password, and that the account has API access"
            )

    def _token_call(self, what: str, call: Callable[[], dict]) -> dict:
        try:
            for attempt in retrying(self.policy, f"ACLED {what}", self.redact, self.echo):
                with attempt:
                    self.requests += 1
                    token = call()
        except OAuthError as exc:
            raise CredentialsError(
                self.redact(
                    f"ACLED {what} refused ({exc.error}: {exc.description or 'no description'}): check ACLED_EMAIL and the "
                    "password, and that the account has API access"
                )
            ) from None
        except HttpStatus as exc:
            raise FetchError(
                self.redact(
                    f"ACLED {what}: HTTP {exc.status} {exc.reason} after {self.policy.attempts} tries"
                )
            ) from None
        except requests.TooManyRedirects:
            raise FetchError(
                f"ACLED {what}: the token endpoint answered with a redirect, which riskcast does not follow "
                "with credentials: if the new address is right, pass it as --base-url"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise FetchError(
                self.redact(
                    f"ACLED {what}: no answer after {self.policy.attempts} tries ({type(exc).__name__})"
                )
            ) from None
        except (ValueError, KeyError) as exc:
            if isinstance(exc, CredentialsError):
                raise
            raise FetchError(
                self.redact(f"ACLED {what}: the token endpoint's answer is not a token ({exc})")
            ) from None
        if not isinstance(token, dict) or not token.get("access_token"):
            raise FetchError(
                f"ACLED {what}: the token endpoint answered without an access_token "
                f"(keys {sorted(token) if isinstance(token, dict) else type(token).__name__})"
            )
        self.redact.add(token.get("access_token"), token.get("refresh_token"))
        return token

    def login(self) -> None:
        """Password grant: one access token (and refresh token) for the whole fetch."""
        self._token_call(
            "login",
            lambda: self.session.fetch_token(
                self.token_url,
                username=self._email,
                password=self._password,
                grant_type="password",
                timeout=self.policy.timeout,
            ),
        )
        self.logins += 1

    def _refresh(self) -> None:
        self._token_call(
            "token refresh", lambda: self.session.refresh_token(self.token_url, timeout=self.policy.timeout)
        )

    # --- pages ------------------------------------------------------------------------------

    def _count(self) -> None:
        self.requests += 1

    def _get(self, path: str, params: dict, what: str) -> dict:
        try:
            return self._get_page(path, params, what)
        except OAuthError as exc:  # authlib's own refresh of an expired token was refused
            raise CredentialsError(
                self.redact(
                    f"{what}: refreshing the access token was refused ({exc.error}); "
                    "log in again (check ACLED_EMAIL and the password)"
                )
            ) from None

    def _get_page(self, path: str, params: dict, what: str) -> dict:
        url = join_url(self.base_url, path)
        try:
            body = get_json(
                self.session,
                url,
                params=params,
                policy=self.policy,
                what=what,
                redact=self.redact,
                on_request=self._count,
                echo=self.echo,
            )
        except CredentialsError as exc:
            # a token the server stopped accepting before its stated expiry: refresh once, ask again
            if getattr(exc, "status", None) != 401 or not self.session.token.get("refresh_token"):
                raise
            self.echo(f"{what}: the access token was refused (401); refreshing it")
            self._refresh()
            body = get_json(
                self.session,
                url,
                params=params,
                policy=self.policy,
                what=what,
                redact=self.redact,
                on_request=self._count,
                echo=self.echo,
            )
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise FetchError(
                f"{what}: expected ACLED's JSON envelope with a 'data' list, got "
                f"{type(body).__name__} with keys {sorted(body)[:8] if isinstance(body, dict) else '-'}"
            )
        if body.get("success") is False or (body.get("status") not in (None, 200, "200")):
            raise FetchError(
                self.redact(
                    f"{what}: ACLED answered status {body.get('status')}: {body.get('messages') or body.get('error')}"
                )
            )
        return body

    def _pages(self, path: str, params: dict, what: str, progress: Progress | None) -> tuple[list[dict], int]:
        rows: list[dict] = []
        page, expected, total_count = 1, None, None
        while True:
            body = self._get(
                path,
                {**params, "limit": PAGE_LIMIT, "page": page, "with_total": "true"},
                f"{what}, page {page}",
            )
            data = body["data"]
            rows.extend(data)
            if total_count is None and body.get("total_count") is not None:
                total_count = int(body["total_count"])
                expected = max(1, math.ceil(total_count / PAGE_LIMIT))
            if progress is not None:
                progress(page, expected)
            if len(data) < PAGE_LIMIT:
                break
            page += 1
        if total_count is not None and len(rows) < total_count:
            raise FetchError(
                f"{what}: ACLED announced {total_count} rows but its pages ended after {len(rows)} "
                f"(page {page} had {len(data)} rows): a partial answer, refused"
            )
        return rows, page

    # --- the fetch --------------------------------------------------------------------------

    def fetch(self, query: dict, previous: Vintage | None, *, progress: Progress | None = None) -> Fetched:
        """Every event of ``query`` (countries, since, until), or only what changed since
        ``previous`` when it answered the same query."""
        started = int(time.time())
        incremental = (
            previous is not None
            and previous.manifest.get("query") == query
            and "max_timestamp" in previous.manifest.get("checkpoint", {})
        )
        self.login()
        base = {"_format": "json"}
        since, until = query.get("since"), query.get("until")
        if since or until:
            base["event_date"] = f"{since or '1997-01-01'}|{until or date.max.isoformat()}"
            base["event_date_where"] = "BETWEEN"
        if incremental:
            base["timestamp"] = int(previous.manifest["checkpoint"]["max_timestamp"])
            base["timestamp_where"] = ">="
        rows: list[dict] = []
        pages = 0
        for country in query["countries"]:
            got, n = self._pages(
                READ_PATH, {**base, "country": country}, f"ACLED {READ_PATH} ({country})", progress
            )
            rows.extend(got)
            pages += n
        deleted: set[str] = set()
        if incremental:
            since_del = (
                int(previous.manifest["checkpoint"].get("fetch_started", started)) - DELETION_OVERLAP_S
            )
            got, n = self._pages(
                DELETED_PATH,
                {"_format": "json", "deleted_timestamp": since_del, "deleted_timestamp_where": ">="},
                f"ACLED {DELETED_PATH}",
                progress,
            )
            deleted = {str(r.get("event_id_cnty")) for r in got if r.get("event_id_cnty")}
            pages += n
        rows, repeated = _unique_rows(rows)
        label = f"ACLED API {READ_PATH} ({', '.join(query['countries'])})"
        result = acled_events(
            rows_to_raw(rows, label=label, columns=_FIELDS),
            ReadReport(file=label, format="acled_api", table="events"),
        )
        table = result.table
        prev_max = int(previous.manifest["checkpoint"]["max_timestamp"]) if incremental else 0
        newest = (
            int(table["recorded"].max().timestamp())
            if len(table) and table["recorded"].notna().any()
            else prev_max
        )
        return Fetched(
            table=table,
            incremental=incremental,
            deleted=deleted,
            endpoint=join_url(self.base_url, READ_PATH),
            checkpoint={"max_timestamp": max(newest, prev_max), "fetch_started": started},
            requests=self.requests,
            pages=pages,
            notes=[f"logins {self.logins}, token refreshes {self.refreshes}"]
            + (
                [f"{repeated} rows came twice (ACLED's data changed during the fetch; the last copy kept)"]
                if repeated
                else []
            )
            + [f"{k}: {v}" for k, v in sorted(result.report.dropped.items())],
        )


def _unique_rows(rows: list[dict]) -> tuple[list[dict], int]:
    """One row per event: pages are offsets, so an event added while a fetch runs shifts a row
    onto the next page as well."""
    by_id = {str(r.get("event_id_cnty")): r for r in rows}
    return list(by_id.values()), len(rows) - len(by_id)


# the fields the reader needs, present even when a page is empty
_FIELDS = (
    "event_id_cnty",
    "event_date",
    "time_precision",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "country",
    "admin1",
    "admin2",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "notes",
    "fatalities",
    "timestamp",
)
