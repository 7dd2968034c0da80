"""Migration 0003 on a town.db of yesterday's schema (0001 + 0002) holding v1 ratings and a folded roll-up."""
import json
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from faultproxy import sealed_ratings
from sqlalchemy import select, text

from sync import protocol
from sync.server.core import db, rollup, tasks

OLD_COLS = (*protocol.RECORD_FIELDS_V1, "received_at", "batch_key", "skew_seconds", "corrected_at")


def _old_town(path: Path, scale: int | None):
    engine = db.make_engine(str(path))
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    recs = sealed_ratings("K1", "ab" * 32, 9)
    for r in recs:                         # hailong 0.1 sent v1 records
        r.pop("survey"), r.pop("answers")
    recs[4]["flags"] = ["rapid_repeat"]
    prev = protocol.ZERO_HASH
    v1 = []
    for r in recs:
        v1.append(protocol.seal(r, prev, "ab" * 32))
        prev = v1[-1]["hash"]
    with engine.begin() as conn:
        if scale:
            conn.execute(text("INSERT INTO settings(key, value) VALUES ('survey', :v)"),
                         {"v": json.dumps({"scale": scale})})
        for r in v1:
            row = {k: r.get(k) for k in OLD_COLS}
            row.update(reasons=json.dumps(r["reasons"]), flags=json.dumps(r["flags"]),
                       received_at="2026-03-02T02:20:00+00:00", corrected_at=r["created_at"])
            conn.execute(text(f"INSERT INTO ratings({','.join(OLD_COLS)}) VALUES "
                              f"({','.join(':' + c for c in OLD_COLS)})"), row)
        # yesterday's roll-up, folded by yesterday's code: some rows (no satisfied column yet)
        conn.execute(text("INSERT INTO rollup_cursor(name, pk) VALUES ('ratings', 9), ('alerts', 9)"))
        levels = ", ".join(f"l{lv}" for lv in range(11))
        conn.execute(text(f"INSERT INTO rollup_day(at, unit_code, desk_id, officer_id, procedure_code, total, "
                          f"misuse, {levels}) VALUES ('2026-03-02', '13321', 'quay-1', 'cb-001', '1.001193', "
                          f"9, 1, {', '.join(['0'] * 11)})"))
    return engine, v1


@pytest.mark.parametrize("scale,survey", [(None, "hl3"), (3, "hl3"), (5, "hl5")])
def test_upgrade_keeps_sealed_fields_and_refolds(tmp_path, scale, survey):
    engine, v1 = _old_town(tmp_path / "town.db", scale)
    with engine.connect() as conn:
        before = conn.execute(text(f"SELECT {','.join(OLD_COLS)} FROM ratings ORDER BY pk")).all()
    db.migrate(engine)
    db.migrate(engine)                                      # a no-op when current
    with engine.connect() as conn:
        after = conn.execute(text(f"SELECT {','.join(OLD_COLS)} FROM ratings ORDER BY pk")).all()
        extra = conn.execute(text("SELECT survey, answers, wire_version, server_flags FROM ratings")).all()
        assert conn.execute(select(rollup.cursor_table.c.pk).where(rollup.cursor_table.c.name == "ratings")).scalar() == 0
        assert conn.execute(select(rollup.cursor_table.c.pk).where(rollup.cursor_table.c.name == "alerts")).scalar() == 9
        assert conn.execute(text("SELECT count(*) FROM rollup_day")).scalar() == 0
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert after == before                                  # not one sealed field touched
    assert set(extra) == {(survey, "{}", 1, "[]")}
    assert version >= "0003"                                # and any later migration on top
    # the background catch-up refolds, each rating on its survey; no alert raised twice
    assert tasks.catch_up(engine, threading.Lock()) == 9
    with engine.connect() as conn:
        total, misuse, satisfied = conn.execute(text(
            "SELECT sum(total), sum(misuse), sum(satisfied) FROM rollup_day")).one()
        alerts = conn.execute(text("SELECT count(*) FROM alerts")).scalar()
    levels = [r["level"] for i, r in enumerate(v1) if i != 4]
    sat = set(protocol.BUILTIN_SURVEYS[survey]["satisfied"])
    assert (total, misuse, satisfied) == (9, 1, sum(lv in sat for lv in levels))
    assert alerts == 0
    # pulled back as sent: v1, and the chain verifies
    from sync.server.api.ratings import page_portable, page_sqlite
    with engine.connect() as conn:
        body = page_sqlite(conn, 0, 100)
        assert body == page_portable(conn, 0, 100)
    page = json.loads(body)["ratings"]
    assert all("survey" not in r for r in page)
    assert protocol.verify_chain([{k: r[k] for k in protocol.RECORD_FIELDS_V1} for r in page],
                                 "ab" * 32) == (None, None)
