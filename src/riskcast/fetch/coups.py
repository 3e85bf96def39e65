"""Powell & Thyne's coups list: a plain download of its public file, read by the same reader as
a file saved by hand (``powell_thyne``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import requests

from riskcast.errors import InputError
from riskcast.fetch.errors import FetchError
from riskcast.fetch.http import HttpStatus, Redactor, RetryPolicy, join_url, retry_after_seconds, retrying
from riskcast.fetch.update import Fetched
from riskcast.io.coups import read_powell_thyne
from riskcast.io.vintages import Vintage

__all__ = ["CoupsClient", "DEFAULT_BASE_URL", "COUPS_PATH"]

DEFAULT_BASE_URL = "https://www.uky.edu"
COUPS_PATH = "/~clthyn2/coup_data/powell_thyne_coups_final.txt"

Progress = Callable[[int, int | None], None]


class CoupsClient:
    source = "coups"

    def __init__(
        self,
        base_url: str,
        *,
        policy: RetryPolicy,
        redact: Redactor,
        echo: Callable[[str], None] = lambda m: None,
    ) -> None:
        self.base_url, self.policy, self.redact, self.echo = base_url, policy, redact, echo
        self.session = requests.Session()
        self.requests = 0

    def _download(self, url: str) -> bytes:
        what = f"Powell & Thyne coups {url}"
        try:
            for attempt in retrying(self.policy, what, self.redact, self.echo):
                with attempt:
                    self.requests += 1
                    resp = self.session.get(url, timeout=self.policy.timeout)
                    if resp.status_code >= 400:
                        raise HttpStatus(
                            resp.status_code,
                            resp.reason or "",
                            retry_after_seconds(resp.headers.get("Retry-After")),
                            resp.text[:200],
                        )
                    return resp.content
        except HttpStatus as exc:
            raise FetchError(f"{what}: HTTP {exc.status} {exc.reason}") from None
        except requests.RequestException as exc:
            raise FetchError(
                f"{what}: no answer after {self.policy.attempts} tries ({type(exc).__name__})"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch(self, query: dict, previous: Vintage | None, *, progress: Progress | None = None) -> Fetched:  # noqa: ARG002
        url = join_url(self.base_url, COUPS_PATH)
        data = self._download(url)
        if progress is not None:
            progress(1, 1)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "powell_thyne_coups_final.txt"
            path.write_bytes(data)
            try:
                result = read_powell_thyne(path, countries=list(query["countries"]))
            except InputError as exc:  # name the address, not the temporary file
                raise FetchError(
                    f"{url}: the download does not read as Powell & Thyne's file: "
                    f"{str(exc).replace(str(path), 'the file')}"
                ) from None
        table = result.table
        versions = sorted(set(table["source"].str.replace("Powell & Thyne coups", "").str.strip()) - {""})
        return Fetched(
            table=table,
            incremental=False,
            endpoint=url,
            dataset_version=",".join(versions) or None,
            requests=self.requests,
            pages=1,
            notes=list(result.report.notes),
        )
