"""kiosk.db and protocol v2: survey and answers columns, v1 rows kept as sealed, checks before sealing."""
import json

import pytest

from kiosk import store as store_mod
from kiosk.store import KioskStore
from sync import protocol

KEY = "ab" * 32
BASE = dict(unit_code="13321", desk_id="quay-1", officer_id="cb-001")


def _v1_kiosk_db(path, n=3):
    """A kiosk.db of yesterday's schema (version 2) holding v1 records, as hailong 0.1 wrote them."""
    s = KioskStore(path, "DT-MC-01", KEY)
    for version in (1, 2):
        with s._tx():
            store_mod.MIGRATIONS[version](s.db)
            s.conn.execute(f"PRAGMA user_version={version}")
    prev = protocol.ZERO_HASH
    for seq in range(1, n + 1):
        rec = protocol.seal({"id": f"00000000-0000-4000-8000-{seq:012d}", "kiosk_id": "DT-MC-01", "seq": seq,
                             "created_at": f"2026-10-01T08:0{seq}:00+07:00", **BASE, "dossier_code": None,
                             "procedure_code": None, "receipt_id": None, "level": seq, "reasons": [],
                             "comment": "Cán bộ tận tình", "source": "walk_up", "flags": []}, prev, KEY)
        assert "survey" not in rec
        cols = protocol.RECORD_FIELDS_V1
        row = [json.dumps(rec[k]) if k in ("reasons", "flags") else rec[k] for k in cols]
        s.conn.execute(f"INSERT INTO ratings({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", row)
        prev = rec["hash"]
    return s


def test_migration_keeps_v1_rows_as_sealed(tmp_path):
    old = _v1_kiosk_db(tmp_path / "kiosk.db")
    before = old.conn.execute("SELECT * FROM ratings ORDER BY seq").fetchall()
    assert old.schema_version == 2
    old.close()
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    assert s.init() == [3]
    after = s.conn.execute(f"SELECT {','.join(protocol.RECORD_FIELDS_V1)}, synced_at, sync_error "
                           "FROM ratings ORDER BY seq").fetchall()
    assert after == before                                          # not one byte re-sealed
    assert s.conn.execute("SELECT count(*) FROM ratings WHERE survey IS NOT NULL").fetchone()[0] == 0
    assert all(protocol.is_v1(r) for r in s.records())
    new = s.append(**BASE, level=5, survey="hl5")
    assert new["survey"] == "hl5" and new["answers"] == {} and new["prev_hash"] == after[-1][16]
    assert s.verify() == (None, None)                               # one chain, v1 then v2
    wire = [json.loads(w["wire"]) for w in s.pending_wire()]
    assert ["survey" in w for w in wire] == [False, False, False, True]
    assert [protocol.check_seal(w, KEY) for w in wire] == [None] * 4
    assert [{k: v for k, v in r.items()} for r in s.pending()] == wire
    assert s.init() == []


def test_the_kiosk_writes_v2_only(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    s.init()
    rec = s.append(**BASE, level=3)
    assert rec["survey"] == "hl3" and rec["answers"] == {}
    stored = s.records()[0]
    assert stored["survey"] == "hl3" and stored["answers"] == {}
    s.default_survey = "hl4"
    assert s.append(**BASE, level=4)["survey"] == "hl4"


@pytest.mark.parametrize("kw,field", [
    ({"level": 4}, "level"), ({"level": 0}, "level"), ({"level": 7, "survey": "hl5"}, "level"),
    ({"officer_id": "cb\x00"}, "officer_id"), ({"officer_id": "cb\u202e1"}, "officer_id"),
    ({"desk_id": ""}, "desk_id"), ({"officer_id": "x" * 65}, "officer_id"),
    ({"reasons": ["khac"]}, "reasons"), ({"comment": "a\x0bb"}, "comment"),
    ({"survey": "mttq-2026-q4"}, "survey"), ({"answers": {"dung_hen": 1}}, "answers"),
])
def test_refused_before_sealing(tmp_path, kw, field):
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    s.init()
    args = dict(BASE, level=2)
    args.update(kw)
    with pytest.raises(protocol.RecordError, match=field):
        s.append(**args)
    assert s.count() == 0
    assert s.append(**BASE, level=2)["seq"] == 1                   # the chain did not move


def test_nfd_officer_id_is_sealed_as_nfc(tmp_path):
    import unicodedata
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    s.init()
    nfd = unicodedata.normalize("NFD", "cb-Nguyễn")
    rec = s.append(unit_code="13321", desk_id="quay-1", officer_id=nfd, level=2)
    assert rec["officer_id"] == unicodedata.normalize("NFC", nfd)


def test_surveys_from_the_server(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    s.init()
    assert s.current_survey()["id"] == "hl3"
    campaign = {"id": "mttq-2026-q4", "scale": 5, "satisfied": [5, 4], "reasons": [{"code": "thai_do"}],
                "questions": [{"code": "dung_hen", "scale": 3, "satisfied": [3, 2]}]}
    s.set_meta("server_surveys", json.dumps([campaign]))
    s.set_meta("server_default_survey", json.dumps("mttq-2026-q4"))
    assert s.current_survey()["id"] == "mttq-2026-q4"
    rec = s.append(**BASE, level=5, survey="mttq-2026-q4", answers={"dung_hen": 3}, reasons=["thai_do"])
    assert rec["answers"] == {"dung_hen": 3}
    assert json.loads(s.pending_wire()[0]["wire"])["answers"] == {"dung_hen": 3}
    assert s.verify() == (None, None)
