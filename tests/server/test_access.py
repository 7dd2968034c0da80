"""Who may open what: every admin page and admin API route, tried with every kind of caller.

Callers: nobody, a viewer's session, an admin's session, a kiosk token, a
revoked kiosk token, a viewer's API token, a revoked API token, a forged
session cookie. Against a real server on 127.0.0.1 (the Town of
tests/town.py), on both engines.
"""
from __future__ import annotations

import hashlib
import re

import dbtools
import pytest
import requests
from helpers import ROOT
from town import Town, csrf_of, hailong, session_for

from sync.server.api import ratings as api_admin

PAGES = ["/admin", "/admin?period=2026-Q4", "/admin/officers/cb-001?period=2026",
         "/admin/alerts", "/admin/kiosks", "/admin/export?fmt=csv&period=2026-Q4",
         "/admin/export?fmt=xlsx&period=2026", "/admin/export?fmt=docx&period=2026-Q4",
         "/admin/roster", "/admin/letters", "/admin/kiosks?revoke=ki-ot-1", "/admin/roster?imported=1&officers=2",
         "/admin/kiosks?bundle=ki-ot-1",
         "/admin/surveys/hl3/report.docx?period=2026-Q4", "/admin/surveys", "/admin/surveys/hl3",
         "/admin/surveys/hl3/preview?lang=en", "/admin/surveys/hl3.json"]
ADMIN_POSTS = [("/admin/alerts/1/ack", {"note": "đã xử lý"}),
               ("/admin/roster/officers", {"id": "cb-666", "name": "Kẻ Lạ"}),
               ("/admin/settings/report", {"body": "UBND GIẢ"}),
               ("/admin/alerts/rules", {"officer_rate_below": "50", "officer_min_ratings": "3",
                                        "kiosk_silent_hours": "12"}),
               ("/admin/kiosks/enrol", {"kiosk_id": "ki-ot-la", "unit_code": "13321"}),
               ("/admin/kiosks/public-url", {"public_url:13321": "https://ke-la.example"}),
               ("/admin/kiosks/ki-ot-1/revoke", {}),
               ("/admin/kiosks/ki-ot-1/bundle", {"desk_id": "quay-1", "server_url": "http://127.0.0.1:9"}),
               ("/admin/import-roster", {"file": "id,name\ncb-667,Kẻ Lạ Hai\n"}),
               ("/admin/officers/cb-001/photo", {"file": "không phải ảnh"}),
               ("/admin/surveys/new", {"id": "ke-la", "action": "save"}),
               ("/admin/surveys/default", {"survey": "hl5"}), ("/admin/surveys/hl3/end", {})]
API = sorted({(m, r.path) for r in api_admin.router.routes for m in r.methods if m == "GET"}
             | {("GET", "/api/v1/reports/dashboard")})
SECRET_MARKERS = ("Nguyễn Thị Hồng Nhung", "Mã đánh giá", '"ratings"', '"alerts"', '"overall"')


@pytest.fixture(scope="module")
def town(tmp_path_factory, module_town_db):
    t = Town(tmp_path_factory.mktemp("town"), db=module_town_db)
    yield t
    t.stop()


def assert_no_data(r):
    body = r.text
    assert not any(m in body for m in SECRET_MARKERS), body[:300]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_api_routes_are_known():
    assert ("GET", "/api/v1/ratings") in API and ("GET", "/api/v1/alerts") in API


def test_nobody_and_bearer_tokens_get_no_page(town):
    callers = {"nobody": {}, "kiosk token": bearer(town.kiosk_token),
               "revoked kiosk token": bearer(town.revoked_kiosk_token),
               "admin API token": bearer(town.admin_token), "revoked API token": bearer(town.revoked_token)}
    for who, headers in callers.items():
        for page in PAGES:
            r = requests.get(town.url + page, headers=headers, allow_redirects=False, timeout=30)
            assert r.status_code == 303, (who, page, r.status_code)
            assert r.headers["location"].startswith("/login?next="), (who, page)
            assert_no_data(r)
        for path, form in ADMIN_POSTS:
            r = requests.post(town.url + path, data=form, headers=headers, allow_redirects=False, timeout=30)
            assert r.status_code in (303, 403), (who, path, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login")


def test_forged_session_cookie_is_ignored(town):
    for cookie in ["eyJ1c2VyIjogImFuIn0=.forged.sig", "eyJ1c2VyIjogImFuIn0="]:
        r = requests.get(town.url + "/admin", cookies={"hailong_session": cookie}, allow_redirects=False,
                         timeout=10)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_admin_api_routes_by_token(town):
    expect = {None: 401, town.kiosk_token: 403, town.revoked_kiosk_token: 403,
              town.revoked_token: 401, "ha_not-a-token": 401, town.viewer_token: 200, town.admin_token: 200}
    for method, path in API:
        for token, status in expect.items():
            headers = bearer(token) if token else {}
            r = requests.request(method, town.url + path, headers=headers, timeout=30)
            assert r.status_code == status, (path, token and token[:6], r.status_code, r.text[:200])
            if status != 200:
                assert_no_data(r)


def test_viewer_reads_every_page_but_cannot_manage(town):
    s = session_for(town, "binh", "mật-khẩu-xem")
    for page in PAGES:
        r = s.get(town.url + page, allow_redirects=False, timeout=30)
        assert r.status_code == 200, (page, r.status_code)
    token = csrf_of(s.get(town.url + "/admin/alerts", timeout=30).text)
    for path, form in ADMIN_POSTS:
        r = s.post(town.url + path, data={**form, "csrf": token}, allow_redirects=False, timeout=30)
        assert r.status_code == 403, (path, r.status_code)
    with dbtools.connect(town.db) as con:
        assert con.execute("SELECT count(*) FROM alerts WHERE resolved_at IS NOT NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM settings WHERE key IN ('alert_rules', 'report_issuer')"
                           ).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM officers WHERE id = 'cb-666'").fetchone()[0] == 0
        assert_management_untouched(con)


def assert_management_untouched(con):
    """No kiosk enrolled or revoked, no roster imported by the refused POSTs."""
    assert con.execute("SELECT count(*) FROM kiosks WHERE id = 'ki-ot-la'").fetchone()[0] == 0
    assert con.execute("SELECT revoked FROM kiosks WHERE id = 'ki-ot-1'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM officers WHERE id = 'cb-667'").fetchone()[0] == 0
    demo = hashlib.sha256((ROOT / "assets/demo/photos/cb-001.png").read_bytes()).hexdigest()
    assert con.execute("SELECT photo_sha256 FROM officers WHERE id = 'cb-001'").fetchone()[0] == demo


def test_management_posts_refuse_a_real_upload_without_admin(town):
    """The roster upload as a browser sends it (multipart), by nobody, a viewer, a kiosk token."""
    upload = {"file": ("can-bo.csv", "id,name\ncb-667,Kẻ Lạ Hai\n".encode(), "text/csv")}
    viewer = session_for(town, "binh", "mật-khẩu-xem")
    token = csrf_of(viewer.get(town.url + "/admin/roster", timeout=30).text)
    tries = [(requests, {}, 303), (requests, bearer(town.kiosk_token), 303), (viewer, {}, 403)]
    for client, headers, status in tries:
        r = client.post(town.url + "/admin/import-roster", data={"csrf": token}, files=upload, headers=headers,
                        allow_redirects=False, timeout=30)
        assert r.status_code == status, (headers, r.status_code)
    with dbtools.connect(town.db) as con:
        assert_management_untouched(con)


def test_admin_posts_need_the_csrf_token(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    s.get(town.url + "/admin/alerts", timeout=30)          # raises the harassment alert
    for path, form in ADMIN_POSTS:
        for bad in ({}, {"csrf": "not-the-token"}):
            r = s.post(town.url + path, data={**form, **bad}, allow_redirects=False, timeout=30)
            assert r.status_code == 403, (path, bad, r.status_code)
    with dbtools.connect(town.db) as con:
        assert con.execute("SELECT count(*) FROM alerts WHERE resolved_at IS NOT NULL").fetchone()[0] == 0
        assert_management_untouched(con)
    token = csrf_of(s.get(town.url + "/admin/alerts", timeout=30).text)
    r = s.post(town.url + "/admin/alerts/rules", data={**dict(ADMIN_POSTS)["/admin/alerts/rules"], "csrf": token},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303
    r = s.post(town.url + "/admin/alerts/rules", data={"officer_rate_below": "150", "officer_min_ratings": "3",
                                                       "kiosk_silent_hours": "12", "csrf": token}, timeout=30)
    assert r.status_code == 422 and "Ngưỡng không hợp lệ" in r.text


def test_removed_user_loses_the_session_and_next_cannot_leave_the_site(town):
    s = requests.Session()
    token = csrf_of(s.get(town.url + "/login", timeout=10).text)
    r = s.post(town.url + "/login", data={"csrf": token, "username": "binh", "password": "mật-khẩu-xem",
                                          "next": "//evil.example/steal"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert s.get(town.url + "/admin", allow_redirects=False, timeout=30).status_code == 200
    with dbtools.connect(town.db) as con:
        con.execute("DELETE FROM api_tokens WHERE username = 'binh'")
        con.execute("DELETE FROM users WHERE username = 'binh'")
    r = s.get(town.url + "/admin", allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_admin_edits_the_roster_and_the_report_issuer_viewer_cannot(town):
    viewer = session_for(town, "an", "mật-khẩu-quản-trị")   # (binh is removed above; an is the admin)
    page = viewer.get(town.url + "/admin/roster", timeout=30)
    assert page.status_code == 200 and "Nguyễn Thị Hồng Nhung" in page.text
    token = csrf_of(page.text)
    r = viewer.post(town.url + "/admin/roster/officers", allow_redirects=False, timeout=30, data={
        "csrf": token, "id": "cb-009", "name": "Đỗ Văn Mới", "title": "Công chức Văn hóa - Xã hội",
        "desk_id": "quay-2"})
    assert r.status_code == 303
    r = viewer.post(town.url + "/admin/roster/officers", timeout=30, data={
        "csrf": token, "id": "cb-010", "name": "Ai Đó", "desk_id": "quay-99"})
    assert r.status_code == 422 and "Mã quầy: không có quầy mã quay-99." in r.text
    r = viewer.post(town.url + "/admin/settings/report", allow_redirects=False, timeout=30, data={
        "csrf": token, "parent": "UBND TỈNH ĐỒNG THÁP", "body": "UBND XÃ ĐỒNG TÂM",
        "body_full": "Ủy ban nhân dân xã Đồng Tâm", "place": "Đồng Tâm", "symbol": "BC-UBND",
        "signer_on_behalf": "KT. CHỦ TỊCH", "signer_title": "PHÓ CHỦ TỊCH", "signer_name": "Lê Văn Bình"})
    assert r.status_code == 303
    with dbtools.connect(town.db) as con:
        assert con.execute("SELECT name, desk_id FROM officers WHERE id = 'cb-009'").fetchone() == (
            "Đỗ Văn Mới", "quay-2")
        assert con.execute("SELECT count(*) FROM officers WHERE id = 'cb-010'").fetchone()[0] == 0
    import io

    import docx
    report = viewer.get(town.url + "/admin/export?fmt=docx&period=2026-Q4", timeout=60)
    text = "\n".join(p.text for t in docx.Document(io.BytesIO(report.content)).tables
                     for c in t._cells for p in c.paragraphs)
    assert "KT. CHỦ TỊCH" in text and "PHÓ CHỦ TỊCH" in text and "Lê Văn Bình" in text
    # nobody else may write
    for path in ("/admin/roster/officers", "/admin/settings/report"):
        r = requests.post(town.url + path, data={"id": "x", "name": "y"}, allow_redirects=False, timeout=30)
        assert r.status_code in (303, 403)


def test_report_api_gives_the_hand_counted_figures(town):
    r = requests.get(town.url + "/api/v1/reports/dashboard", params={"period": "2026-Q4", "step": "month"},
                     headers=bearer(town.admin_token), timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["period"]["start"] == "2026-10-01T00:00:00+07:00"
    o = body["overall"]
    assert (o["total"], o["misuse"], o["valid"], o["satisfied"], o["rate"]) == (10, 2, 8, 6, 75.0)
    assert {f["key"]: f["rate"] for f in body["by"]["officer"]} == {"cb-001": 66.7, "cb-002": 66.7, "cb-004": 100.0}
    assert [(p["key"], p["rate"]) for p in body["trend"]["points"]] == [
        ("2026-10", 75.0), ("2026-11", 66.7), ("2026-12", 100.0)]
    bad = requests.get(town.url + "/api/v1/reports/dashboard", params={"period": "2026-Q5"},
                       headers=bearer(town.admin_token), timeout=30)
    assert bad.status_code == 422 and "2026-Q5" in bad.json()["detail"]
    assert "/api/v1/reports/dashboard" in requests.get(town.url + "/openapi.json", timeout=30).json()["paths"]


def test_letter_with_a_new_date_downloads_as_word(town):
    import io

    import docx
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + "/admin/letters", timeout=30)
    assert page.status_code == 200 and "Đăng ký khai sinh" in page.text
    form = {"csrf": csrf_of(page.text), "kind": "xin_loi_hen_lai", "name": "Nguyễn Văn An", "dossier": "H-2026-001",
            "procedure": "Đăng ký khai sinh", "officer": "Trần Văn Đức", "new_date": "5/12/2026"}
    r = s.post(town.url + "/admin/letters", data=form, timeout=30)
    assert r.status_code == 200 and 'filename="thu-xin-loi-hen-lai-H-2026-001.docx"' in r.headers["content-disposition"]
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
    assert "giải quyết hồ sơ vào ngày 05/12/2026" in text and "Kính gửi: Ông/Bà Nguyễn Văn An" in text
    bad = s.post(town.url + "/admin/letters", data={**form, "new_date": "mai"}, timeout=30)
    assert bad.status_code == 422 and "ngày/tháng/năm" in bad.text
    assert requests.post(town.url + "/admin/letters", data=form, allow_redirects=False,
                         timeout=30).status_code in (303, 403)


def test_the_dashboard_leads_an_admin_to_the_periods_evidence_pack(town):
    """The dashboard's downloads offer the evidence pack of the period shown (admins: a viewer cannot make one)."""
    admin = session_for(town, "an", "mật-khẩu-quản-trị")
    page = admin.get(town.url + "/admin?period=2026-Q4", timeout=30).text
    assert 'href="/admin/evidence?period=2026-Q4"' in page
    evidence = admin.get(town.url + "/admin/evidence?period=2026-Q4", timeout=30).text
    assert re.search(r'<option value="2026-Q4"\s+selected>', evidence)
    hailong(town.db, "admin", "create-user", "--username", "chi", "--role", "viewer", "--password-stdin",
            stdin="mật-khẩu-của-chi\n")            # binh, the viewer, is deleted by an earlier test
    viewer = session_for(town, "chi", "mật-khẩu-của-chi")
    assert "/admin/evidence?period=" not in viewer.get(town.url + "/admin?period=2026-Q4", timeout=30).text
