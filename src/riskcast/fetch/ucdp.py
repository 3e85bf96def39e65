"""UCDP's API: GED yearly releases (``25.1``) and monthly GED Candidate releases (``25.0.3``).

``GET /api/gedevents/<version>?pagesize=1000&page=N&Country=432,439&StartDate=..&EndDate=..``
with the access token in the ``x-ucdp-access-token`` header. Answers carry ``TotalCount``,
``TotalPages``, ``NextPageUrl`` (empty on the last page) and the events in ``Result``. Pages
are numbered from 0; riskcast builds each page's URL itself on the configured host rather than
following ``NextPageUrl`` (which names the server's own host), so the token goes nowhere else.

UCDP allows 5,000 requests a day, errors included. The first page of each release says how many
pages the rest needs; before asking for them the fetch checks the day's ledger
(:class:`~riskcast.fetch.quota.QuotaLedger`) and refuses if they would not fit.

A release is immutable, so an update fetches only the releases the current vintage lacks and
adds their events to it.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import requests

from riskcast.fetch.errors import FetchError
from riskcast.fetch.http import Redactor, RetryPolicy, get_json, join_url
from riskcast.fetch.quota import QuotaLedger
from riskcast.fetch.rows import rows_to_raw
from riskcast.fetch.update import Fetched
from riskcast.io.base import ReadReport
from riskcast.io.ucdp import ged_events
from riskcast.io.vintages import Vintage

__all__ = ["UcdpClient", "DEFAULT_BASE_URL", "GW_CODES", "PAGE_SIZE", "TOKEN_HEADER", "ged_path"]

DEFAULT_BASE_URL = "https://ucdpapi.pcr.uu.se"
TOKEN_HEADER = "x-ucdp-access-token"
PAGE_SIZE = 1000  # the API's largest page
#: Gleditsch & Ward country codes, which the API's ``Country`` filter takes
GW_CODES = {"Mali": 432, "Niger": 436, "Burkina Faso": 439}

Progress = Callable[[int, int | None], None]

_FIELDS = (
    "id",
    "date_start",
    "date_end",
    "date_prec",
    "where_prec",
    "type_of_violence",
    "side_a",
    "side_b",
    "best",
    "country",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "priogrid_gid",
    "where_coordinates",
    "source_headline",
)


def ged_path(version: str) -> str:
    return f"/api/gedevents/{version}"


def _country_codes(countries: list[str]) -> str:
    codes = []
    for c in countries:
        if str(c).isdigit():
            codes.append(str(c))
        elif c in GW_CODES:
            codes.append(str(GW_CODES[c]))
        else:
            raise FetchError(
                f"UCDP filters countries by Gleditsch & Ward code; riskcast knows {sorted(GW_CODES)}, "
                f"not {c!r}: pass its code instead (e.g. --country 432)"
            )
    return ",".join(codes)


class UcdpClient:
    source = "ucdp"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ledger: QuotaLedger,
        policy: RetryPolicy,
        redact: Redactor,
        echo: Callable[[str], None] = lambda m: None,
    ) -> None:
        self.base_url, self.ledger, self.policy, self.redact, self.echo = (
            base_url,
            ledger,
            policy,
            redact,
            echo,
        )
        self.redact.add(token)
        self.session = requests.Session()
        self.session.headers[TOKEN_HEADER] = token
        self.requests = 0

    def _count(self) -> None:
        self.requests += 1
        self.ledger.count()

    def _page(self, version: str, params: dict, page: int) -> dict:
        what = f"UCDP {ged_path(version)}, page {page}"
        self.ledger.require(1, what)
        body = get_json(
            self.session,
            join_url(self.base_url, ged_path(version)),
            params={**params, "page": page},
            policy=self.policy,
            what=what,
            redact=self.redact,
            on_request=self._count,
            echo=self.echo,
        )
        if not isinstance(body, dict) or not isinstance(body.get("Result"), list) or "TotalPages" not in body:
            raise FetchError(
                f"{what}: expected UCDP's JSON with 'Result', 'TotalCount' and 'TotalPages', got "
                f"{sorted(body)[:8] if isinstance(body, dict) else type(body).__name__}"
            )
        return body

    def _release(self, version: str, params: dict, first: dict, progress: Callable[[], None]) -> pd.DataFrame:
        """Every page of one release (its first page already in hand) as canonical events."""
        body, got = first, list(first["Result"])
        page, total_pages = 0, _whole(first, "TotalPages", version)
        progress()
        while body.get("NextPageUrl") and page + 1 < total_pages:
            page += 1
            body = self._page(version, params, page)
            got.extend(body["Result"])
            progress()
        total = _whole(first, "TotalCount", version)
        if len(got) != total:
            raise FetchError(
                f"UCDP {ged_path(version)}: TotalCount says {total} events but the pages held {len(got)}: "
                "a partial answer, refused"
            )
        label = f"UCDP API {ged_path(version)}"
        return ged_events(
            rows_to_raw(got, label=label, columns=_FIELDS),
            ReadReport(file=label, format="ucdp_api", table="events"),
        ).table

    def fetch(self, query: dict, previous: Vintage | None, *, progress: Progress | None = None) -> Fetched:
        versions = list(query["versions"])
        if not versions:
            raise FetchError(
                "UCDP: name the GED release(s) to fetch with --version (e.g. 25.1, or 25.0.3 for a "
                "monthly GED Candidate release)"
            )
        bad = [v for v in versions if _precedence(v) is None]
        if bad:
            raise FetchError(
                f"UCDP: {bad[0]!r} is not a GED release name (25.1 yearly, 25.0.3 monthly candidate)"
            )
        same = previous is not None and previous.manifest.get("query") == _identity(query)
        have = list(previous.manifest.get("checkpoint", {}).get("versions", [])) if same else []
        todo = [v for v in versions if v not in have]
        # an update adds candidate releases only; a new yearly release replaces candidates it covers: fetch all again
        incremental = same and set(have) <= set(versions) and not any(_is_yearly(v) for v in todo)
        if not incremental:
            todo = versions
        params = {"pagesize": PAGE_SIZE, "Country": _country_codes(list(query["countries"]))}
        if query.get("since"):
            params["StartDate"] = query["since"]
        if query.get("until"):
            params["EndDate"] = query["until"]
        self.ledger.require(len(todo), f"the first page of {len(todo)} release(s)")
        first = {v: self._page(v, params, 0) for v in todo}
        expected = sum(max(1, _whole(b, "TotalPages", v)) for v, b in first.items())
        self.ledger.require(
            expected - len(first), f"the remaining pages of {', '.join(todo) or 'no release'}"
        )
        done = [0]

        def advance() -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0], expected)

        # releases in precedence order (24.1 < 25.0.1 < 25.0.2 < 25.1): a later one's copy of an event wins
        tables = [
            self._release(v, params, first[v], advance).assign(_release=v)
            for v in sorted(todo, key=_precedence)
        ]
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        notes = [f"releases fetched: {', '.join(todo) or 'none (all in the current vintage)'}"]
        covered = _yearly_end(versions)
        if covered is not None and len(table):
            superseded = table["_release"].map(lambda v: not _is_yearly(v)) & (
                pd.to_datetime(table["date"]) <= covered
            )
            if superseded.any():
                notes.append(
                    f"{int(superseded.sum())} candidate events dated up to {covered:%Y-%m-%d} left out: "
                    "the yearly release covers that period"
                )
            table = table.loc[~superseded]
        if len(table):
            repeated = int(table["event_id"].duplicated(keep="last").sum())
            if repeated:
                notes.append(
                    f"{repeated} events appear in more than one release: the latest release's copy kept"
                )
            table = table.drop_duplicates("event_id", keep="last")
        table = table.drop(columns="_release", errors="ignore").reset_index(drop=True)
        notes.append(f"requests used today: {self.ledger.used} of {self.ledger.daily_limit}")
        return Fetched(
            table=table,
            incremental=incremental,
            endpoint=join_url(self.base_url, "/api/gedevents/"),
            dataset_version=",".join(versions),
            checkpoint={"versions": sorted(set(have + todo) if incremental else set(todo), key=_precedence)},
            requests=self.requests,
            pages=done[0],
            notes=notes,
        )


def _whole(body: dict, key: str, version: str) -> int:
    try:
        return int(body.get(key))
    except (TypeError, ValueError):
        raise FetchError(
            f"UCDP {ged_path(version)}: {key} is {body.get(key)!r}, not a whole number"
        ) from None


def _precedence(version: str) -> tuple[int, ...] | None:
    """Order of releases: 24.1 < 25.0.1 < 25.0.2 < 25.1 (None: not a release name)."""
    try:
        parts = tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return None
    return parts if len(parts) >= 2 else None


def _is_yearly(version: str) -> bool:
    """``25.1`` is a yearly release; ``25.0.3`` (and quarterly ``22.01.22.09``) are candidates."""
    parts = _precedence(version)
    return parts is not None and len(parts) == 2 and parts[1] >= 1


def _yearly_end(versions: list[str]) -> pd.Timestamp | None:
    """The last day the newest yearly release covers: release 25.1 holds events through 2024."""
    years = [2000 + _precedence(v)[0] - 1 for v in versions if _is_yearly(v)]
    return pd.Timestamp(f"{max(years)}-12-31") if years else None


def _identity(query: dict) -> dict:
    """What makes two UCDP fetches comparable: the filters, not the list of releases."""
    return {k: v for k, v in query.items() if k != "versions"}
