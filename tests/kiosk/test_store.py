"""kiosk.db: appends are chained, signed, durable; verify catches tampering."""
import json
import sqlite3
from datetime import timedelta

import pytest

from kiosk.roster import load_roster_file
from kiosk.store import SCHEMA_VERSION, KioskStore, StoreError, now_local
from sync import protocol

KEY = "ab" * 32


@pytest.fixture
def store(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    s.init()
    yield s
    s.close()


def rate(store, level=3, **kw):
    args = dict(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=level)
    args.update(kw)
    return store.append(**args)


def test_init_creates_then_is_a_no_op(tmp_path):
    s = KioskStore(tmp_path / "k.db")
    assert s.init() == list(range(1, SCHEMA_VERSION + 1))
    assert s.init() == []
    assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    cols = [r[1] for r in s.conn.execute("PRAGMA table_info(ratings)")]
    assert cols == (list(protocol.BODY_FIELDS_V1) + ["prev_hash", "hash", "sig", "synced_at", "sync_error"]
                    + ["survey", "answers"])


def test_append_chains_seq_and_signature(store):
    a = rate(store, comment="Cán bộ nhiệt tình")
    b = rate(store, level=1, reasons=["thai_do"])
    assert (a["seq"], b["seq"]) == (1, 2)
    assert a["prev_hash"] == protocol.ZERO_HASH and b["prev_hash"] == a["hash"]
    assert protocol.check_seal(b, KEY) is None
    assert store.verify() == (None, None)
    rows = store.records()
    assert [r["id"] for r in rows] == [a["id"], b["id"]]
    assert rows[1]["reasons"] == ["thai_do"] and rows[0]["created_at"].endswith("+07:00")


def test_comment_is_nfc_and_bounded(store):
    nfd = "Cán bộ hướng dẫn tận tình".encode().decode()
    import unicodedata
    rec = rate(store, comment=unicodedata.normalize("NFD", nfd))
    assert rec["comment"] == unicodedata.normalize("NFC", nfd)
    assert store.records()[0]["comment"] == unicodedata.normalize("NFC", nfd)
    with pytest.raises(ValueError, match="comment"):
        rate(store, comment="x" * 501)
    assert store.count() == 1


def test_rapid_repeat_is_flagged_not_dropped(store):
    t0 = now_local()
    rate(store, now=t0, rapid_repeat_seconds=10)
    second = rate(store, now=t0 + timedelta(seconds=3), rapid_repeat_seconds=10)
    third = rate(store, now=t0 + timedelta(seconds=30), rapid_repeat_seconds=10)
    assert second["flags"] == ["rapid_repeat"] and third["flags"] == []
    assert store.count() == 3


def test_append_needs_a_key(tmp_path):
    s = KioskStore(tmp_path / "k.db")
    s.init()
    with pytest.raises(StoreError):
        rate(s)


def test_sync_helpers(store):
    recs = [rate(store) for _ in range(5)]
    assert [r["seq"] for r in store.pending(3)] == [1, 2, 3]
    assert set(store.pending(1)[0]) == set(protocol.RECORD_FIELDS)
    assert store.get_meta("last_sync_at") is None
    store.mark_synced([recs[0]["id"], recs[1]["id"]], at="2026-11-28T09:00:00+07:00")
    assert store.get_meta("last_sync_at") == "2026-11-28T09:00:00+07:00"
    store.record_sync_error(recs[2]["id"], "signature does not verify")
    assert [r["seq"] for r in store.pending()] == [4, 5]
    assert store.sync_counts() == {"total": 5, "pending": 2, "quarantined": 1, "last_seq": 5}
    assert store.requeue_quarantined() == 1
    assert [r["seq"] for r in store.pending()] == [3, 4, 5]


def test_roster_and_duty(store):
    store.apply_roster(load_roster_file())
    assert store.unit("13321")["name"] == "UBND xã Đồng Tâm"
    officers = store.officers("quay-1", on_duty_only=True)
    assert [o["id"] for o in officers] == ["cb-003", "cb-001", "cb-002"]  # by name: Lê, Nguyễn, Trần
    assert protocol.check_pin("111111", store.officer("cb-001")["pin_hash"])
    store.set_on_duty("quay-1", ["cb-001"])
    assert [o["id"] for o in store.officers("quay-1", on_duty_only=True)] == ["cb-001"]
    store.apply_roster(load_roster_file())  # duty survives a roster update
    assert [o["id"] for o in store.officers("quay-1", on_duty_only=True)] == ["cb-001"]


def test_security_events_are_counted(store):
    store.record_event("forged", "sig mismatch")
    store.record_event("forged")
    store.record_event("expired")
    assert store.event_counts() == {"forged": 2, "expired": 1}


# --- tampering: verify names the first bad seq --------------------------------

def tamper(path, sql, params=()):
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.fixture
def five(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    s.init()
    for level in (3, 2, 1, 3, 2):
        rate(s, level=level)
    s.close()
    return tmp_path / "kiosk.db"


def verify(path, key=KEY):
    s = KioskStore(path)
    try:
        return s.verify(key)
    finally:
        s.close()


def test_honest_db_verifies(five):
    assert verify(five) == (None, None)


def test_deleted_row_is_caught(five):
    tamper(five, "DELETE FROM ratings WHERE seq=3")
    assert verify(five)[0] == 3


def test_edited_level_is_caught(five):
    tamper(five, "UPDATE ratings SET level=3 WHERE seq=3")
    bad, why = verify(five)
    assert bad == 3 and "hash" in why


def test_edited_list_field_is_caught(five):
    tamper(five, "UPDATE ratings SET reasons=? WHERE seq=2", (json.dumps(["nhung_nhieu"]),))
    assert verify(five)[0] == 2


def test_reordered_rows_are_caught(five):
    tamper(five, "UPDATE ratings SET seq=-1 WHERE seq=2")
    tamper(five, "UPDATE ratings SET seq=2 WHERE seq=4")
    tamper(five, "UPDATE ratings SET seq=4 WHERE seq=-1")
    assert verify(five)[0] == 2


def test_resealed_row_without_key_fails_signature(five):
    conn = sqlite3.connect(five)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM ratings WHERE seq=5").fetchone())
    row["reasons"], row["flags"] = json.loads(row["reasons"]), json.loads(row["flags"])
    row["answers"] = json.loads(row["answers"])
    row["level"] = 3
    forged = protocol.seal(row, row["prev_hash"], "cd" * 32)  # attacker lacks the key
    conn.execute("UPDATE ratings SET level=3, hash=?, sig=? WHERE seq=5", (forged["hash"], forged["sig"]))
    conn.commit()
    conn.close()
    bad, why = verify(five)
    assert bad == 5 and "signature" in why
