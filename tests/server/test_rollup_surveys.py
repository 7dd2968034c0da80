"""Migration 0007 (the roll-up per survey, on time / late, the answers) on a town.db of issue 11's schema.

The town is at revision 0006 with v2 ratings on two surveys and a folded
roll-up of yesterday's shape. After the upgrade the roll-up tables have the
new key and are empty, the ratings' cursor is back at 0 and the alert
rules' one kept; the background catch-up refolds in chunks; a batch that
arrives before it has finished never folds more than one chunk.
"""
from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from sync.server.core import db, rollup, tasks

COLS = ("id", "kiosk_id", "seq", "created_at", "unit_code", "desk_id", "officer_id", "dossier_code",
        "procedure_code", "receipt_id", "level", "reasons", "comment", "source", "flags", "prev_hash",
        "hash", "sig", "received_at", "corrected_at", "survey", "answers", "wire_version", "server_flags")


def _cfg() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    return cfg


def _rows(n: int, start: int = 1):
    """n ratings: odd seq on hl3 (level 1 + seq % 3), even on hl5 with an answer; every 4th on time,
    every 5th late (on time wins when both would: seq 20, 40…), seq 7 a misuse."""
    out = []
    for seq in range(start, start + n):
        hl5 = seq % 2 == 0
        flags = ["on_time"] if seq % 4 == 0 else ["late"] if seq % 5 == 0 else []
        if seq == 7:
            flags.append("rapid_repeat")
        at = f"2026-11-{1 + seq % 28:02d}T09:00:00+07:00"
        out.append({"id": str(uuid.UUID(int=seq)), "kiosk_id": "k1", "seq": seq, "created_at": at,
                    "unit_code": "13321", "desk_id": "quay-2" if hl5 else "quay-1", "officer_id": "cb-001",
                    "dossier_code": None, "procedure_code": "P1" if seq % 3 else None, "receipt_id": None,
                    "level": (1 + seq % 5) if hl5 else (1 + seq % 3), "reasons": "[]", "comment": None,
                    "source": "walk_up", "flags": json.dumps(flags), "prev_hash": "0" * 64, "hash": "1" * 64,
                    "sig": "2" * 64, "received_at": at, "corrected_at": at, "survey": "hl5" if hl5 else "hl3",
                    "answers": json.dumps({"dung_hen": None if seq % 6 == 0 else 1 + (seq // 2) % 2} if hl5 else {}),
                    "wire_version": 2, "server_flags": "[]"})
    return out


def _insert(engine, rows):
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO ratings({','.join(COLS)}) VALUES ({','.join(':' + c for c in COLS)})"), rows)


def _town_0006(path: Path, n: int = 40):
    engine = db.make_engine(str(path))
    cfg = _cfg()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
    _insert(engine, _rows(n))
    with engine.begin() as conn:   # yesterday's roll-up, folded by yesterday's code
        conn.execute(text("INSERT INTO rollup_cursor(name, pk) VALUES ('ratings', :n), ('alerts', :n)"), {"n": n})
        levels = ", ".join(f"l{lv}" for lv in range(11))
        conn.execute(text(f"INSERT INTO rollup_day(at, unit_code, desk_id, officer_id, procedure_code, total, "
                          f"misuse, {levels}, satisfied) VALUES ('2026-11-02', '13321', 'quay-1', 'cb-001', 'P1', "
                          f"{n}, 1, {', '.join(['0'] * 11)}, 3)"))
    return engine


def _cursor(conn, name):
    return conn.execute(select(rollup.cursor_table.c.pk).where(rollup.cursor_table.c.name == name)).scalar()


def test_upgrade_rebuilds_the_roll_up_with_the_survey_in_its_key(town_db, tmp_path):
    engine = _town_0006(town_db)
    db.migrate(engine)
    db.migrate(engine)                              # a no-op when current
    insp = inspect(engine)
    for name in ("rollup_day", "rollup_month", "rollup_reason_day", "rollup_reason_month",
                 "rollup_answer_day", "rollup_answer_month"):
        assert "survey" in insp.get_pk_constraint(name)["constrained_columns"], name
    assert {"on_time", "late"} <= {c["name"] for c in insp.get_columns("rollup_day")}
    assert insp.get_pk_constraint("rollup_answer_month")["constrained_columns"][-2:] == ["question", "value"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rollup_day")).scalar() == 0
        assert (_cursor(conn, "ratings"), _cursor(conn, "alerts")) == (0, 40)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() >= "0007"
    assert tasks.catch_up(engine, threading.Lock()) == 40
    rows = _rows(40)
    valid = [r for r in rows if r["seq"] != 7]
    with engine.connect() as conn:
        per = {s: tuple(v) for s, *v in conn.execute(text(
            "SELECT survey, sum(total), sum(misuse), sum(on_time), sum(late) FROM rollup_month GROUP BY survey"))}
        answers = {(q, v): n for q, v, n in conn.execute(text(
            "SELECT question, value, sum(n) FROM rollup_answer_day GROUP BY question, value"))}
        alerts = conn.execute(text("SELECT count(*) FROM alerts")).scalar()
    for sid in ("hl3", "hl5"):
        mine = [r for r in rows if r["survey"] == sid]
        ok = [r for r in valid if r["survey"] == sid]
        assert per[sid] == (len(mine), len(mine) - len(ok), sum('"on_time"' in r["flags"] for r in ok),
                            sum('"late"' in r["flags"] for r in ok)), sid
    hl5 = [json.loads(r["answers"])["dung_hen"] for r in valid if r["survey"] == "hl5"]
    assert answers == {("dung_hen", 0): hl5.count(None), ("dung_hen", 1): hl5.count(1), ("dung_hen", 2): hl5.count(2)}
    assert alerts == 0                              # the alert rules did not look at them again


def test_downgrade_gives_yesterdays_tables_back(town_db, tmp_path):
    engine = _town_0006(town_db, 10)
    db.migrate(engine)
    cfg = _cfg()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    insp = inspect(engine)
    assert "rollup_answer_day" not in insp.get_table_names()
    assert "survey" not in {c["name"] for c in insp.get_columns("rollup_month")}
    db.migrate(engine)
    assert tasks.catch_up(engine, threading.Lock()) == 10


def test_a_batch_never_folds_more_than_one_chunk(town_db, tmp_path):
    """After the upgrade emptied the roll-up, ingest's fold (in the batch's own transaction) folds
    one chunk, however long the backlog; the catch-up folds the rest."""
    engine = db.make_engine(str(town_db))
    db.migrate(engine)
    n = rollup.CHUNK + 10
    rows = _rows(n)
    for i in range(0, n, 10_000):
        _insert(engine, rows[i:i + 10_000])
    with engine.begin() as conn:
        assert rollup.fold_in(conn, []) == rollup.CHUNK       # what ingest calls
    with engine.connect() as conn:
        assert _cursor(conn, "ratings") == rollup.CHUNK
    assert tasks.catch_up(engine, threading.Lock()) == 10
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sum(total) FROM rollup_month")).scalar() == n
        assert conn.execute(text("SELECT sum(total) FROM rollup_day")).scalar() == n
