"""The alerts page (issue 10): alerts grouped by cause, worded from kind + params in the reader's
language with the roster's names, filtered, paged, acknowledged a group (or several) at once.

The app runs in this process (ASGI, Starlette's TestClient); the alerts are raised the real way,
by signed batches through the sync API: harassment of one officer over thirty months, a gap,
a low rate last month. The CSRF flow is the pages': the token of the page, POSTed back.
"""
from __future__ import annotations

import re
import dbtools
import uuid
from datetime import datetime, timedelta
from html import unescape

import pytest
from helpers import ROOT
from starlette.testclient import TestClient

from sync import protocol
from sync.server.app import create_app
from sync.server.core import admin_ops
from sync.server.core import alerts as alert_rules
from sync.server.core.clock import VN_TZ

MONTHS = 30           # harassment of cb-002 in each of the last thirty months: thirty groups, two pages


def month_back(n: int) -> datetime:
    """The 10th of the local month ``n`` months before this one, 09:00."""
    today = datetime.now(VN_TZ)
    total = today.year * 12 + today.month - 1 - n
    return datetime(total // 12, total % 12 + 1, 10, 9, 0, tzinfo=VN_TZ)


class Kiosk:
    """A kiosk posting signed batches through the sync API (``kiosk``: what enrol_kiosk returned)."""

    def __init__(self, client, kiosk, unit: str = "13321"):
        self.client, self.key, self.token = client, kiosk["key"], kiosk["token"]
        self.id, self.unit = kiosk.get("kiosk_id", "K1"), unit
        self.seq, self.prev = 0, protocol.ZERO_HASH

    def send(self, rows: list[dict], skip: int = 0):
        self.seq += skip
        if skip:                       # a hole in the chain: the kiosk's records before it never came
            self.prev = "cd" * 32
        records = []
        for fields in rows:
            self.seq += 1
            rec = protocol.seal({
                "id": str(uuid.uuid4()), "kiosk_id": self.id, "seq": self.seq, "created_at": fields["at"],
                "unit_code": self.unit, "desk_id": fields.get("desk", "quay-1"),
                "officer_id": fields.get("officer", "cb-002"), "dossier_code": None, "procedure_code": None,
                "receipt_id": None, "level": fields.get("level", 1), "reasons": fields.get("reasons", []),
                "comment": fields.get("comment"), "source": "walk_up", "flags": []}, self.prev, self.key)
            self.prev = rec["hash"]
            records.append(rec)
        body = {"kiosk_id": self.id, "sent_at": datetime.now(VN_TZ).isoformat(), "ratings": records}
        r = self.client.post(protocol.PATH_BATCH, json=body, headers={
            "Authorization": f"Bearer {self.token}", "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 200, r.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def sign_in(app, username, password) -> TestClient:
    c = TestClient(app, base_url="http://127.0.0.1")
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "username": username, "password": password, "next": "/admin"},
               follow_redirects=False)
    assert r.status_code == 303
    return c


@pytest.fixture
def town(town_db, tmp_path):
    app = create_app(str(town_db), media_dir=tmp_path / "media")
    with app.state.engine.begin() as conn:
        admin_ops.create_user(conn, "an", "admin", "mật-khẩu-quản-trị")
        admin_ops.create_user(conn, "binh", "viewer", "mật-khẩu-xem")
        app.state.api_token = admin_ops.create_token(conn, "an")
        admin_ops.import_roster(conn, ROOT / "assets" / "demo" / "roster.json", tmp_path / "media")
        kiosk = admin_ops.enrol_kiosk(conn, "K1", "13321")
    anonymous = TestClient(app, base_url="http://127.0.0.1")
    k = Kiosk(anonymous, kiosk)
    harassment = []
    for n in range(MONTHS, 0, -1):       # oldest first: times run forward with the seqs
        at = month_back(n)
        harassment += [{"at": at.isoformat(), "reasons": ["nhung_nhieu"], "comment": f"Đòi tiền lần {i}"}
                       for i in (1, 2)]
    k.send(harassment)
    last = month_back(1)
    # last month: ten unhappy ratings of cb-004 (a low rate) and, after a hole of three seqs, one more
    k.send([{"at": (last + timedelta(hours=1, minutes=i)).isoformat(), "officer": "cb-004", "desk": "quay-2"}
            for i in range(10)])
    k.send([{"at": (last + timedelta(hours=3)).isoformat(), "officer": "cb-004", "desk": "quay-2"}], skip=3)
    app.state.db_path = town_db
    yield app
    app.state.engine.dispose()


def text_of(html: str) -> str:
    main = html.split("<main>", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


def groups_on(html: str) -> list[str]:
    return [unescape(g) for g in re.findall(r'<tr class="kind-[a-z_]+" data-kind="[a-z_]+" data-group="([^"]+)"', html)]


def db_rows(town, sql, *args):
    with dbtools.connect(town.state.db_path) as con:
        return con.execute(sql, args).fetchall()


# --- wording ------------------------------------------------------------------------------------

def test_alerts_are_worded_from_kind_and_params_with_names_in_vietnamese(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    first = month_back(MONTHS)
    html = s.get(f"/admin/alerts?kind=nhung_nhieu&subject=cb-002&month={first:%Y-%m}").text
    text = text_of(html)
    assert (f"Phản ánh nhũng nhiễu đối với Trần Văn Đức (Quầy số 1 — Tư pháp, Hộ tịch) lúc "
            f"{first:%d/%m/%Y} 09:00: “Đòi tiền lần 1”") in text
    assert "Trần Văn Đức — Quầy số 1 — Tư pháp, Hộ tịch" in text          # the group's subject
    assert "× 2" in text
    gap = text_of(s.get("/admin/alerts?kind=gap").text)
    assert ("Thiếu các phiếu số 71–73 (3 phiếu) của ki-ốt K1 (UBND xã Đồng Tâm) (trước phiếu số 74)") in gap
    low = text_of(s.get("/admin/alerts?kind=low_rate").text)
    m = month_back(1)
    assert (f"Phạm Quốc Hưng: tỷ lệ hài lòng 0,0% (0/10) dưới ngưỡng 80% trong tháng {m.month}/{m.year}") in low
    everything = text_of(s.get("/admin/alerts?state=all").text)
    for raw in ("seq ", "[cb-", "cb-002", "cb-004", "nhung_nhieu", "+07:00", "T09:00"):
        assert raw not in everything, raw


def test_alerts_are_worded_in_english_for_an_english_reader(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    s.get("/lang/en?next=/admin/alerts")
    first = month_back(MONTHS)
    html = s.get(f"/admin/alerts?kind=nhung_nhieu&subject=cb-002&month={first:%Y-%m}").text
    text = text_of(html)
    assert f"Harassment reported against Trần Văn Đức (Quầy số 1 — Tư pháp, Hộ tịch) at {first:%d/%m/%Y} 09:00" in text
    assert "Acknowledge the chosen groups" in text
    gap = text_of(s.get("/admin/alerts?kind=gap").text)
    assert "Ratings no. 71–73 (3 ratings) of kiosk K1 (UBND xã Đồng Tâm) are missing (before no. 74)" in gap
    low = text_of(s.get("/admin/alerts?kind=low_rate").text)
    m = month_back(1)
    assert f"Phạm Quốc Hưng: satisfaction rate 0.0% (0/10), under the 80% threshold in {m.month}/{m.year}" in low
    assert "Phản ánh" not in text and "Thiếu" not in gap


def test_the_admin_pull_keeps_a_vietnamese_message_and_gains_the_params(town):
    c = TestClient(town, base_url="http://127.0.0.1")
    alerts = c.get("/api/v1/alerts", headers={"Authorization": f"Bearer {town.state.api_token}"}).json()["alerts"]
    gap = next(a for a in alerts if a["kind"] == "gap")
    assert gap["params"] == {"kiosk": "K1", "seq_from": 71, "seq_to": 73, "before": 74}
    assert gap["message"].startswith("Thiếu các phiếu số 71–73 (3 phiếu) của ki-ốt K1")
    harass = next(a for a in alerts if a["kind"] == "nhung_nhieu")
    assert harass["params"]["officer"] == "cb-002" and harass["params"]["comment"] == "Đòi tiền lần 1"
    assert "Trần Văn Đức" in harass["message"] and "Đòi tiền lần 1" in harass["message"]
    low = next(a for a in alerts if a["kind"] == "low_rate")
    assert low["params"] | {"threshold": 80} == {"officer": "cb-004", "month": month_back(1).strftime("%Y-%m"),
                                                  "rate": 0.0, "satisfied": 0, "valid": 10, "threshold": 80}
    assert not low["message"].startswith("[")                               # no raw key in front


def test_an_alert_from_before_params_shows_its_message(town):
    with dbtools.connect(town.state.db_path) as con:
        con.execute("INSERT INTO alerts(kind, kiosk_id, message, created_at, subject, month, count, happened_at, "
                    "params) VALUES ('chain', 'K1', 'Tin nhắn cũ của phiên bản trước', '2025-01-05T01:00:00.000+00:00', "
                    "'K1', '2025-01', 1, '2025-01-05T01:00:00.000+00:00', '{}')")
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    text = text_of(s.get("/admin/alerts?kind=chain").text)
    assert "Tin nhắn cũ của phiên bản trước" in text and "05/01/2025 08:00" in text


def test_every_wording_has_an_english_translation():
    from babel.messages.pofile import read_po
    with (ROOT / "assets/locale/en/LC_MESSAGES/hailong_server.po").open("rb") as fh:
        english = {m.id: m.string for m in read_po(fh) if m.id}
    asked = set()

    def record(text, **kw):
        asked.add(text)
        return text.format(**kw) if kw else text
    w = alert_rules.Words(record, "en")
    samples = {
        "gap": [{"kiosk": "K1", "seq_from": 3, "seq_to": 3, "before": 4},
                {"kiosk": "K1", "seq_from": 3, "seq_to": 5, "before": 6}],
        "chain": [{"kiosk": "K1", "seq": 1, "first": True}, {"kiosk": "K1", "seq": 3}],
        "signature": [{"kiosk": "K1", "seq": 2, "why": why, "detail": "x"} for why in ("hash", "signature", None)],
        "conflict": [{"kiosk": "K1", "seq": 2, "case": c} for c in ("content", "seq")],
        "clock_skew": [{"kiosk": "K1", "seconds": s, "ahead": a, "threshold": 120}
                       for s, a in ((30, True), (600, False), (10000, False), (900000, True))],
        "clock_jump": [{"kiosk": "K1", "seq": 3, "created": "2019-01-01T00:00:00+07:00",
                        "corrected": "2026-01-01T00:00:00+07:00",
                        "found": ["clock_back", "clock_before_2020", "clock_future"],
                        "prev_created": "2026-01-01T00:00:00+07:00"}],
        "nhung_nhieu": [{"officer": "cb-1", "desk": "q", "kiosk": "K1", "seq": 1, "at": "2026-01-01T00:00:00+07:00",
                         "comment": "c"}],
        "low_rate": [{"officer": "cb-1", "month": "2026-11", "rate": 50.0, "satisfied": 5, "valid": 10,
                      "threshold": 80}],
        "silent": [{"kiosk": "K1", "since": "2026-01-01T00:00:00+07:00", "hours": 24, "contact": c}
                   for c in ("sent", "enrolled")],
        "unknown_officer": [{"code": "x", "kiosk": "K1", "seq": 1}],
        "unknown_desk": [{"code": "x", "kiosk": "K1", "seq": 1}],
        "duplicate_receipt": [{"receipt": "r", "dossier": d, "kiosk": "K1", "seq": 1} for d in ("H1", None)],
        "kiosk_reset": [{"kiosk": "K1", "last_seq": 2, "held": 6, "acked": 6, "replaced": False,
                         "reported_before": r} for r in (None, 7, 9)]
                       + [{"kiosk": "K1", "last_seq": 6, "held": 6, "acked": 6, "replaced": True}],
        "case_overdue": [{"case_id": 3, "officer_id": o, "kiosk_id": k, "due_date": "2026-02-25", "kind": "manual"}
                         for o, k in (("cb-1", None), (None, "K1"))],
    }
    assert set(samples) == set(alert_rules.KIND_LABELS)
    for kind, cases in samples.items():
        for params in cases:
            assert alert_rules.describe(kind, params, w), (kind, params)
    missing = sorted(t for t in asked if not english.get(t))
    assert not missing, missing


# --- grouping, filters, paging --------------------------------------------------------------------

def test_one_row_per_kind_subject_and_month_with_the_count_of_causes(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    html = s.get("/admin/alerts").text
    text = text_of(html)
    groups = MONTHS + 2           # harassment × 30 months, the gap, the low rate
    assert f"{groups} nhóm" in text
    assert len(groups_on(html)) == 25                                           # a page holds 25 groups
    month = month_back(3).strftime("%Y-%m")
    one = s.get(f"/admin/alerts?kind=nhung_nhieu&month={month}").text
    (key,) = groups_on(one)
    assert key.endswith(f"|nhung_nhieu|{month}|cb-002")
    assert "× 2" in text_of(one)
    assert f"/admin/officers/cb-002?period={month}" in one                     # its ratings
    kiosk = groups_on(s.get("/admin/alerts?subject=K1").text)
    assert [k.split("|")[1] for k in kiosk] == ["gap"]
    officer = groups_on(s.get("/admin/alerts?subject=cb-004").text)
    assert [k.split("|")[1] for k in officer] == ["low_rate"]


def test_paging_keeps_the_filters(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    first = s.get("/admin/alerts?kind=nhung_nhieu").text
    assert len(groups_on(first)) == 25 and "30 nhóm" in text_of(first)
    assert 'href="/admin/alerts?kind=nhung_nhieu&amp;page=2"' in first
    second = s.get("/admin/alerts?kind=nhung_nhieu&page=2").text
    assert len(groups_on(second)) == 5
    assert not set(groups_on(first)) & set(groups_on(second))
    assert 'href="/admin/alerts?kind=nhung_nhieu"' in second                   # back to page 1, filter kept
    too_far = s.get("/admin/alerts?kind=nhung_nhieu&page=999")
    assert too_far.status_code == 200 and "Chỉ có 2 trang" in too_far.text
    assert groups_on(too_far.text) == groups_on(second)


# --- acknowledging ---------------------------------------------------------------------------------

def test_acknowledging_chosen_groups_at_once_resolves_every_alert_behind_them(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    html = s.get("/admin/alerts?kind=nhung_nhieu").text
    chosen = groups_on(html)[:3]
    before = db_rows(town, "SELECT count(*) FROM alerts WHERE resolved_at IS NULL")[0][0]
    r = s.post("/admin/alerts/ack", data={"csrf": csrf_of(html), "group": chosen, "note": "Đã làm việc với cán bộ",
                                          "back": "kind=nhung_nhieu"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/alerts?kind=nhung_nhieu"
    months = [k.split("|")[2] for k in chosen]
    rows = db_rows(town, "SELECT month, acked_by, note, resolved_at IS NOT NULL FROM alerts "
                         f"WHERE kind = 'nhung_nhieu' AND month IN ({','.join('?' * 3)})", *months)
    assert sorted(rows) == sorted((m, "an", "Đã làm việc với cán bộ", 1) for m in months)
    assert db_rows(town, "SELECT count(*) FROM alerts WHERE resolved_at IS NULL")[0][0] == before - 3
    after = s.get("/admin/alerts?kind=nhung_nhieu")
    assert "Đã xác nhận 3 cảnh báo." in after.text
    assert not set(chosen) & set(groups_on(after.text))
    done = text_of(s.get("/admin/alerts?kind=nhung_nhieu&state=resolved").text)
    assert done.count("Đã làm việc với cán bộ") == 3
    # the same groups again: nothing left open
    r = s.post("/admin/alerts/ack", data={"csrf": csrf_of(html), "group": chosen}, follow_redirects=False)
    assert r.status_code == 404 and "không còn mở" in r.text


def test_a_group_acknowledges_no_alert_raised_after_the_page_was_read(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    html = s.get("/admin/alerts?kind=gap").text
    (key,) = groups_on(html)
    stale = "1|" + key.split("|", 1)[1]                 # read when alert 1 was the newest
    r = s.post("/admin/alerts/ack", data={"csrf": csrf_of(html), "group": stale}, follow_redirects=False)
    assert r.status_code == 404
    assert db_rows(town, "SELECT count(*) FROM alerts WHERE kind = 'gap' AND resolved_at IS NULL")[0][0] == 1


def test_one_rows_button_and_the_single_alert_route_still_acknowledge(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    html = s.get("/admin/alerts?kind=gap").text
    (key,) = groups_on(html)
    r = s.post("/admin/alerts/ack", data={"csrf": csrf_of(html), "group": key, "note": "mất điện",
                                          "back": "kind=gap"}, follow_redirects=False)
    assert r.status_code == 303
    assert db_rows(town, "SELECT acked_by, note FROM alerts WHERE kind = 'gap'") == [("an", "mất điện")]
    (low_id,) = db_rows(town, "SELECT id FROM alerts WHERE kind = 'low_rate'")[0]
    r = s.post(f"/admin/alerts/{low_id}/ack", data={"csrf": csrf_of(html), "note": "đã nhắc"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/alerts"
    assert db_rows(town, "SELECT acked_by, note FROM alerts WHERE id = ?", low_id) == [("an", "đã nhắc")]


def test_bulk_acknowledgement_needs_the_csrf_token_an_admin_and_a_choice(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    html = s.get("/admin/alerts").text
    key = groups_on(html)[0]
    assert s.post("/admin/alerts/ack", data={"group": key}, follow_redirects=False).status_code == 403
    assert s.post("/admin/alerts/ack", data={"group": key, "csrf": "forged"}, follow_redirects=False).status_code == 403
    r = s.post("/admin/alerts/ack", data={"csrf": csrf_of(html)}, follow_redirects=False)
    assert r.status_code == 422 and "Chưa chọn nhóm cảnh báo nào" in r.text
    r = s.post("/admin/alerts/ack", data={"csrf": csrf_of(html), "group": ["nonsense", "x|y|z"]},
               follow_redirects=False)
    assert r.status_code == 404
    viewer = sign_in(town, "binh", "mật-khẩu-xem")
    page = viewer.get("/admin/alerts").text
    assert 'type="checkbox"' not in page and "Xác nhận đã xem" not in page
    r = viewer.post("/admin/alerts/ack", data={"csrf": csrf_of(page), "group": key}, follow_redirects=False)
    assert r.status_code == 403
    nobody = TestClient(town, base_url="http://127.0.0.1")
    r = nobody.post("/admin/alerts/ack", data={"group": key}, follow_redirects=False)
    assert r.status_code in (303, 403)
    assert db_rows(town, "SELECT count(*) FROM alerts WHERE resolved_at IS NOT NULL")[0][0] == 0


# --- hostile query strings ---------------------------------------------------------------------------

HOSTILE = [
    "page=0", "page=-1", "page=abc", "page=1e9", "page=99999999999999999999999", "page=", "page=%00",
    "kind=nope", "kind=%3Cscript%3E", "kind=gap&kind=chain", "subject=" + "x" * 5000, "subject=%00%FF",
    "subject=cb-002%27%20OR%201%3D1--", "month=2026-13", "month=99999-01", "month=%E2%80%AE", "month=2026-1",
    "state=gone", "state=", "show=all", "page=2&page=x", "&&&==&", "%ZZ=1", "kind=" + "%F0%9F%92%A9" * 300,
    "a=" + "b" * 10000, "page=２", "page=٣", "&".join(["kind=gap"] * 200), "month=" + "9" * 400,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_a_hostile_query_string_never_breaks_the_page(town, query):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    r = s.get("/admin/alerts?" + query)
    assert r.status_code == 200, (query, r.status_code, r.text[:300])
    assert "<script" not in r.text.split("<main>", 1)[1]


def test_ignored_filters_are_said(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    text = text_of(s.get("/admin/alerts?kind=nope&month=2026-13&page=abc&state=gone").text)
    assert "Loại cảnh báo «nope» không có" in text
    assert "Tháng «2026-13» không hợp lệ" in text
    assert "Số trang «abc» không hợp lệ" in text
    assert "Trạng thái «gone» không có" in text


def test_the_filtered_count_says_how_many_alerts_the_groups_stand_for(town):
    s = sign_in(town, "an", "mật-khẩu-quản-trị")
    with dbtools.connect(town.state.db_path) as con:     # a second gap alert of K1 this month
        con.execute("INSERT INTO alerts(kind, kiosk_id, message, created_at, subject, month, count, happened_at, "
                    "params) SELECT kind, kiosk_id, message, created_at, subject, month, 1, happened_at, params "
                    "FROM alerts WHERE kind = 'gap'")
    text = text_of(s.get("/admin/alerts?kind=gap").text)
    assert "(1 nhóm, 2 cảnh báo)" in text and "2 cảnh báo trong nhóm" in text


def test_rebuilding_the_roll_up_raises_no_alert_again(town):
    from sync.server.core import rollup
    from sync.server.core.settings import survey
    with town.state.engine.begin() as conn:
        reasons = survey(conn)["reasons"]
    before = db_rows(town, "SELECT kind, month, count FROM alerts ORDER BY id")
    rollup.rebuild(town.state.engine, reasons)
    with town.state.engine.begin() as conn:
        assert alert_rules.after_fold(conn) == 0
    assert db_rows(town, "SELECT kind, month, count FROM alerts ORDER BY id") == before
