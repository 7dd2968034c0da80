"""The cases pages, the API and the command line: what an admin reads and does with a case.

The app runs in this process (Starlette's TestClient); the case is opened the real way, by a
signed nhũng nhiễu rating through the sync API. The forms are posted as the pages post them
(the page's CSRF token); a refused form comes back as typed, naming what is missing. Hostile
ids, query strings and forms get a 4xx page, never a 500.
"""
from __future__ import annotations

import json
import os
import re
import dbtools
import subprocess
import sys
from datetime import date, datetime, timedelta
from html import unescape

import pytest
from helpers import ROOT
from starlette.testclient import TestClient
from test_alerts_page import Kiosk, csrf_of, sign_in, text_of

from sync.server.app import create_app
from sync.server.core import admin_ops
from sync.server.core import cases as case_rules
from sync.server.core.clock import VN_TZ

LONG = "Cán bộ đòi tiền bồi dưỡng mới nhận hồ sơ. " * 10     # 420 characters


@pytest.fixture
def town(town_db, tmp_path):
    app = create_app(str(town_db), media_dir=tmp_path / "media")
    with app.state.engine.begin() as conn:
        admin_ops.create_user(conn, "an", "admin", "mật-khẩu-quản-trị")
        admin_ops.create_user(conn, "binh", "viewer", "mật-khẩu-xem")
        app.state.api_token = admin_ops.create_token(conn, "an")
        admin_ops.import_roster(conn, ROOT / "assets" / "demo" / "roster.json", tmp_path / "media")
        kiosk = admin_ops.enrol_kiosk(conn, "K1", "13321")
    k = Kiosk(TestClient(app, base_url="http://127.0.0.1"), kiosk)
    at = datetime.now(VN_TZ).replace(microsecond=0) - timedelta(hours=1)
    k.send([{"at": at.isoformat(), "reasons": ["nhung_nhieu"], "comment": LONG}])
    app.state.db_path = town_db
    with dbtools.connect(app.state.db_path) as con:     # the rating came with a dossier
        con.execute("UPDATE ratings SET dossier_code = 'H-2026-001', procedure_code = '1.001193'")
    yield app
    app.state.engine.dispose()


def db_rows(town, sql, *args):
    with dbtools.connect(town.state.db_path) as con:
        return con.execute(sql, args).fetchall()


def admin_client(town) -> TestClient:
    return sign_in(town, "an", "mật-khẩu-quản-trị")


def post(client, url, **data):
    page = client.get(url.rsplit("/", 1)[0] if not url.endswith("/new") else url)
    return client.post(url, data={"csrf": csrf_of(page.text), **data}, follow_redirects=False)


def case_ids_on(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-case="(\d+)"', html)]


# --- the list ----------------------------------------------------------------------------------

def test_the_list_puts_overdue_cases_first_and_counts_them_and_the_menu_shows_the_badge(town):
    with town.state.engine.begin() as conn:
        late = case_rules.open_case(conn, "an", "Kiểm tra quầy 2", officer_id="cb-004")
        case_rules.set_due(conn, late, (date.today() - timedelta(days=2)).isoformat(), "an")
        done = case_rules.open_case(conn, "an", "Đã xong", kiosk_id="K1")
        case_rules.add_action(conn, done, "an", "other", "Đã kiểm tra")
        case_rules.close_case(conn, done, "an", "Không có lỗi", "Bình thường")
    s = admin_client(town)
    html = s.get("/admin/cases").text
    assert case_ids_on(html) == [late, 1]                  # not closed by default, the overdue one first
    text = text_of(html)
    assert "Quá hạn: 1" in text and "Đóng: 1" in text and "Chưa đóng: 2" in text
    assert "Phản ánh nhũng nhiễu" in text and "Trần Văn Đức" in text and "Phạm Quốc Hưng" in text
    assert case_ids_on(s.get("/admin/cases?status=all").text) == [late, 1, done]
    assert case_ids_on(s.get("/admin/cases?status=closed").text) == [done]
    assert case_ids_on(s.get("/admin/cases?status=overdue").text) == [late]
    assert case_ids_on(s.get("/admin/cases?kind=nhung_nhieu").text) == [1]
    assert case_ids_on(s.get("/admin/cases?officer=cb-004").text) == [late]
    assert case_ids_on(s.get("/admin/cases?owner=-").text) == [late, 1]
    for page in ("/admin", "/admin/alerts", "/admin/cases", f"/admin/cases/{late}", "/admin/roster"):
        badge = re.search(r'href="/admin/cases"[^>]*>[^<]*<span class="badge" title="Vụ việc quá hạn">(\d+)</span>',
                          s.get(page).text)
        assert badge and badge[1] == "1", page


def test_the_list_pages_25_at_a_time(town):
    with town.state.engine.begin() as conn:
        for n in range(30):
            case_rules.open_case(conn, "an", f"Vụ số {n}", kiosk_id="K1")
    s = admin_client(town)
    first, second = s.get("/admin/cases").text, s.get("/admin/cases?page=2").text
    assert len(case_ids_on(first)) == 25 and len(case_ids_on(second)) == 6
    assert "(31 vụ việc)" in text_of(first) and 'href="/admin/cases?page=2"' in first
    assert "Chỉ có 2 trang" in text_of(s.get("/admin/cases?page=9").text)


# --- one case ----------------------------------------------------------------------------------

def test_the_case_page_shows_its_cause_officer_owner_due_date_and_log(town):
    s = admin_client(town)
    html = s.get("/admin/cases/1").text
    text = text_of(html)
    assert "Vụ việc số 1 · Phản ánh nhũng nhiễu" in text
    assert 'href="/admin/officers/cb-002?period=' in html and "Trần Văn Đức" in text
    assert "Phản ánh nhũng nhiễu đối với Trần Văn Đức" in text             # the alert, worded with names
    assert 'href="/admin/alerts?kind=nhung_nhieu&amp;month=' in html
    quoted = re.search(r'<blockquote class="comment">“([^”]*)”</blockquote>', html)[1]
    assert unescape(quoted) == LONG[:200] + "…"                             # at most 200 characters
    assert "hồ sơ H-2026-001" in text
    assert "Chưa giao" in text and "tự động (theo quy tắc)" in text
    case = case_rules.get_case(town.state.engine.connect(), 1)
    assert f"{case['due_date'][8:]}/{case['due_date'][5:7]}/{case['due_date'][:4]}" in text
    assert case["dossiers"] == [{"rating_id": case["links"][1]["rating_id"], "dossier_code": "H-2026-001",
                                 "procedure_code": "1.001193", "officer_id": "cb-002",
                                 "created_at": case["links"][1]["rating_at"]}]
    assert 'name="status" value="in_progress"' in html                     # the next allowed move
    assert [o for o in re.findall(r'<select name="owner">(.*?)</select>', html, re.S)[0].split("<option")
            if "value=\"an\"" in o or "value=\"binh\"" in o]
    assert "Vụ việc được mở" in text and "hệ thống" in text                     # the log's first line


def test_an_admin_acts_is_refused_closing_without_outcome_with_the_text_kept_then_closes(town):
    s = admin_client(town)
    r = post(s, "/admin/cases/1/close", found_cause="Thiếu giám sát", outcome="")
    assert r.status_code == 422
    text = text_of(r.text)
    assert "Chưa đóng được vụ việc số 1: còn thiếu ít nhất một biện pháp đã thực hiện, kết quả xử lý" in text
    assert re.search(r'<textarea name="found_cause"[^>]*>Thiếu giám sát</textarea>', r.text)   # kept as typed
    assert 'name="outcome" rows="2" maxlength="4000" aria-invalid="true"' in r.text
    r = post(s, "/admin/cases/1/assign", owner="an")
    assert r.status_code == 303
    r = post(s, "/admin/cases/1/action", action="nhac_nho", text="Nhắc nhở trực tiếp")
    assert r.status_code == 303 and r.headers["location"] == "/admin/cases/1?done=action#log"
    page = s.get("/admin/cases/1").text
    assert 'data-status="in_progress"' in page and "Nhắc nhở trực tiếp" in text_of(page)
    r = post(s, "/admin/cases/1/close", found_cause="Thiếu giám sát", outcome="Cán bộ đã xin lỗi, trả lại tiền")
    assert r.status_code == 303
    page = s.get(r.headers["location"]).text
    assert 'data-testid="case-status" data-status="closed"' in page and "Đã đóng vụ việc." in text_of(page)
    assert db_rows(town, "SELECT kind, by, action FROM case_events WHERE case_id = 1 ORDER BY id") == [
        ("opened", None, None), ("assigned", "an", None), ("action", "an", "nhac_nho"), ("status", "an", None),
        ("closed", "an", None)]
    assert db_rows(town, "SELECT note, acked_by FROM alerts WHERE kind = 'nhung_nhieu'") == [
        ("Đã xử lý trong vụ việc số 1", "an")]
    # reopening by hand wants a reason
    r = post(s, "/admin/cases/1/reopen", text="")
    assert r.status_code == 422 and "Ghi lý do mở lại" in text_of(r.text)
    r = post(s, "/admin/cases/1/reopen", text="Công dân phản ánh lại")
    assert r.status_code == 303
    assert db_rows(town, "SELECT status, reopened, closed_at FROM cases WHERE id = 1") == [("open", 1, None)]


def test_opening_a_case_by_hand_from_the_officer_page(town):
    s = admin_client(town)
    officer = s.get("/admin/officers/cb-004").text
    assert 'href="/admin/cases/new?officer=cb-004"' in officer
    form = s.get("/admin/cases/new?officer=cb-004").text
    assert '<option value="cb-004" selected>' in form
    r = s.post("/admin/cases/new", data={"csrf": csrf_of(form), "officer": "cb-004", "title": ""},
               follow_redirects=False)
    assert r.status_code == 422 and "Chưa nhập tiêu đề vụ việc" in text_of(r.text)
    r = s.post("/admin/cases/new", data={"csrf": csrf_of(form), "officer": "cb-004", "kiosk": "K1",
                                         "title": "Giữ lại"}, follow_redirects=False)
    assert r.status_code == 422 and 'value="Giữ lại"' in r.text
    r = s.post("/admin/cases/new", data={"csrf": csrf_of(form), "officer": "cb-004", "title": "Thái độ",
                                         "owner": "binh", "text": "Nhiều ý kiến"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/cases/2?done=opened"
    assert db_rows(town, "SELECT kind, officer_id, owner, opened_by, unit_code FROM cases WHERE id = 2") == [
        ("manual", "cb-004", "binh", "an", "13321")]
    officer = s.get("/admin/officers/cb-004").text
    assert case_ids_on(officer) == [2]


def test_the_officer_page_lists_open_cases_first(town):
    with town.state.engine.begin() as conn:
        closed = case_rules.open_case(conn, "an", "Cũ", officer_id="cb-002")
        case_rules.add_action(conn, closed, "an", "nhac_nho")
        case_rules.close_case(conn, closed, "an", "a", "b")
        newer = case_rules.open_case(conn, "an", "Mới", officer_id="cb-002")
    html = admin_client(town).get("/admin/officers/cb-002").text
    assert case_ids_on(html) == [1, newer, closed] or case_ids_on(html) == [newer, 1, closed]
    assert case_ids_on(html)[-1] == closed


# --- who may, and hostile input ----------------------------------------------------------------

def test_a_viewer_reads_but_cannot_change_and_a_post_without_csrf_is_refused(town):
    v = sign_in(town, "binh", "mật-khẩu-xem")
    assert v.get("/admin/cases").status_code == 200
    page = v.get("/admin/cases/1")
    assert page.status_code == 200 and "close-form" not in page.text and "action-form" not in page.text
    r = v.post("/admin/cases/1/action", data={"csrf": csrf_of(page.text), "action": "nhac_nho"},
               follow_redirects=False)
    assert r.status_code == 403
    assert v.get("/admin/cases/new").status_code == 403
    s = admin_client(town)
    assert s.post("/admin/cases/1/close", data={"found_cause": "a", "outcome": "b"}).status_code == 403
    assert TestClient(town).get("/admin/cases", follow_redirects=False).status_code == 303   # to /login


HOSTILE = [
    "page=0", "page=-1", "page=abc", "page=99999999999999999999", "page=%00", "status=gone", "status=",
    "kind=nope", "kind=%3Cscript%3E", "officer=" + "x" * 5000, "officer=%00%FF", "owner=%0A",
    "officer=cb-002%27%20OR%201%3D1--", "month=2026-13", "month=%E2%80%AE", "&&&==&", "%ZZ=1",
    "a=" + "b" * 10000, "page=２", "&".join(["kind=manual"] * 200), "status=overdue&status=closed",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_a_hostile_query_string_never_breaks_the_list(town, query):
    r = admin_client(town).get("/admin/cases?" + query)
    assert r.status_code == 200, (query, r.status_code, r.text[:300])
    assert "<script" not in r.text.split("<main>", 1)[1]


def test_ignored_filters_are_said(town):
    text = text_of(admin_client(town).get("/admin/cases?kind=nope&month=2026-13&page=abc&status=gone").text)
    assert "Loại vụ việc «nope» không có" in text and "Tháng «2026-13» không hợp lệ" in text
    assert "Số trang «abc» không hợp lệ" in text and "Trạng thái «gone» không có" in text


@pytest.mark.parametrize("case_id", ["0", "-1", "abc", "99999999999999999999", "1.5", "%00", "１", "7"])
def test_a_bad_or_unknown_case_id_is_a_404_page(town, case_id):
    s = admin_client(town)
    r = s.get(f"/admin/cases/{case_id}")
    assert r.status_code == 404 and "Không có vụ việc số" in text_of(r.text)
    token = csrf_of(s.get("/admin/cases").text)
    for op in ("action", "close", "reopen", "assign", "status", "due"):
        r = s.post(f"/admin/cases/{case_id}/{op}", data={"csrf": token, "action": "nhac_nho"})
        assert r.status_code == 404, (op, r.status_code)


@pytest.mark.parametrize("op,data,said", [
    ("action", {"action": "tra_tien"}, "Chọn một biện pháp trong danh sách"),
    ("action", {"action": ""}, "Chọn một biện pháp trong danh sách"),
    ("action", {"action": "other", "text": " "}, "Biện pháp “Khác”: ghi rõ đã làm gì"),
    ("action", {"action": "nhac_nho", "text": "x" * 5000}, "Nội dung dài quá 4000 ký tự"),
    ("close", {"found_cause": "x" * 5000, "outcome": "y"}, "Nguyên nhân dài quá 4000 ký tự"),
    ("assign", {"owner": "không-có-ai"}, "Không có người dùng không-có-ai"),
    ("status", {"status": "closed"}, "không chuyển sang “Đóng” được"),
    ("status", {"status": "<script>"}, "đang ở trạng thái “Mở”"),
    ("status", {"status": "in_progress", "extra": "%00"}, None),
    ("due", {"due_date": "2026-02-31"}, "Hạn xử lý không phải ngày"),
    ("reopen", {"text": "lý do"}, "Vụ việc số 1 chưa đóng"),
])
def test_a_refused_form_says_why_and_never_500(town, op, data, said):
    s = admin_client(town)
    r = post(s, f"/admin/cases/1/{op}", **data)
    if said is None:
        assert r.status_code == 303
        return
    assert r.status_code == 422, (op, r.status_code)
    assert said in text_of(r.text)
    assert "<script>" not in r.text.split("<main>", 1)[1]


# --- the API -----------------------------------------------------------------------------------

def test_the_api_lists_cases_with_links_and_events_and_pages_by_cursor(town):
    with town.state.engine.begin() as conn:
        for n in range(4):
            case_rules.open_case(conn, "an", f"Vụ {n}", kiosk_id="K1")
    c = TestClient(town, base_url="http://127.0.0.1")
    auth = {"Authorization": f"Bearer {town.state.api_token}"}
    assert c.get("/api/v1/cases").status_code == 401
    r = c.get("/api/v1/cases", headers=auth, params={"limit": 2})
    assert r.status_code == 200
    page = r.json()
    assert [x["id"] for x in page["cases"]] == [1, 2] and page["next"] == 2
    first = page["cases"][0]
    assert first["kind"] == "nhung_nhieu" and first["officer_id"] == "cb-002" and first["overdue"] is False
    assert [lk["alert_id"] is not None for lk in first["links"]] == [True, False]
    assert first["events"][0]["kind"] == "opened" and first["events"][0]["by"] is None
    rest = c.get("/api/v1/cases", headers=auth, params={"after": 2, "limit": 10}).json()
    assert [x["id"] for x in rest["cases"]] == [3, 4, 5] and rest["next"] is None
    assert [x["id"] for x in c.get("/api/v1/cases?kind=nhung_nhieu", headers=auth).json()["cases"]] == [1]
    assert [x["id"] for x in c.get("/api/v1/cases?officer=cb-002&status=open", headers=auth).json()["cases"]] == [1]
    assert c.get("/api/v1/cases?overdue=1", headers=auth).json()["cases"] == []
    for bad in ("status=gone", "kind=x", "after=-1", "limit=0", "limit=100000", "after=abc", "overdue=maybe",
                "officer=" + "x" * 300):
        assert c.get("/api/v1/cases?" + bad, headers=auth).status_code == 422, bad
    schema = c.get("/openapi.json").json()
    assert "/api/v1/cases" in schema["paths"] and "CasesPage" in schema["components"]["schemas"]


# --- the command line --------------------------------------------------------------------------

def hailong(db, *args, lang="vi"):
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(LANG=lang, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(db), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)


def test_the_command_line_lists_acts_and_closes_refusing_with_what_is_missing(town):
    path = town.state.db_path
    town.state.engine.dispose()
    listed = hailong(path, "cases", "--json")
    assert listed.returncode == 0, listed.stderr
    (case,) = json.loads(listed.stdout)
    assert case["kind"] == "nhung_nhieu" and case["events"][0]["kind"] == "opened"
    assert "#1 nhung_nhieu cb-002: Mở, hạn" in hailong(path, "cases").stdout
    refused = hailong(path, "close-case", "--case", "1", "--cause", "Thiếu giám sát", "--by", "an")
    assert refused.returncode == 1
    assert "Chưa đóng được vụ việc số 1: còn thiếu ít nhất một biện pháp đã thực hiện, kết quả xử lý" in refused.stderr
    english = hailong(path, "close-case", "--case", "1", "--by", "an", lang="en")
    assert english.returncode == 1 and "Case 1 cannot be closed yet: missing" in english.stderr, english.stderr
    unknown = hailong(path, "case-action", "--case", "99", "--action", "nhac_nho", "--by", "an")
    assert unknown.returncode == 2 and "Không có vụ việc số 99" in unknown.stderr
    assert hailong(path, "case-action", "--case", "1", "--action", "kiem_diem", "--text", "Họp",
                   "--by", "an").returncode == 0
    done = hailong(path, "close-case", "--case", "1", "--cause", "Thiếu giám sát", "--outcome", "Đã kiểm điểm",
                   "--by", "an")
    assert done.returncode == 0 and "Đã đóng vụ việc số 1." in done.stdout
    opened = hailong(path, "open-case", "--officer", "cb-004", "--title", "Thái độ", "--by", "an")
    assert opened.returncode == 0 and "Đã mở vụ việc số 2." in opened.stdout
    assert hailong(path, "open-case", "--officer", "nobody", "--title", "x").returncode == 2
    assert [c["id"] for c in json.loads(hailong(path, "cases", "--status", "closed", "--json").stdout)] == [1]
