"""Real HTTP servers on 127.0.0.1 that play ACLED's and UCDP's APIs as documented.

Each fake keeps its data and what it saw (logins, refreshes, requests), and can be told to
misbehave for the next requests of a path (``fail``): a 429 with ``Retry-After``, 500s, a
truncated body, an empty page.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from collections import defaultdict, deque

import pandas as pd
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

EMAIL, PASSWORD = "analyst@example.org", "correct horse battery staple 7"
UCDP_TOKEN = "ucdp-token-0f3a9c2e7b5d41c8"


def acled_rows(events: pd.DataFrame, timestamp: int) -> list[dict]:
    """Canonical events (e.g. riskcast's synthetic ones) as ACLED API rows (strings, as its JSON)."""
    out = []
    for r in events.itertuples(index=False):
        out.append(
            {
                "event_id_cnty": r.event_id,
                "event_date": f"{pd.Timestamp(r.date):%Y-%m-%d}",
                "year": str(pd.Timestamp(r.date).year),
                "time_precision": str(int(r.precision)) if pd.notna(r.precision) else "1",
                "disorder_type": "Political violence",
                "event_type": r.event_type,
                "sub_event_type": r.sub_event_type,
                "actor1": r.actor1,
                "actor2": r.actor2 if isinstance(r.actor2, str) else "",
                "country": r.country,
                "admin1": r.admin1,
                "admin2": r.admin2 if isinstance(r.admin2, str) else "",
                "location": "Somewhere",
                "latitude": f"{r.latitude:.4f}",
                "longitude": f"{r.longitude:.4f}",
                "geo_precision": str(int(r.geo_precision)) if pd.notna(r.geo_precision) else "1",
                "source": "riskcast test",
                "notes": "SYNTHETIC test event",
                "fatalities": str(int(r.fatalities)),
                "timestamp": str(int(timestamp)),
            }
        )
    return out


class _Base:
    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.failures: dict[str, deque] = defaultdict(deque)
        self.hits: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def start(self):
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving, in the background: werkzeug's shutdown waits out a 0.5 s poll, and every
        test starts its own server on a fresh port, so nothing needs to wait for it."""
        if self.server.is_running():
            self.server.clear()
            threading.Thread(target=self.server.stop, daemon=True).start()

    def fail(self, path: str, *responses: Response | str) -> None:
        """Answer the next requests of ``path`` with these (a Response, or 'truncated' / 'empty')."""
        self.failures[path].extend(responses)

    def _injected(self, path: str):
        with self.lock:
            self.hits[path] += 1
            return self.failures[path].popleft() if self.failures[path] else None


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


class FakeAcled(_Base):
    """ACLED's OAuth token endpoint, read endpoint and deletions endpoint."""

    def __init__(self, events: list[dict] | None = None, *, expires_in: int = 86400) -> None:
        super().__init__()
        self.events: dict[str, dict] = {r["event_id_cnty"]: r for r in (events or [])}
        self.deleted: list[dict] = []
        self.expires_in = expires_in
        self.access: dict[str, float] = {}  # token -> expiry (server clock)
        self.refresh_tokens: set[str] = set()
        self.issued: list[str] = []  # every access and refresh token ever given out
        self.logins = self.refreshes = 0
        self.revoke_after: int | None = None  # data requests after which the access token is refused
        self.read_params: list[dict] = []
        self.server.expect_request("/oauth/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request("/api/acled/read").respond_with_handler(self._read)
        self.server.expect_request("/api/deleted/read").respond_with_handler(self._deleted)

    # --- data changes -----------------------------------------------------------------------
    def add(self, rows: list[dict]) -> None:
        for r in rows:
            self.events[r["event_id_cnty"]] = dict(r)

    def revise(self, event_id: str, **fields) -> None:
        row = self.events[event_id]
        row.update({k: str(v) for k, v in fields.items()}, timestamp=str(int(time.time())))

    def delete(self, event_id: str) -> None:
        self.events.pop(event_id)
        self.deleted.append({"event_id_cnty": event_id, "deleted_timestamp": str(int(time.time()))})

    # --- endpoints --------------------------------------------------------------------------
    def _issue(self) -> Response:
        token, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.issued += [token, refresh]
        self.access[token] = time.time() + self.expires_in
        self.refresh_tokens.add(refresh)
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "access_token": token,
                "refresh_token": refresh,
            }
        )

    def _token(self, request: Request) -> Response:
        if (injected := self._injected("/oauth/token")) is not None:
            return injected
        form = request.form
        if form.get("client_id") != "acled":
            return json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed."}, 401
            )
        if form.get("grant_type") == "password":
            if form.get("username") != EMAIL or form.get("password") != PASSWORD:
                return json_response(
                    {"error": "invalid_grant", "error_description": "The user credentials were incorrect."},
                    400,
                )
            self.logins += 1
            return self._issue()
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return json_response(
                    {"error": "invalid_grant", "error_description": "The refresh token is invalid."}, 400
                )
            self.refresh_tokens.discard(form["refresh_token"])
            self.refreshes += 1
            return self._issue()
        return json_response({"error": "unsupported_grant_type"}, 400)

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if not auth.startswith("Bearer ") or token not in self.access or self.access[token] < time.time():
            return False
        if self.revoke_after is not None:
            self.revoke_after -= 1
            if self.revoke_after < 0:  # the server stops accepting this token early
                self.access.pop(token)
                self.revoke_after = None
                return False
        return True

    @staticmethod
    def _page(rows: list[dict], request: Request) -> Response:
        limit = int(request.args.get("limit", 5000)) or len(rows) or 1
        page = int(request.args.get("page", 1))
        data = rows[(page - 1) * limit : page * limit]
        body = {"status": 200, "success": True, "count": len(data), "data": data}
        if request.args.get("with_total") == "true":
            body["total_count"] = len(rows)
        return json_response(body)

    def _read(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response(
                {"error": "invalid_token", "message": "Access token is invalid or expired."}, 401
            )
        self.read_params.append(dict(request.args))
        injected = self._injected("/api/acled/read")
        if isinstance(injected, Response):
            return injected
        if isinstance(injected, (int, float)):  # a slow page (a test kills the client meanwhile)
            time.sleep(injected)
        a = request.args
        rows = sorted(self.events.values(), key=lambda r: r["event_id_cnty"])
        if a.get("country"):
            rows = [r for r in rows if r["country"] == a["country"]]
        if a.get("event_date") and a.get("event_date_where") == "BETWEEN":
            lo, hi = a["event_date"].split("|")
            rows = [r for r in rows if lo <= r["event_date"] <= hi]
        if a.get("timestamp") and a.get("timestamp_where") == ">=":
            rows = [r for r in rows if int(r["timestamp"]) >= int(a["timestamp"])]
        if injected == "empty":
            return json_response(
                {"status": 200, "success": True, "count": 0, "total_count": len(rows), "data": []}
            )
        resp = self._page(rows, request)
        if injected == "truncated":
            return Response(resp.get_data()[: len(resp.get_data()) // 2], content_type="application/json")
        return resp

    def _deleted(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response({"error": "invalid_token"}, 401)
        if (injected := self._injected("/api/deleted/read")) is not None:
            return injected
        since = int(request.args.get("deleted_timestamp", 0))
        rows = [r for r in self.deleted if int(r["deleted_timestamp"]) >= since]
        return self._page(rows, request)


def ged_rows(events: pd.DataFrame, start_id: int = 1) -> list[dict]:
    """Canonical events as UCDP GED API records (numbers as numbers, as its JSON)."""
    kinds = {"Battles": 1, "Explosions/Remote violence": 1, "Violence against civilians": 3}
    out = []
    for i, r in enumerate(events.itertuples(index=False)):
        d = pd.Timestamp(r.date)
        out.append(
            {
                "id": start_id + i,
                "relid": f"MLI-{d.year}-{start_id + i}",
                "year": d.year,
                "active_year": True,
                "type_of_violence": kinds.get(r.event_type, 2),
                "side_a": r.actor1,
                "side_b": r.actor2 or "Civilians",
                "best": int(r.fatalities),
                "high": int(r.fatalities),
                "low": int(r.fatalities),
                "country": r.country,
                "country_id": 432,
                "region": "Africa",
                "adm_1": f"{r.admin1} region",
                "adm_2": None,
                "latitude": float(r.latitude),
                "longitude": float(r.longitude),
                "priogrid_gid": None,
                "where_coordinates": "Somewhere",
                "where_prec": 1,
                "date_prec": 1,
                "source_headline": "SYNTHETIC",
                "date_start": f"{d:%Y-%m-%d}T00:00:00",
                "date_end": f"{d:%Y-%m-%d}T00:00:00",
            }
        )
    return out


class FakeUcdp(_Base):
    """UCDP's GED endpoint, one list of records per release."""

    def __init__(self, releases: dict[str, list[dict]]) -> None:
        super().__init__()
        self.releases = releases
        self.requests = 0
        self.server.expect_request(re.compile(r"^/api/gedevents/[^/]+$")).respond_with_handler(self._ged)

    def _ged(self, request: Request) -> Response:
        self.requests += 1
        if request.headers.get("x-ucdp-access-token") != UCDP_TOKEN:
            return Response("API token required. Add header: x-ucdp-access-token", status=401)
        version = request.path.rsplit("/", 1)[-1]
        if (injected := self._injected(request.path)) is not None:
            return injected
        if version not in self.releases:
            return Response("Not found", status=404)
        rows = self.releases[version]
        if request.args.get("Country"):
            wanted = set(request.args["Country"].split(","))
            rows = [r for r in rows if str(r["country_id"]) in wanted]
        if request.args.get("StartDate"):  # UCDP filters on date_end
            rows = [r for r in rows if r["date_end"][:10] >= request.args["StartDate"]]
        if request.args.get("EndDate"):
            rows = [r for r in rows if r["date_end"][:10] <= request.args["EndDate"]]
        size = int(request.args.get("pagesize", 100))
        page = int(request.args.get("page", 0))
        pages = max(1, math.ceil(len(rows) / size))
        nxt = f"{self.url}{request.path}?pagesize={size}&page={page + 1}" if page + 1 < pages else ""
        return json_response(
            {
                "TotalCount": len(rows),
                "TotalPages": pages,
                "PreviousPageUrl": "",
                "NextPageUrl": nxt,
                "Result": rows[page * size : (page + 1) * size],
            }
        )


#: A hand-written Powell & Thyne style file (tab-separated; public dates of the Sahel's coups).
COUPS_TSV = (
    "\t".join(["country", "ccode", "year", "month", "day", "coup", "version"])
    + "\n"
    + "\n".join(
        "\t".join(map(str, row))
        for row in [
            ("Mali", 432, 2012, 3, 22, 2, "test"),
            ("Mali", 432, 2020, 8, 18, 2, "test"),
            ("Mali", 432, 2021, 5, 24, 2, "test"),
            ("Burkina Faso", 439, 2022, 1, 24, 2, "test"),
            ("Burkina Faso", 439, 2022, 9, 30, 2, "test"),
            ("Niger", 436, 2023, 7, 26, 2, "test"),
            ("Chad", 483, 2021, 4, 20, 2, "test"),
        ]
    )
    + "\n"
)


class FakeCoups(_Base):
    def __init__(self, text: str = COUPS_TSV) -> None:
        super().__init__()
        self.text = text
        self.server.expect_request("/~clthyn2/coup_data/powell_thyne_coups_final.txt").respond_with_handler(
            self._file
        )

    def _file(self, request: Request) -> Response:  # noqa: ARG002
        if (injected := self._injected("/coups")) is not None:
            return injected
        return Response(self.text, content_type="text/plain")
