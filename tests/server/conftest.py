"""Every server test that asks for ``town_db`` runs on both engines: SQLite and PostgreSQL.

``town_db`` is what ``hailong server --db`` takes: a new town.db path in the
test's tmp_path (SQLite), or the URL of a new empty database on the
session's throwaway PostgreSQL (tests/pg.py). Test ids say which:
``test_x[sqlite]``, ``test_x[postgresql]``.

``HAILONG_TEST_ENGINES=sqlite`` (or ``postgresql``) runs one engine only,
for a quick loop while writing code; ``make test`` runs both.
"""
from __future__ import annotations

import os

import pytest

ENGINES = [e.strip() for e in os.environ.get("HAILONG_TEST_ENGINES", "sqlite,postgresql").split(",")
           if e.strip()]


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def town_db(engine_name, tmp_path, request):
    """A fresh, empty town database on the test's engine: a Path (SQLite) or a URL (PostgreSQL)."""
    if engine_name == "sqlite":
        return tmp_path / "town.db"
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()


@pytest.fixture(scope="module", params=ENGINES)
def module_engine(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def module_town_db(module_engine, tmp_path_factory, request):
    """``town_db`` for a module-scoped town (a running server shared by a module's tests)."""
    if module_engine == "sqlite":
        return tmp_path_factory.mktemp("town") / "town.db"
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def another_town_db(engine_name, tmp_path, request):
    """A factory of more fresh databases on the test's engine: ``another_town_db("old")``."""
    def make(name: str = "other"):
        if engine_name == "sqlite":
            folder = tmp_path / name
            folder.mkdir(exist_ok=True)
            return folder / "town.db"
        return request.getfixturevalue("pg_cluster").new_database(name.replace("-", "_")[:20])
    return make


@pytest.fixture
def pg_server(pg_cluster, tmp_path):
    """A running town server (in this process) on a fresh PostgreSQL database: ``.db`` its URL,
    ``.k1`` kiosk K1's enrolment (unit 13321), ``.kiosk`` a faultproxy.BatchKiosk of K1."""
    from faultproxy import BatchKiosk, ServerThread

    from sync.server.core.admin_ops import enrol_kiosk
    url = pg_cluster.new_database("srv")
    server = ServerThread(url, media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
    server.db = url
    server.kiosk = BatchKiosk("K1", server.k1)
    yield server
    server.stop()
