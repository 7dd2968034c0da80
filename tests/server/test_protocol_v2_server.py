"""Protocol v2 on the town server: each rating judged by its own survey, what a valid record is
(422 naming the record and field, 400 for bodies no kiosk writes), server flags and their alerts."""
import gzip
import json
import unicodedata
import uuid

import pytest
import requests
from faultproxy import ServerThread, open_alerts, sealed_ratings, server_ratings
from helpers import ROOT

from sync import protocol
from sync.server.core.admin_ops import create_token, create_user, enrol_kiosk, import_roster

DEMO = ROOT / "assets" / "demo" / "roster.json"
SENT_AT = "2026-03-02T09:20:00+07:00"


@pytest.fixture
def town(town_db, tmp_path):
    server = ServerThread(town_db, media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        server.k2 = enrol_kiosk(conn, "K2", "13321")
        import_roster(conn, DEMO, tmp_path / "media")
        create_user(conn, "chi.lan", "admin", "mật khẩu dài")
        server.admin_token = create_token(conn, "chi.lan")
    yield server
    server.stop()


def post(town, records, kiosk="k1", kiosk_id="K1", raw=None):
    body = raw if raw is not None else json.dumps(
        {"kiosk_id": kiosk_id, "sent_at": SENT_AT, "ratings": records}, ensure_ascii=False).encode()
    return requests.post(town.url + protocol.PATH_BATCH, data=gzip.compress(body), timeout=10, headers={
        "Authorization": f"Bearer {getattr(town, kiosk)['token']}", "Idempotency-Key": str(uuid.uuid4()),
        "Content-Encoding": "gzip", "Content-Type": "application/json"})


def chain(key, bodies, kiosk_id="K1", start_seq=1, prev=protocol.ZERO_HASH):
    """Sealed records from partial bodies (defaults: a v2 hl3 rating of cb-001 at quay-1)."""
    out = []
    for i, extra in enumerate(bodies):
        body = {"id": str(uuid.uuid4()), "kiosk_id": kiosk_id, "seq": start_seq + i,
                "created_at": "2026-03-02T09:15:00+07:00", "unit_code": "13321", "desk_id": "quay-1",
                "officer_id": "cb-001", "dossier_code": None, "procedure_code": None, "receipt_id": None,
                "level": 3, "reasons": [], "comment": None, "source": "walk_up", "flags": [],
                "survey": "hl3", "answers": {}, **extra}
        rec = protocol.seal(body, prev, key)
        out.append(rec)
        prev = rec["hash"]
    return out


def dashboard(town, **params):
    # the batches' sent_at lies months back: corrected times (what reports use) are today's
    from sync.server.reports import periods
    month = periods.today_vn().strftime("%Y-%m")
    r = requests.get(town.url + "/api/v1/reports/dashboard", params={"period": month, **params},
                     headers={"Authorization": f"Bearer {town.admin_token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_5_level_kiosk_is_judged_by_its_own_survey_on_a_3_level_server(town):
    # the server's default is hl3; this kiosk asks hl5: 5, 4 satisfied; 3 "Bình thường" is not
    levels = [5, 4, 3, 3, 3, 2, 1]
    r = post(town, chain(town.k1["key"], [{"survey": "hl5", "level": lv} for lv in levels]))
    assert r.status_code == 200 and r.json()["acked_through"] == 7, r.text
    # and a 3-level kiosk beside it: 3 and 2 satisfied
    r = post(town, chain(town.k2["key"], [{"level": lv} for lv in (3, 2, 1)], kiosk_id="K2"), kiosk="k2",
             kiosk_id="K2")
    assert r.status_code == 200, r.text
    overall = dashboard(town)["overall"]
    assert (overall["valid"], overall["satisfied"]) == (10, 4)
    assert overall["rate"] == 40.0
    # the one-pass statistics on the ratings table agree with the roll-up
    from sync.server.core import db
    from sync.server.reports import periods
    from sync.server.reports.stats import Filter, Stats
    raw = Stats(town.engine, db.ratings, "corrected_at", scale=3)
    assert raw.overall(Filter(periods.parse(periods.today_vn().strftime("%Y-%m")))).satisfied == 4


def test_a_v1_record_is_read_as_hl3_and_pulled_back_as_sent(town):
    v1 = sealed_ratings("K1", town.k1["key"], 2)
    for rec in v1:
        rec.pop("survey"), rec.pop("answers")
    v1 = [protocol.seal(r, prev, town.k1["key"]) for r, prev in
          zip(v1, [protocol.ZERO_HASH])]                              # seq 1, v1
    v1 += chain(town.k1["key"], [{"level": 1}], start_seq=2, prev=v1[0]["hash"])   # seq 2, v2
    assert "survey" not in v1[0] and "survey" in v1[1]
    r = post(town, v1)
    assert r.status_code == 200 and r.json()["acked_through"] == 2, r.text
    page = requests.get(town.url + protocol.PATH_RATINGS, headers={"Authorization": f"Bearer {town.admin_token}"},
                        timeout=10).json()["ratings"]
    assert "survey" not in page[0] and "answers" not in page[0]
    assert page[1]["survey"] == "hl3" and page[1]["answers"] == {}
    assert [p["server_flags"] for p in page] == [[], []]
    assert protocol.verify_chain([{k: v for k, v in p.items() if k not in ("received_at", "server_flags")}
                                  for p in page], town.k1["key"]) == (None, None)


@pytest.mark.parametrize("created", [
    "2026-01-07T10+07:00", "2026-W10-1T09:15:00+07:00", "2026-061T09:15:00+07:00", "20260302T091500+0700",
    "2026-03-02T09:15:00", "2026-03-02 09:15:00+07:00", "2026-03-02T09:15+07:00", "2026-03-02T09:15:00+0700",
    "2026-02-30T09:15:00+07:00", "2026-03-02T25:15:00+07:00", "2026-03-02T09:15:00+24:00", "",
])
def test_malformed_times_are_422_naming_record_and_field(town, created):
    recs = chain(town.k1["key"], [{}, {"created_at": created}])
    r = post(town, recs)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("ratings[1]: created_at")
    assert server_ratings(town.engine, "K1") == []


@pytest.mark.parametrize("field,value", [
    ("level", 0), ("level", 4), ("level", 7), ("level", 10),
    ("comment", "a\x0bb"), ("comment", "a\x01b"), ("officer_id", "cb\x00"), ("officer_id", "cb\u202e100"),
    ("desk_id", "quay\u200b1"), ("unit_code", "1" * 65), ("reasons", ["khac"]), ("survey", "khong-co"),
    ("answers", {"x": 1}), ("unit_code", "99999"),
])
def test_invalid_records_are_422_naming_record_and_field(town, field, value):
    r = post(town, chain(town.k1["key"], [{}, {}, {field: value}]))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"ratings[2]: {field}")
    assert r.json()["errors"][0]["index"] == 2
    assert server_ratings(town.engine, "K1") == []


def test_levels_on_hl3_through_the_api(town):
    r = post(town, chain(town.k1["key"], [{"level": lv} for lv in (3, 3, 7, 0)]))
    assert r.status_code == 422
    assert [e["index"] for e in r.json()["errors"]] == [2, 3]


@pytest.mark.parametrize("raw", [
    b'{"kiosk_id":"K1","sent_at":"2026-03-02T09:20:00+07:00","ratings":[' + b"[" * 1000 + b"]" * 1000 + b"]}",
    b'{"kiosk_id":"K1","sent_at":"2026-03-02T09:20:00+07:00","ratings":[' + b"[" * 100000 + b"]" * 100000 + b"]}",
    b'{"kiosk_id":"K1","sent_at":"2026-03-02T09:20:00+07:00","ratings":[],"x":' + b'{"a":' * 50 + b"1" + b"}" * 50 + b"}",
    b'{"kiosk_id":"K1","sent_at":"2026-03-02T09:20:00+07:00","ratings":["\\ud800"]}',
    b'{"kiosk_id":' + b"[" * 60 + b"]" * 60 + b',"sent_at":"2026-03-02T09:20:00+07:00","ratings":[]}',
    b'{"kiosk_id":"K1","sent_at":"2026-03-02T09:20:00+07:00","ratings":[{"id":' + b"[" * 60 + b"]" * 60 + b'}]}',
    b'{"kiosk_id":"K1\\udfff","sent_at":"2026-03-02T09:20:00+07:00","ratings":[]}',
    b'{"kiosk_id":"K1","sent_at":"2026-03-02T09:20:00+07:00","ratings":[{"\\udbff":1}]}',
])
def test_deep_json_and_lone_surrogates_are_400(town, raw):
    r = post(town, None, raw=raw)
    assert r.status_code == 400, r.text
    assert r.json()["detail"]


@pytest.mark.parametrize("sent_at", ["2026-03-02T09:20+07:00", "2026-03-02T09:20:00", "2026-W10-1T09:20:00Z"])
def test_sent_at_is_rfc3339_exactly(town, sent_at):
    body = json.dumps({"kiosk_id": "K1", "sent_at": sent_at, "ratings": []}).encode()
    r = post(town, None, raw=body)
    assert r.status_code == 422 and r.json()["detail"].startswith("sent_at"), r.text


def test_a_surrogate_pair_is_a_character_not_an_error(town):
    rec = chain(town.k1["key"], [{"comment": "Tốt 😀"}])[0]
    raw = json.dumps({"kiosk_id": "K1", "sent_at": SENT_AT, "ratings": [rec]}, ensure_ascii=True).encode()
    assert b"\\ud83d\\ude00" in raw
    assert post(town, None, raw=raw).status_code == 200


def test_unknown_officer_and_desk_are_stored_flagged_counted_and_alerted(town):
    recs = chain(town.k1["key"], [{"officer_id": "ghost"}, {"officer_id": "ghost", "level": 1},
                                  {"desk_id": "quay-9"}, {}])
    r = post(town, recs)
    assert r.status_code == 200 and r.json()["acked_through"] == 4, r.text
    held = server_ratings(town.engine, "K1")
    assert [h["server_flags"] for h in held] == [["unknown_officer"], ["unknown_officer"], ["unknown_desk"], []]
    alerts = {(a["kind"], a["subject"]): a for a in open_alerts(town.engine) if a["kind"] != "clock_skew"}
    assert set(alerts) == {("unknown_officer", "ghost"), ("unknown_desk", "quay-9")}
    assert alerts[("unknown_officer", "ghost")]["count"] == 2 and alerts[("unknown_officer", "ghost")]["month"]
    ghost = [f for f in dashboard(town)["by"]["officer"] if f["key"] == "ghost"]
    assert ghost and ghost[0]["valid"] == 2                       # counted, under its own id
    page = requests.get(town.url + protocol.PATH_RATINGS, headers={"Authorization": f"Bearer {town.admin_token}"},
                        timeout=10).json()["ratings"]
    assert page[0]["server_flags"] == ["unknown_officer"] and page[0]["flags"] == []
    from sync.server.core.alerts import KIND_LABELS
    assert {"unknown_officer", "unknown_desk", "duplicate_receipt"} <= set(KIND_LABELS)


def test_an_nfd_officer_id_is_one_officer(town):
    import_nfc = "cb-Nguyễn"
    with town.engine.begin() as conn:
        from sync.server.core.db import officers
        conn.execute(officers.insert().values(id=import_nfc, name="Nguyễn Văn A", desk_id="quay-1"))
    recs = chain(town.k1["key"], [{"officer_id": import_nfc}, {"officer_id": import_nfc}])
    nfd = unicodedata.normalize("NFD", import_nfc)
    assert nfd != import_nfc
    recs[1] = dict(recs[1], officer_id=nfd)          # the hash is over NFC: it still verifies
    assert protocol.check_seal(recs[1], town.k1["key"]) is None
    r = post(town, recs)
    assert r.status_code == 200 and r.json()["acked_through"] == 2, r.text
    held = server_ratings(town.engine, "K1")
    assert [h["officer_id"] for h in held] == [import_nfc, import_nfc]
    assert [h["server_flags"] for h in held] == [[], []]
    by = {f["key"]: f["valid"] for f in dashboard(town)["by"]["officer"]}
    assert by == {import_nfc: 2}


def test_a_receipt_rates_once_in_the_town(town):
    rid = "8eb9b8b784c9a72a"
    first = chain(town.k1["key"], [{"receipt_id": rid, "source": "receipt", "level": 3}])
    assert post(town, first).json()["results"][0]["status"] == "accepted"
    again = chain(town.k2["key"], [{"receipt_id": rid, "source": "receipt", "level": 1},
                                   {"receipt_id": "aaaa0000bbbb1111", "source": "receipt", "level": 1},
                                   {"receipt_id": "aaaa0000bbbb1111", "source": "receipt", "level": 1}],
                  kiosk_id="K2")
    r = post(town, again, kiosk="k2", kiosk_id="K2")
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 3      # stored
    held = server_ratings(town.engine, "K2")
    assert [h["server_flags"] for h in held] == [["duplicate_receipt"], [], ["duplicate_receipt"]]
    overall = dashboard(town)["overall"]
    assert (overall["total"], overall["valid"], overall["satisfied"]) == (4, 2, 1)   # shown, not counted
    dup = [a for a in open_alerts(town.engine) if a["kind"] == "duplicate_receipt"]
    assert len(dup) == 1 and dup[0]["count"] == 2 and dup[0]["subject"] == "K2"


MTTQ = {"id": "mttq-2026-q4", "title": {"vi": "Khảo sát MTTQ", "en": "Front survey"}, "by": "Ủy ban MTTQ",
        "scale": 5, "labels": {str(i): {"vi": str(i), "en": str(i)} for i in range(1, 6)}, "satisfied": [5, 4],
        "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
        "questions": [{"code": "dung_hen", "text": {"vi": "Đúng hẹn", "en": "On time"}, "scale": 3,
                       "labels": {str(i): {"vi": str(i), "en": str(i)} for i in range(1, 4)},
                       "satisfied": [3, 2]}]}


def test_a_survey_of_the_server_is_sent_to_kiosks_and_judges_its_ratings(town_db, town, tmp_path):
    import subprocess
    import sys
    path = tmp_path / "mttq.json"
    path.write_text(json.dumps(MTTQ, ensure_ascii=False), "utf-8")
    cmd = [sys.executable, "-m", "hailong", "admin", "--db", str(town_db), "add-survey", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout) == {"id": "mttq-2026-q4"}, out.stderr
    assert subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60).returncode == 0  # same: no-op
    path.write_text(json.dumps(dict(MTTQ, satisfied=[5]), ensure_ascii=False), "utf-8")
    other = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert other.returncode != 0 and "other content" in other.stderr
    config = requests.get(town.url + protocol.PATH_CONFIG.format(kiosk_id="K1"), timeout=10,
                          headers={"Authorization": f"Bearer {town.k1['token']}"}).json()
    assert config["default_survey"] == "hl3"
    assert [s["id"] for s in config["surveys"]] == ["hl3", "mttq-2026-q4"]
    recs = chain(town.k1["key"], [{"survey": "mttq-2026-q4", "level": lv, "answers": {"dung_hen": 3}}
                                  for lv in (5, 4, 3)])
    r = post(town, recs)
    assert r.status_code == 200 and r.json()["acked_through"] == 3, r.text
    overall = dashboard(town)["overall"]
    assert (overall["valid"], overall["satisfied"]) == (3, 2)
    bad = chain(town.k1["key"], [{"survey": "mttq-2026-q4", "level": 5, "answers": {"dung_hen": 4}}],
                start_seq=4, prev=recs[-1]["hash"])
    r = post(town, bad)
    assert r.status_code == 422 and r.json()["detail"].startswith("ratings[0]: answers"), r.text
