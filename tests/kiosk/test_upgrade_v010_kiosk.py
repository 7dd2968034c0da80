"""A kiosk.db written by hailong 0.1.0 (tests/fixtures/v0_1_0/kiosk.sql) upgraded by today's
`hailong kiosk init` (issue 14): every rating is still there field by field, synced ones synced and
pending ones pending, `hailong kiosk verify` passes, a new rating links to the old chain, and a second
init changes nothing."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from v010 import dump_rows, full_dump, kiosk_site, rows, same_fields

from kiosk.commands import kiosk
from kiosk.config import load
from kiosk.store import KioskStore


def cli(config, *args):
    return CliRunner().invoke(kiosk, [*args, "--config", str(config)], catch_exceptions=False)


@pytest.mark.parametrize("name,config", [("kiosk", "config.toml"), ("kiosk-DT-MC-02", "config-DT-MC-02.toml")])
def test_a_0_1_0_kiosk_db_upgrades_with_nothing_lost(tmp_path, name, config):
    cfg_path = kiosk_site(tmp_path / "site", name, config)
    db = tmp_path / "site" / "kiosk.db"
    before = dump_rows(name, "ratings", "id")
    assert len(before) > 20    # the fixture is the one the README describes

    done = cli(cfg_path, "init")
    assert done.exit_code == 0, done.output
    after = rows(db, "ratings", "id")
    assert same_fields(before, after) == []
    for table in ("meta", "officers", "units", "desks", "procedures"):
        assert same_fields(dump_rows(name, table), rows(db, table)) == [], table

    verified = cli(cfg_path, "verify")
    assert verified.exit_code == 0, verified.output
    assert str(len(before)) in verified.output

    once = full_dump(db)
    again = cli(cfg_path, "init")
    assert again.exit_code == 0, again.output
    assert full_dump(db) == once     # the second upgrade does nothing


def test_the_upgraded_kiosk_goes_on_rating_and_syncing_from_where_0_1_0_stopped(tmp_path):
    cfg_path = kiosk_site(tmp_path / "site")
    assert cli(cfg_path, "init").exit_code == 0
    before = dump_rows("kiosk", "ratings", "seq")
    pending = [r["id"] for r in before.values() if r["synced_at"] is None]
    assert 0 < len(pending) < len(before)
    store = KioskStore.from_config(load(cfg_path))
    try:
        assert [r["id"] for r in store.pending()] == pending      # still waiting to be sent, in seq order
        record = store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3)
        assert record["seq"] == max(before) + 1
        assert record["prev_hash"] == before[max(before)]["hash"]
    finally:
        store.close()
    verified = cli(cfg_path, "verify")
    assert verified.exit_code == 0, verified.output
    assert str(len(before) + 1) in verified.output
