"""Fixtures of the fetch tests: fake ACLED/UCDP/coups servers on 127.0.0.1 and small event sets."""

from __future__ import annotations

import time

import pytest

from riskcast import synth
from riskcast.fetch import RetryPolicy
from tests.fetch._fakes import (
    EMAIL,
    PASSWORD,
    UCDP_TOKEN,
    FakeAcled,
    FakeCoups,
    FakeUcdp,
    acled_rows,
    ged_rows,
)


@pytest.fixture(scope="session")
def half_year_events():
    """236 SYNTHETIC Mali events, 2023-01 .. 2023-06."""
    return synth.default_events(seed=1, start="2023-01", end="2023-06", level="admin1")


@pytest.fixture
def acled(half_year_events):
    fake = FakeAcled(acled_rows(half_year_events, int(time.time()))).start()
    yield fake
    fake.stop()


@pytest.fixture
def ucdp(half_year_events):
    rows = ged_rows(half_year_events)
    fake = FakeUcdp(
        {"23.1": rows[:150], "23.0.4": ged_rows(half_year_events.iloc[150:], start_id=10_000)}
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def coups_server():
    fake = FakeCoups().start()
    yield fake
    fake.stop()


@pytest.fixture
def acled_env():
    return {"ACLED_EMAIL": EMAIL, "ACLED_PASSWORD": PASSWORD}


@pytest.fixture
def ucdp_env():
    return {"UCDP_ACCESS_TOKEN": UCDP_TOKEN}


class Sleeps(list):
    """A RetryPolicy sleep that records the waits instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def policy(sleeps):
    return RetryPolicy(attempts=3, timeout=10, sleep=sleeps)
