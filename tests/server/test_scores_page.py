"""/admin/scores on a real running server: viewers read, admins set the criteria (CSRF), the
downloads open with the right figures, hostile query strings get a 4xx with a message, and the
page is screenshotted on a desktop and a 360×740 phone (test-artifacts/admin/scores-*.png)."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import docx
import openpyxl
import pytest
from helpers import ROOT
from sqlalchemy import create_engine
from test_scores_town import add_cases
from town import ARTIFACTS, Town, csrf_of, hailong, session_for, shot, sign_in

from sync.server.core import db

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("scores"), db=module_town_db)
    engine = create_engine(db.db_url(str(t.db)))
    # the rules may have opened cases from the ratings as they arrived: these tests count their own
    with engine.begin() as conn:
        for table in (db.case_links, db.case_events, db.letters_issued, db.cases):
            conn.execute(table.delete())
    add_cases(engine)
    engine.dispose()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def admin(town):
    return session_for(town, "an", "mật-khẩu-quản-trị")


@pytest.fixture(scope="module")
def viewer(town):
    return session_for(town, "binh", "mật-khẩu-xem")


def _row(html: str, key: str) -> str:
    m = re.search(rf'<tr data-key="{re.escape(key)}"[^>]*>(.*?)</tr>', html, re.DOTALL)
    assert m, key
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m[1])).strip()


def _save(session, town, **fields):
    page = session.get(town.url + "/admin/scores?period=2026", timeout=20).text
    form = {name: value for name, value in re.findall(r'<input name="(\w+)" value="([^"]*)"', page)}
    form.update({"nn_cap": "trung_binh", "csrf": csrf_of(page), "period": "2026", **fields})
    return session.post(town.url + "/admin/scores/criteria", data=form, allow_redirects=False, timeout=20)


def test_a_viewer_reads_the_scores_and_cannot_edit(town, viewer):
    r = viewer.get(town.url + "/admin/scores?period=2026", timeout=20)
    assert r.status_code == 200
    assert "Chấm điểm thi đua — Năm 2026" in r.text
    # the defaults want 30 ratings: this small town's officers are not scored yet
    assert "chưa đủ số liệu" in _row(r.text, "cb-004")
    assert "Lưu tiêu chí" not in r.text and "Chỉ quản trị viên sửa được tiêu chí." in r.text
    assert "không phải quy định của pháp luật" in r.text
    r = viewer.post(town.url + "/admin/scores/criteria", data={"csrf": csrf_of(r.text), "min_ratings": "2"},
                    allow_redirects=False, timeout=20)
    assert r.status_code == 403


@pytest.mark.parametrize("query,words", [
    ("period=2026-13", "tháng phải từ 1 đến 12"),
    ("period=%3Cscript%3Ealert(1)%3C/script%3E", "kỳ báo cáo không hợp lệ"),
    ("period=" + "9" * 5000, "quá dài"),
    ("period=1900", "năm phải từ 2000"),
    ("period=2026&unit=kh%C3%B4ng-c%C3%B3", "Không có đơn vị mã «không-có»"),
    ("period=2026&unit=" + "x" * 300, "Mã đơn vị quá dài"),
])
def test_hostile_query_strings_get_a_message_never_a_500(town, viewer, query, words):
    r = viewer.get(town.url + "/admin/scores?" + query, timeout=20)
    assert r.status_code == 422, r.text[:300]
    assert words in r.text and "<script>alert" not in r.text
    r = viewer.get(town.url + "/admin/scores/export?fmt=xlsx&" + query, timeout=20)
    assert r.status_code == 422 and "<script>alert" not in r.text


def test_an_unknown_format_is_refused(town, viewer):
    r = viewer.get(town.url + "/admin/scores/export?period=2026&fmt=pdf", timeout=20)
    assert r.status_code == 422 and "chọn xlsx hoặc docx" in r.text


def test_bad_criteria_are_refused_naming_the_field(town, admin):
    r = _save(admin, town, rate_bands="90:35; 95:40")
    assert r.status_code == 422
    assert "Tỷ lệ hài lòng: mức (%) và điểm: các mức phải giảm dần" in r.text
    assert 'data-field="rate_bands"' in r.text and 'value="90:35; 95:40"' in r.text   # what was typed stays
    r = _save(admin, town, class_tot="abc")
    assert r.status_code == 422 and "Tổng điểm tối thiểu: Tốt: «abc» không phải một số" in r.text
    r = admin.post(town.url + "/admin/scores/criteria", data={"min_ratings": "2"}, allow_redirects=False,
                   timeout=20)
    assert r.status_code == 403                                                   # no CSRF token
    assert "chưa đủ số liệu" in _row(admin.get(town.url + "/admin/scores?period=2026", timeout=20).text, "cb-004")


def test_criteria_saved_on_the_page_are_used_by_the_page_and_the_command_line(town, admin):
    r = _save(admin, town, min_ratings="2")
    assert r.status_code == 303 and r.headers["location"] == "/admin/scores?period=2026&saved=1"
    page = admin.get(town.url + r.headers["location"], timeout=20).text
    assert "Đã lưu tiêu chí chấm điểm." in page
    assert _row(page, "cb-004").endswith("100,0% 0 — 40 30 15 15 100 Xuất sắc")
    one = _row(page, "cb-001")
    assert "50,0% (1/2)" in one and one.endswith("0 0 15 15 30 Yếu")
    assert "Còn 1 vụ việc nhũng nhiễu chưa xử lý xong cuối kỳ (#3): 0 điểm" in _row(page, "cb-002")
    assert "chưa đủ số liệu" in _row(page, "cb-003")                            # in the roster, never rated
    assert _row(page, "13321").endswith("0 0 0 5 5 Yếu")
    out = json.loads(hailong(town.db, "admin", "scores", "--period", "2026", "--json"))
    got = {s["id"]: (s["total"], s["classification"]) for s in out["officers"]}
    assert got["cb-004"] == (100, "xuat_sac") and got["cb-001"] == (30, "yeu") and got["cb-003"] == (None, None)
    assert out["criteria"]["min_ratings"] == 2


def test_the_downloads_hold_the_pages_figures(town, admin):
    _save(admin, town, min_ratings="2")
    r = admin.get(town.url + "/admin/scores/export?period=2026&fmt=xlsx", timeout=20)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="hailong-2026-cham-diem-thi-dua.xlsx"'
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content))["Cán bộ"].iter_rows(values_only=True))
    assert rows[1][1:3] == ("cb-004", "Phạm Quốc Hưng") and rows[1][-3:-1] == (100, "Xuất sắc")
    r = admin.get(town.url + "/admin/scores/export?period=2026&fmt=docx", timeout=20)
    assert r.status_code == 200
    (ARTIFACTS / "scores-annex.docx").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "scores-annex.docx").write_bytes(r.content)
    d = docx.Document(io.BytesIO(r.content))
    texts = [p.text for p in d.paragraphs]
    assert "Phụ lục" in texts and "KẾT QUẢ CHẤM ĐIỂM THI ĐUA" in texts
    officers = next([[c.text for c in row.cells] for row in t.rows] for t in d.tables
                    if t.cell(0, 1).text == "Cán bộ, công chức")
    assert officers[1] == ["1", "Phạm Quốc Hưng", "2", "100,0", "40", "30", "15", "15", "100", "Xuất sắc"]
    assert any(t.startswith("- Không còn nhũng nhiễu chưa xử lý: Còn 1 vụ việc") for t in texts)


def test_the_page_in_english(town, admin):
    admin.get(town.url + "/lang/en?next=/admin/scores", timeout=20)
    try:
        page = admin.get(town.url + "/admin/scores?period=2026", timeout=20).text
        assert "Emulation scores — Year 2026" in page
        assert "Satisfaction rate 100.0% (2/2 valid ratings), band ≥ 95%: 40 points" in page
        assert "Excellent" in page and "Weak" in page
    finally:
        admin.get(town.url + "/lang/vi?next=/admin/scores", timeout=20)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_the_page_on_a_desktop_and_a_phone(town):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, size in (("desktop", (1366, 900)), ("phone", (360, 740))):
                page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                sign_in(page, town, "an", "mật-khẩu-quản-trị")
                page.goto(town.url + "/admin/scores?period=2026")
                page.locator("[data-key=cb-001] details.why summary").click()
                assert page.locator("[data-key=cb-001] details.why li").first.is_visible()
                # nothing wider than the phone but the tables, which scroll inside their cards
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, f"{name}: the page is {overflow}px wider than the screen"
                shot(page, f"scores-{name}")
                page.close()
        finally:
            browser.close()


def _cli(town, *args):
    return subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(town.db), "scores", *args],
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "LANG": "C.UTF-8", "LANGUAGE": ""})


def test_the_command_line_writes_the_excel_and_refuses_what_means_nothing(town, admin, tmp_path):
    _save(admin, town, min_ratings="2")
    out = tmp_path / "scores.xlsx"
    r = _cli(town, "--period", "2026", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "cb-004" in r.stdout and "Xuất sắc" in r.stdout and "chưa đủ số liệu" in r.stdout
    rows = list(openpyxl.load_workbook(out)["Cán bộ"].iter_rows(values_only=True))
    assert rows[1][1] == "cb-004" and rows[1][-3] == 100
    r = _cli(town, "--period", "2026-13")
    assert r.returncode == 1 and "Kỳ không hợp lệ: tháng phải từ 1 đến 12, không phải 13" in r.stderr
    r = _cli(town, "--period", "2026", "--unit", "khong-co")
    assert r.returncode == 2 and "Không có đơn vị mã khong-co." in r.stderr
    r = _cli(town, "--period", "2026", "--out", str(tmp_path / "scores.csv"))
    assert r.returncode == 1 and "phải kết thúc bằng .xlsx" in r.stderr


def test_the_defaults_come_back(town, admin):
    _save(admin, town, min_ratings="2")
    page = admin.get(town.url + "/admin/scores?period=2026", timeout=20).text
    r = admin.post(town.url + "/admin/scores/criteria", data={"csrf": csrf_of(page), "reset": "1", "period": "2026"},
                   allow_redirects=False, timeout=20)
    assert r.status_code == 303
    page = admin.get(town.url + "/admin/scores?period=2026", timeout=20).text
    assert "(mặc định của hailong)" in page and 'name="min_ratings" value="30"' in page
    assert "chưa đủ số liệu" in _row(page, "cb-004")
