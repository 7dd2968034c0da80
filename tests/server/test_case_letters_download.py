"""Letters from a case (issue 11): the apology for one of a case's dossiers as a Word file, recorded
(letters_issued, the case's log) without the applicant's name ever reaching a table, a log or the
database file; "mark as sent"; the letters page recording its letters too; hostile input answered
with a message, never a 500. Against a real server (tests/town.py) whose town.db the test reads."""
from __future__ import annotations

import hashlib
import io
import json
import re
import dbtools
import unicodedata
from html import unescape

import docx
import pytest
from sqlalchemy import insert, select
from town import Town, csrf_of, session_for

from sync.server.core import db

CASE_TITLE = "Cán bộ cb-001 (Nguyễn Thị Hồng Nhung): tỷ lệ hài lòng thấp tháng 10/2026"


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"), db=module_town_db)
    yield t
    t.stop()


def _engine(town):
    return dbtools.engine(town.db)


@pytest.fixture(scope="module")
def case(town):
    """A case of cb-001's two bad October ratings on the 'chứng thực' procedure (shared schema rows)."""
    engine = _engine(town)
    with engine.begin() as conn:
        rows = conn.execute(select(db.ratings.c.id, db.ratings.c.dossier_code, db.ratings.c.procedure_code)
                            .where(db.ratings.c.officer_id == "cb-001", db.ratings.c.level == 1,
                                   db.ratings.c.procedure_code == "2.000908")
                            .order_by(db.ratings.c.created_at)).all()
        assert len(rows) == 2
        case_id = conn.execute(insert(db.cases).values(
            kind="low_rate", officer_id="cb-001", unit_code="13321", month="2026-10", title=CASE_TITLE,
            status="open", owner="an", opened_at="2026-11-01T01:00:00.000+00:00", due_date="2026-11-14",
            open_key="low_rate|cb-001|2026-10|h5-test", params="{}")).inserted_primary_key[0]
        for r in rows:
            conn.execute(insert(db.case_links).values(case_id=case_id, rating_id=r.id,
                                                      linked_at="2026-11-01T01:00:00.000+00:00"))
    engine.dispose()
    return {"id": case_id, "dossiers": [r.dossier_code for r in rows]}


def _text(raw: bytes) -> str:
    d = docx.Document(io.BytesIO(raw))
    cells = [p.text for t in d.tables for row in t.rows for c in row.cells for p in c.paragraphs]
    return "\n".join([p.text for p in d.paragraphs] + cells)


def _form(s, town, case_id, dossier):
    page = s.get(town.url + f"/admin/cases/{case_id}/letter", params={"dossier": dossier}, timeout=30)
    assert page.status_code == 200, page.text[:300]
    return page, csrf_of(page.text)


def _rows(town, sql, *args):
    con = dbtools.connect(town.db)
    try:
        return [dict(r._mapping) for r in con.execute(sql, args)]
    finally:
        con.close()


def test_the_apology_of_a_dossier_names_it_leaves_the_name_blank_and_is_recorded(town, case):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    dossier = case["dossiers"][0]
    page, token = _form(s, town, case["id"], dossier)
    assert dossier in page.text and "Chứng thực bản sao từ bản chính" in page.text
    assert "Nguyễn Thị Hồng Nhung" in page.text
    r = s.post(town.url + f"/admin/cases/{case['id']}/letter", timeout=30,
               data={"csrf": token, "dossier": dossier, "name": "", "received": "", "new_date": "",
                     "reason": "thái độ phục vụ của cán bộ chưa đúng mực"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert f'filename="van-ban-xin-loi-vu-viec-{case["id"]}-{dossier.lower()}.docx"' in r.headers["content-disposition"]
    text = _text(r.content)
    assert "VĂN BẢN XIN LỖI" in text
    assert f"Mã hồ sơ: {dossier}." in text
    assert "thủ tục hành chính: Chứng thực bản sao từ bản chính." in text
    assert "Kính gửi: Ông/Bà …………………………………………" in text          # the desk writes the name by hand
    assert "Lý do: thái độ phục vụ của cán bộ chưa đúng mực." in text
    assert "(Nguyễn Thị Hồng Nhung)" in text and "hẹn trả kết quả" not in text   # no new date: no new appointment
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Số:      /PXL-UBND" in text and "{" not in text

    issued = _rows(town, "SELECT * FROM letters_issued WHERE case_id = ?", case["id"])
    assert len(issued) == 1
    row = issued[0]
    assert row["kind"] == "xin_loi" and row["officer_id"] == "cb-001" and row["unit_code"] == "13321"
    assert row["dossier_code"] == dossier and row["procedure_code"] == "2.000908"
    assert row["issued_by"] == "an" and row["sent_at"] is None and row["issued_at"].endswith("+00:00")
    assert row["sha256"] == hashlib.sha256(r.content).hexdigest()
    events = _rows(town, "SELECT * FROM case_events WHERE case_id = ? AND kind = 'letter'", case["id"])
    assert [e["text"] for e in events] == [f"Văn bản xin lỗi hồ sơ {dossier}"]
    assert events[0]["by"] == "an" and json.loads(events[0]["params"])["letter_id"] == row["id"]


def test_a_typed_name_goes_into_the_letter_only(town, case):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    dossier = case["dossiers"][1]
    typed = unicodedata.normalize("NFD", "Hoàng Thị Quỳnh Hương")          # as some keyboards send it
    page, token = _form(s, town, case["id"], dossier)
    # the form offers the kind's reason (a low rate); emptied, the letter leaves a line for it
    assert ">thái độ phục vụ, hướng dẫn của cán bộ tiếp nhận chưa đúng mực</textarea>" in page.text
    r = s.post(town.url + f"/admin/cases/{case['id']}/letter", timeout=30,
               data={"csrf": token, "dossier": dossier, "name": typed, "received": "3/10/2026",
                     "new_date": "05/12/2026", "reason": ""})
    assert r.status_code == 200, r.text[:300]
    text = _text(r.content)
    assert "Kính gửi: Ông/Bà Hoàng Thị Quỳnh Hương" in text                 # NFC in the document
    assert "Ngày 03/10/2026, Ủy ban nhân dân xã Đồng Tâm tiếp nhận hồ sơ" in text
    assert "hẹn trả kết quả giải quyết hồ sơ cho Ông/Bà vào ngày 05/12/2026." in text
    assert "Lý do: ……………………………………………………………." in text

    # every table of town.db, every cell: no trace of the name (in either normalisation form)
    con = dbtools.connect(town.db)
    try:
        tables = dbtools.table_names(town.db)
        assert {"letters_issued", "case_events", "ratings", "alerts"} <= set(tables)
        dump = "\n".join(repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"'))
    finally:
        con.close()
    assert dossier in dump and "Hương" not in dump and "Quỳnh" not in dump
    assert "Hương" not in unicodedata.normalize("NFC", dump)
    # nor in the database's files (free pages, the WAL) or the server's log
    files = [town.db, *town.db.parent.glob("town.db-*")] if not dbtools.is_postgresql(town.db) else []
    for path in [*files, town.tmp / "server.log"]:
        if path.exists():
            raw = path.read_bytes()
            for form in ("NFC", "NFD"):
                assert unicodedata.normalize(form, "Quỳnh Hương").encode() not in raw, path
    assert len(_rows(town, "SELECT * FROM letters_issued WHERE case_id = ?", case["id"])) == 2


def test_mark_as_sent_sets_the_time_and_logs_it(town, case):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page, token = _form(s, town, case["id"], case["dossiers"][0])
    (row,) = _rows(town, "SELECT * FROM letters_issued WHERE case_id = ? AND dossier_code = ? ORDER BY id LIMIT 1",
                   case["id"], case["dossiers"][0])
    listed = re.search(rf'<tr data-letter="{row["id"]}">(.*?)</tr>', page.text, re.S)[1]
    assert "Chưa gửi" in listed and "Đánh dấu đã gửi" in listed
    r = s.post(town.url + f"/admin/cases/{case['id']}/letters/{row['id']}/sent", data={"csrf": token},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert r.headers["location"] == f"/admin/cases/{case['id']}?letter_sent={row['id']}#letters"
    (after,) = _rows(town, "SELECT * FROM letters_issued WHERE id = ?", row["id"])
    assert after["sent_at"] and after["sent_at"] >= after["issued_at"]
    events = _rows(town, "SELECT text, by FROM case_events WHERE case_id = ? AND kind = 'letter' ORDER BY id",
                   case["id"])
    assert events[-1] == {"text": f"Đã gửi văn bản xin lỗi hồ sơ {case['dossiers'][0]}", "by": "an"}
    page, token = _form(s, town, case["id"], case["dossiers"][0])
    listed = re.search(rf'<tr data-letter="{row["id"]}">(.*?)</tr>', page.text, re.S)[1]
    assert "Đã gửi" in listed and "Đánh dấu đã gửi" not in listed
    # twice: the first time stays, no second event
    s.post(town.url + f"/admin/cases/{case['id']}/letters/{row['id']}/sent", data={"csrf": token}, timeout=30)
    assert _rows(town, "SELECT sent_at FROM letters_issued WHERE id = ?", row["id"])[0]["sent_at"] == after["sent_at"]
    assert len(_rows(town, "SELECT id FROM case_events WHERE case_id = ? AND kind = 'letter'", case["id"])) == len(events)


def _message(r) -> str:
    return unescape(re.search(r'role="alert"[^>]*>(.*?)</p>', r.text, re.S)[1])


def test_hostile_input_gets_a_message_never_a_500(town, case):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    dossier = case["dossiers"][0]
    _page, token = _form(s, town, case["id"], dossier)
    before = len(_rows(town, "SELECT id FROM letters_issued"))
    for path, want in [("/admin/cases/999999/letter?dossier=H001", "Không có vụ việc số 999999."),
                       ("/admin/cases/abc/letter?dossier=H001", "Không có vụ việc số abc."),
                       ("/admin/cases/1e5/letter", "Không có vụ việc số 1e5."),
                       (f"/admin/cases/{case['id']}/letter?dossier=H999",
                        f"Hồ sơ H999 không thuộc vụ việc số {case['id']}."),
                       (f"/admin/cases/{case['id']}/letter", f"Hồ sơ … không thuộc vụ việc số {case['id']}.")]:
        r = s.get(town.url + path, timeout=30)
        assert r.status_code == 404 and _message(r) == want, path

    url = town.url + f"/admin/cases/{case['id']}/letter"
    good = {"csrf": token, "dossier": dossier, "name": "", "received": "", "new_date": "", "reason": ""}
    cases = [
        ({"name": "A" * 10_000}, 422, "Họ tên công dân: quá dài (10000 ký tự); tối đa 120 ký tự."),
        ({"name": "Lê\x07Văn\x00An"}, 422, "Họ tên công dân: có ký tự điều khiển không in được; hãy gõ lại."),
        ({"reason": "x\u2028y"}, 422, "Lý do: có ký tự điều khiển không in được; hãy gõ lại."),
        ({"new_date": "31/02/2026"}, 422, "Ngày hẹn trả kết quả mới (dd/mm/yyyy): 31/02/2026 không phải một ngày "
                                          "có thật; ghi ngày/tháng/năm, ví dụ 05/12/2026."),
        ({"received": "x" * 11}, 422, "Ngày tiếp nhận hồ sơ (dd/mm/yyyy): quá dài (11 ký tự); tối đa 10 ký tự."),
        ({"dossier": "H999"}, 404, f"Hồ sơ H999 không thuộc vụ việc số {case['id']}."),
        ({"csrf": ""}, 403, "Bạn không có quyền làm việc này (cần quyền quản trị, hoặc trang đã hết hạn: "
                            "hãy tải lại trang)."),
    ]
    for change, status, said in cases:
        r = s.post(url, data={**good, **change}, timeout=30)
        assert r.status_code == status and "text/html" in r.headers["content-type"], change
        assert _message(r) == said, change
    r = s.post(url, data={k: v for k, v in good.items() if k != "csrf"}, timeout=30)
    assert r.status_code == 403
    r = s.post(town.url + "/admin/cases/999999/letter", data=good, timeout=30)
    assert r.status_code == 404
    for lid in ("999999", "x", "-1"):
        r = s.post(town.url + f"/admin/cases/{case['id']}/letters/{lid}/sent", data={"csrf": token}, timeout=30)
        assert r.status_code == 404 and "Không có văn bản số" in _message(r)
        r = s.post(town.url + f"/admin/letters/{lid}/sent", data={"csrf": token}, timeout=30)
        assert r.status_code == 404 and _message(r) == f"Không có văn bản số {lid}."
    r = s.post(town.url + "/admin/letters/1/sent", data={}, timeout=30)
    assert r.status_code == 403
    assert len(_rows(town, "SELECT id FROM letters_issued")) == before       # nothing refused was recorded
    # signed out: to the sign-in page, nothing made
    r = requests_get_signed_out(town.url + f"/admin/cases/{case['id']}/letter?dossier={dossier}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?")


def test_the_letters_page_refuses_a_name_too_long_or_with_control_characters(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + "/admin/letters", timeout=30)
    before = len(_rows(town, "SELECT id FROM letters_issued"))
    form = {"csrf": csrf_of(page.text), "kind": "cam_on", "name": "", "dossier": "H-1", "procedure": "",
            "officer": "", "new_date": ""}
    for change, said in [({"name": "B" * 10_000}, "Họ tên công dân: quá dài (10000 ký tự); tối đa 200 ký tự."),
                         ({"dossier": "H\x1b[2J"}, "Mã hồ sơ: có ký tự điều khiển không in được; hãy gõ lại.")]:
        r = s.post(town.url + "/admin/letters", data={**form, **change}, timeout=30)
        assert r.status_code == 422 and _message(r) == said, change
    assert 'value="H[2J"' in r.text                                # shown again without the escape
    assert len(_rows(town, "SELECT id FROM letters_issued")) == before


def test_a_kiosks_case_has_no_letters_section(town):
    engine = _engine(town)
    with engine.begin() as conn:
        case_id = conn.execute(insert(db.cases).values(
            kind="silent", kiosk_id="ki-ot-1", unit_code="13321", title="Ki-ốt ki-ot-1 im lặng", status="open",
            opened_at="2026-11-01T01:00:00.000+00:00", due_date="2026-11-04", open_key="silent|ki-ot-1|h5",
            params="{}")).inserted_primary_key[0]
    engine.dispose()
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    r = s.get(town.url + f"/admin/cases/{case_id}", timeout=30)
    assert r.status_code == 200 and 'id="letters"' not in r.text
    r = s.get(town.url + f"/admin/cases/{case_id}/letter?dossier=H001", timeout=30)
    assert r.status_code == 404 and _message(r) == f"Hồ sơ H001 không thuộc vụ việc số {case_id}."


def requests_get_signed_out(url):
    import requests
    return requests.get(url, allow_redirects=False, timeout=30)


def test_the_letters_page_records_its_letters_and_marks_them_sent(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + "/admin/letters", timeout=30)
    form = {"csrf": csrf_of(page.text), "kind": "cam_on", "name": "Đỗ Minh Khôi", "dossier": "H-2026-901",
            "procedure": "Đăng ký khai sinh", "officer": "Phạm Quốc Hưng", "new_date": ""}
    r = s.post(town.url + "/admin/letters", data=form, timeout=30)
    assert r.status_code == 200 and "Đỗ Minh Khôi" in _text(r.content)
    (row,) = _rows(town, "SELECT * FROM letters_issued WHERE dossier_code = 'H-2026-901'")
    assert row["kind"] == "cam_on" and row["case_id"] is None and row["officer_id"] == "cb-004"
    assert row["unit_code"] == "13321" and row["procedure_code"] == "1.001193" and row["issued_by"] == "an"
    assert row["sha256"] == hashlib.sha256(r.content).hexdigest()
    page = s.get(town.url + "/admin/letters", timeout=30)
    listed = re.search(rf'<tr data-letter="{row["id"]}">(.*?)</tr>', page.text, re.S)[1]
    assert "Thư cảm ơn" in listed and "H-2026-901" in listed and "Phạm Quốc Hưng" in listed and "Chưa gửi" in listed
    assert "Đỗ Minh Khôi" not in page.text
    r = s.post(town.url + f"/admin/letters/{row['id']}/sent", data={"csrf": csrf_of(page.text)},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/letters?sent={row['id']}#issued"
    assert _rows(town, "SELECT sent_at FROM letters_issued WHERE id = ?", row["id"])[0]["sent_at"]
    page = s.get(town.url + r.headers["location"], timeout=30)
    assert "Đã ghi nhận văn bản đã gửi." in page.text
    assert "Đã gửi" in re.search(rf'<tr data-letter="{row["id"]}">(.*?)</tr>', page.text, re.S)[1]
    con = dbtools.connect(town.db)
    try:
        dump = "\n".join(repr(r) for t in dbtools.table_names(town.db)
                         for r in con.execute(f'SELECT * FROM "{t}"'))
    finally:
        con.close()
    assert "Khôi" not in dump
