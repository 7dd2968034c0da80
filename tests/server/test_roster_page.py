"""The roster page (issue 10): letters, desks and units chosen from lists and checked by the server,
an officer's PIN set and reset, an officer who left deactivated (gone from the kiosks, kept in the
reports) and reactivated, the roster file's messages in the reader's language, forms that keep what
was typed. Against a real server (tests/town.py), with the session's CSRF token as the pages send it.
"""
from __future__ import annotations

import io
import json
import re
import dbtools
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from html import unescape

import openpyxl
import pytest
import requests
from helpers import ROOT
from town import Town, csrf_of, session_for

from sync import protocol

ADMIN = ("an", "mật-khẩu-quản-trị")


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"), db=module_town_db)
    yield t
    t.stop()


@pytest.fixture()
def admin(town):
    return session_for(town, *ADMIN)


def english(town):
    s = session_for(town, *ADMIN)
    s.get(town.url + "/lang/en", timeout=30)
    return s


def page(s, town):
    r = s.get(town.url + "/admin/roster", timeout=30)
    assert r.status_code == 200
    return r.text


def config(town, etag=None):
    headers = {"Authorization": f"Bearer {town.kiosk_token}"}
    if etag:
        headers["If-None-Match"] = etag
    return requests.get(town.url + protocol.PATH_CONFIG.format(kiosk_id="ki-ot-1"), headers=headers, timeout=30)


def officer_ids(town):
    return {o["id"] for o in config(town).json()["roster"]["officers"]}


def select_options(html, name):
    m = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert m, name
    return [(v, unescape(t).strip()) for v, t in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', m[1])]


def message(html):
    m = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', html, re.S)
    assert m, html[:500]
    return unescape(m[1])


# --- the lists ------------------------------------------------------------------------------------

def test_letter_desk_and_unit_are_chosen_from_lists(town, admin):
    html = page(admin, town)
    assert select_options(html, "letter") == [("", "— không kèm thư —"), ("cam_on", "Thư cảm ơn"),
                                              ("xin_loi", "Thư xin lỗi và hẹn lại"), ("chuc_mung", "Thư chúc mừng"),
                                              ("chia_buon", "Thư chia buồn")]
    desks = dict(select_options(html, "desk_id"))
    assert desks["quay-1"].startswith("Quầy số 1") and desks["quay-1"].endswith("(quay-1)")
    assert "13321" in dict(select_options(html, "unit_code"))
    # the procedures' table names the letter, not its code
    table = html.split('id="procedures"')[1].split("</table>")[0]
    assert "Thư chúc mừng" in table and ">chuc_mung<" not in table
    en = page(english(town), town)
    assert ("chia_buon", "Condolence") in select_options(en, "letter")


def test_a_letter_or_desk_not_in_the_lists_is_refused_and_the_form_kept(town, admin):
    html = page(admin, town)
    r = admin.post(town.url + "/admin/roster/procedures", timeout=30, data={
        "csrf": csrf_of(html), "code": "9.999", "name": "Thủ tục thử — Cấp bản sao", "letter": "chuc_mung_x"})
    assert r.status_code == 422
    assert message(r.text) == "Thư kèm theo: không có loại thư chuc_mung_x."
    form = r.text.split('action="/admin/roster/procedures"')[1].split("</form>")[0]
    assert 'value="9.999"' in form and 'value="Thủ tục thử — Cấp bản sao"' in form
    assert re.search(r'<select name="letter"[^>]*aria-invalid="true"', form)
    r = admin.post(town.url + "/admin/roster/officers", timeout=30, data={
        "csrf": csrf_of(html), "id": "cb-050", "name": "Lê Thị Mới", "title": "Công chức", "desk_id": "quay-9"})
    assert r.status_code == 422 and message(r.text) == "Mã quầy: không có quầy mã quay-9."
    form = r.text.split('action="/admin/roster/officers"')[1].split("</form>")[0]
    assert 'value="cb-050"' in form and 'value="Lê Thị Mới"' in form and 'value="Công chức"' in form
    assert '<option value="quay-9" selected>' in form
    ok = admin.post(town.url + "/admin/roster/procedures", timeout=30, allow_redirects=False, data={
        "csrf": csrf_of(html), "code": "9.999", "name": "Thủ tục thử", "letter": "chia_buon"})
    assert ok.status_code == 303
    assert {"code": "9.999", "name": "Thủ tục thử", "letter": "chia_buon"} in config(town).json()["roster"]["procedures"]
    en = english(town)
    r = en.post(town.url + "/admin/roster/desks", timeout=30, data={
        "csrf": csrf_of(page(en, town)), "id": "quay-7", "unit_code": "99999", "name": "Quầy 7"})
    assert r.status_code == 422 and message(r.text) == "Unit code: there is no unit 99999."


# --- PINs -------------------------------------------------------------------------------------------

def test_a_pin_is_set_and_reset_and_the_kiosk_gets_its_hash(town, admin):
    html = page(admin, town)
    before = config(town)
    bad = admin.post(town.url + "/admin/officers/cb-004/pin", data={"csrf": csrf_of(html), "pin": "12a4"}, timeout=30)
    assert bad.status_code == 422 and message(bad.text) == "Mã PIN phải gồm đúng 6 chữ số."
    row = bad.text.split('data-officer="cb-004"')[1].split("</tr>")[0]
    assert 'value="12a4"' in row and 'aria-invalid="true"' in row
    en = english(town)
    short = en.post(town.url + "/admin/officers/cb-004/pin", timeout=30,
                    data={"csrf": csrf_of(page(en, town)), "pin": "1234"})
    assert short.status_code == 422 and message(short.text) == "The PIN must be exactly 6 digits."
    for pin in ("246810", "135790"):           # set, then reset
        r = admin.post(town.url + "/admin/officers/cb-004/pin", data={"csrf": csrf_of(html), "pin": pin},
                       allow_redirects=False, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/admin/roster?pin=cb-004#officers"
        after = config(town)
        assert after.headers["ETag"] != before.headers["ETag"]
        officer = next(o for o in after.json()["roster"]["officers"] if o["id"] == "cb-004")
        assert protocol.check_pin(pin, officer["pin_hash"])
        before = after
    html = page(admin, town)
    assert "scrypt$" not in html and "Đã đặt lại PIN" not in html
    assert "Đặt lại PIN" in html.split('data-officer="cb-004"')[1].split("</tr>")[0]


def test_the_import_and_the_cli_have_the_same_pin_rule(town, admin, tmp_path):
    roster = tmp_path / "pins.csv"
    roster.write_text("id,name,desk_id,pin\ncb-004,Phạm Quốc Hưng,quay-2,1234\n", "utf-8")
    with roster.open("rb") as fh:
        r = admin.post(town.url + "/admin/import-roster", timeout=30, files={"file": ("pins.csv", fh)},
                       data={"csrf": csrf_of(page(admin, town))})
    assert r.status_code == 422
    assert "pins.csv, danh sách cán bộ, dòng 2 (cán bộ cb-004): cột mã PIN (pin): Mã PIN phải gồm đúng 6 chữ số." in r.text
    out = subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(town.db), "set-officer-pin",
                          "--officer-id", "cb-004"], input="1234\n", capture_output=True, text=True, cwd=ROOT,
                         timeout=120, env={"LANG": "en", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 1 and "The PIN must be exactly 6 digits." in out.stderr


# --- an officer who left -------------------------------------------------------------------------

def _send(town, officer):
    """One more rating from ki-ot-1 for ``officer``, chained after what the server holds."""
    with dbtools.connect(town.db) as c:
        seq, prev = c.execute("SELECT seq, hash FROM ratings WHERE kiosk_id='ki-ot-1' ORDER BY seq DESC").fetchone()
    rec = {"id": str(uuid.uuid4()), "kiosk_id": "ki-ot-1", "seq": seq + 1,
           "created_at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
           "unit_code": "13321", "desk_id": "quay-1", "officer_id": officer, "dossier_code": "H900",
           "procedure_code": None, "receipt_id": None, "level": 3, "reasons": [], "comment": None,
           "source": "walk_up", "flags": []}
    rec = protocol.seal(rec, prev, town.kiosk_key)
    r = requests.post(town.url + protocol.PATH_BATCH, timeout=30, json={
        "kiosk_id": "ki-ot-1", "sent_at": datetime.now(timezone.utc).isoformat(), "ratings": [rec]},
        headers={"Authorization": f"Bearer {town.kiosk_token}", "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 200, r.text
    with dbtools.connect(town.db) as c:
        return json.loads(c.execute("SELECT server_flags FROM ratings WHERE id=?", (rec["id"],)).fetchone()[0])


def _figures(html):
    """The officer page without its CSRF token and charts (their ids differ at every drawing)."""
    return re.sub(r'name="csrf" value="[^"]+"|<svg.*?</svg>|<p class="sub"><span class="tag bad" data-testid="officer-inactive">.*?</p>\n',
                  "", re.sub(r"\n\s*\n", "\n", html), flags=re.S)


def test_an_officer_who_left_is_gone_from_the_kiosk_and_kept_in_the_reports(town, admin):
    html = page(admin, town)
    before = config(town)
    assert "cb-002" in officer_ids(town)
    report = admin.get(town.url + "/admin/officers/cb-002?period=2026-Q4", timeout=30)
    assert report.status_code == 200
    r = admin.post(town.url + "/admin/officers/cb-002/active", data={"csrf": csrf_of(html), "active": "0"},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 303
    after = config(town, before.headers["ETag"])
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "cb-002" not in {o["id"] for o in after.json()["roster"]["officers"]}
    html = page(admin, town)
    row = html.split('data-officer="cb-002"')[1].split("</tr>")[0]
    assert "Đã nghỉ" in row and "Cho làm lại" in row
    assert "Inactive" in page(english(town), town).split('data-officer="cb-002"')[1].split("</tr>")[0]
    # the officer's page and the report still count their ratings; new ones are stored as theirs
    again = admin.get(town.url + "/admin/officers/cb-002?period=2026-Q4", timeout=30)
    assert again.status_code == 200 and "Trần Văn Đức" in again.text
    assert "Đã nghỉ" in again.text and "Đã nghỉ" not in report.text
    assert _figures(again.text) == _figures(report.text)
    xlsx = admin.get(town.url + "/admin/export?fmt=xlsx&period=2026-Q4", timeout=30)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert sum("Trần Văn Đức" in [str(c) for c in row] for row in sheet.iter_rows(values_only=True)) == 3
    assert "unknown_officer" not in _send(town, "cb-002")
    # not offered for a new letter
    assert "Trần Văn Đức" not in admin.get(town.url + "/admin/letters", timeout=30).text.split('id="officers"')[1]
    r = admin.post(town.url + "/admin/officers/cb-002/active", data={"csrf": csrf_of(html), "active": "1"},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 303
    back = config(town)
    assert back.headers["ETag"] != after.headers["ETag"] and "cb-002" in officer_ids(town)
    assert "Đang làm" in page(admin, town).split('data-officer="cb-002"')[1].split("</tr>")[0]


def test_the_cli_deactivates_and_reactivates_an_officer(town):
    def cli(*args, lang="vi"):
        return subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(town.db), *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=120,
                              env={"LANG": lang, "PATH": "/usr/bin:/bin"})
    out = cli("deactivate-officer", "--officer-id", "cb-001")
    assert out.returncode == 0 and out.stdout.strip() == "Cán bộ cb-001 đã nghỉ.", out.stderr
    assert "cb-001" not in officer_ids(town)
    assert cli("deactivate-officer", "--officer-id", "cb-001", lang="en").stdout.strip() == \
        "Officer cb-001 was already inactive."
    out = cli("activate-officer", "--officer-id", "cb-001", lang="en")
    assert out.returncode == 0 and out.stdout.strip() == "Officer cb-001 reactivated."
    assert "cb-001" in officer_ids(town)
    gone = cli("activate-officer", "--officer-id", "cb-999")
    assert gone.returncode == 2 and "Không có cán bộ 'cb-999'" in gone.stderr
    out = subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(town.db), "set-officer-pin",
                          "--officer-id", "cb-001"], input="975310\n", capture_output=True, text=True, cwd=ROOT,
                         timeout=120, env={"LANG": "vi", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and "Đã đặt mã PIN mới cho cán bộ cb-001." in out.stdout
    officer = next(o for o in config(town).json()["roster"]["officers"] if o["id"] == "cb-001")
    assert protocol.check_pin("975310", officer["pin_hash"])


# --- the roster file's messages -------------------------------------------------------------------

ENGLISH_WORDS = re.compile(r"\b(desk|officer|missing|roster|is not|not in|line|column|must|file)\b", re.I)


@pytest.mark.parametrize("body, vi, en", [
    ("id,name,desk_id\ncb-010,Võ Văn Mười,quay-1\ncb-011,Đỗ Thị Mai,quay-9\n",
     "bad.csv, danh sách cán bộ, dòng 3 (cán bộ cb-011): cột mã quầy (desk_id): quầy quay-9 không có trong danh mục.",
     "bad.csv, officer list, line 3 (officer cb-011): column desk code (desk_id): desk quay-9 is not in the roster."),
    ("id,name\ncb-010,\n",
     "bad.csv, danh sách cán bộ, dòng 2: thiếu cột tên (name).",
     "bad.csv, officer list, line 2: column name (name) missing."),
])
def test_roster_file_messages_in_the_readers_language(town, admin, body, vi, en):
    said = {}
    for lang, s in (("vi", admin), ("en", english(town))):
        r = s.post(town.url + "/admin/import-roster", timeout=30, files={"file": ("bad.csv", body.encode())},
                   data={"csrf": csrf_of(page(s, town))})
        assert r.status_code == 422
        said[lang] = unescape(re.search(r'<p class="message"[^>]*>(.*?)</p>|<main[^>]*>(.*?)</main>', r.text, re.S)
                              .group(0))
    assert vi in said["vi"] and en in said["en"], said
    vi_words = said["vi"].replace("desk_id", "").replace("bad.csv", "")
    assert not ENGLISH_WORDS.search(re.sub(r"<[^>]+>", " ", vi_words)), said["vi"]


# --- the kiosk enrolment form keeps what was typed -------------------------------------------------

@pytest.mark.parametrize("kiosk_id, said", [
    ("ki-ot-1", "Ki-ốt ki-ot-1 đã được đăng ký. Hãy đặt mã khác."),
    ("ki ốt số 3", "Mã ki-ốt chỉ gồm 1–64 chữ cái không dấu, chữ số, dấu chấm, gạch dưới hoặc gạch ngang."),
])
def test_a_refused_kiosk_enrolment_keeps_the_form(town, admin, kiosk_id, said):
    page = admin.get(town.url + "/admin/kiosks", timeout=30)
    r = admin.post(town.url + "/admin/kiosks/enrol", timeout=30,
                   data={"csrf": csrf_of(page.text), "kiosk_id": kiosk_id, "unit_code": "13321"})
    assert r.status_code == 422
    assert unescape(re.search(r'id="enrol-error">(.*?)</p>', r.text)[1]) == said
    form = r.text.split('action="/admin/kiosks/enrol"')[1].split("</form>")[0]
    assert f'value="{kiosk_id}"' in unescape(form) and '<option value="13321" selected>' in form


def test_a_refused_threshold_keeps_the_alert_rules_form(town, admin):
    page = admin.get(town.url + "/admin/alerts", timeout=30)
    r = admin.post(town.url + "/admin/alerts/rules", timeout=30, data={
        "csrf": csrf_of(page.text), "officer_rate_below": "62,5", "officer_min_ratings": "2.5",
        "kiosk_silent_hours": "36"})
    assert r.status_code == 422 and "Ngưỡng không hợp lệ: «khi có ít nhất" in unescape(r.text)
    form = r.text.split('action="/admin/alerts/rules"')[1].split("</form>")[0]
    assert 'value="62,5"' in form and 'value="2.5"' in form and 'value="36"' in form
