"""The durability rule on PostgreSQL: acknowledged only what the database stored; never a 500.

The SQLite faults (town.db deleted, replaced, read-only, corrupt) are in
test_server_durability.py; a PostgreSQL server has other ones, made here
from outside the town server as a DBA (or a failover) would make them:

- every connection of the server terminated (``pg_terminate_backend``): the
  next batch is stored as usual (the pool reconnects);
- the database refuses connections (``ALLOW_CONNECTIONS false``, a database
  being restored): batches get 503 with Retry-After, ``/healthz`` answers 503,
  nothing is acknowledged; once it accepts them again the same batch, resent
  under its key, is stored once, with nothing lost or doubled;
- the database made read-only (``default_transaction_read_only``, a hot
  standby): 503, nothing acknowledged, and stored once when writable again.

A process killed mid-batch is in test_multiprocess.py.
"""
from __future__ import annotations

import uuid

import dbtools
import pytest
import requests
from helpers import wait_until


@pytest.fixture
def town(pg_server, pg_cluster):
    pg_server.admin = pg_cluster.admin_url
    pg_server.dbname = pg_server.db.rsplit("/", 1)[1]
    yield pg_server
    dbtools.execute(pg_server.admin, f'ALTER DATABASE "{pg_server.dbname}" ALLOW_CONNECTIONS true')


def post(town, body, key=None):
    return town.kiosk.post(town.url, body, key or str(uuid.uuid4()), timeout=30)


def terminate(town):
    dbtools.execute(town.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = :d AND pid <> pg_backend_pid()", d=town.dbname)


def stored(town) -> list[int]:
    return [r["seq"] for r in dbtools.rows(town.db, "SELECT seq FROM ratings ORDER BY seq")]


def test_connections_terminated_under_the_server_are_reopened(town):
    first, _ = town.kiosk.batch(10)
    assert post(town, first).status_code == 200
    terminate(town)
    second, _ = town.kiosk.batch(10)
    r = post(town, second)
    assert r.status_code == 200, r.text
    assert stored(town) == list(range(1, 21))


@pytest.mark.parametrize("fault", ["no_connections", "read_only"])
def test_a_database_that_cannot_take_writes_gets_503_and_the_batch_is_stored_once_after(town, fault):
    first, _ = town.kiosk.batch(10)
    assert post(town, first).status_code == 200
    refused, _ = town.kiosk.batch(20)
    if fault == "no_connections":
        dbtools.execute(town.admin, f'ALTER DATABASE "{town.dbname}" ALLOW_CONNECTIONS false')
    else:
        dbtools.execute(town.admin, f'ALTER DATABASE "{town.dbname}" SET default_transaction_read_only = on')
    terminate(town)
    key = str(uuid.uuid4())
    for _ in range(3):                      # the kiosk retries: each time 503, never 500, nothing acknowledged
        r = post(town, refused, key)
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.headers.get("Retry-After")
    health = requests.get(town.url + "/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["ok"] is False, health.text
    if fault == "no_connections":
        dbtools.execute(town.admin, f'ALTER DATABASE "{town.dbname}" ALLOW_CONNECTIONS true')
    else:
        dbtools.execute(town.admin, f'ALTER DATABASE "{town.dbname}" RESET default_transaction_read_only')
        terminate(town)
    assert stored(town) == list(range(1, 11))           # nothing of the refused batch was kept

    def resent():
        r = post(town, refused, key)
        return r if r.status_code == 200 else None
    answer = wait_until(resent, timeout=60, what="the batch accepted once the database is back", step=0.5)
    assert answer.json()["acked_through"] == 30
    assert stored(town) == list(range(1, 31))
    again = post(town, refused, key)                # the same key again: the same answer, no copy
    assert again.status_code == 200 and stored(town) == list(range(1, 31))
    wait_until(lambda: requests.get(town.url + "/healthz", timeout=10).status_code == 200, timeout=60,
               what="/healthz ok again", step=0.5)
