"""A town.db written by hailong 0.1.0 (tests/fixtures/v0_1_0/town.sql, Alembic 0003) upgraded by
today's migrations (`hailong admin migrate`, issue 14): every rating is still there field by field,
the kiosks, users and roster too, the chains verify (`hailong admin backup`, which checks them, and
check_chains), and a second migrate changes nothing. SQLite only (the fixture is a SQLite town)."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from v010 import build, dump_rows, full_dump, rows, same_fields

from sync.server.admin_cli import admin
from sync.server.core.backup import check_chains


def cli(db, *args):
    return CliRunner().invoke(admin, ["--db", str(db), *args], catch_exceptions=False)


def test_a_0_1_0_town_db_migrates_with_nothing_lost(tmp_path):
    db = build("town", tmp_path / "town.db")
    before = dump_rows("town", "ratings", "id")
    assert len(before) > 40

    done = cli(db, "migrate")
    assert done.exit_code == 0, done.output
    assert rows(db, "alembic_version") != dump_rows("town", "alembic_version")   # it did migrate
    assert same_fields(before, rows(db, "ratings", "id")) == []
    for table in ("kiosks", "users", "api_tokens", "units", "desks", "officers", "procedures", "batches"):
        old, new = dump_rows("town", table), rows(db, table)
        assert same_fields(old, new) == [], table

    engine = create_engine(f"sqlite:///{db}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            assert check_chains(conn) == {"kiosks": 2, "ratings": len(before)}
    finally:
        engine.dispose()
    checked = cli(db, "backup", "--dir", str(tmp_path / "bk"))    # counts only once every chain verifies
    assert checked.exit_code == 0, checked.output

    once = full_dump(db)
    again = cli(db, "migrate")
    assert again.exit_code == 0, again.output
    assert full_dump(db) == once
