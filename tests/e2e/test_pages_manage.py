"""The admin's management actions in a real browser on a real server (the Town of tests/town.py).

An admin enrols a kiosk on the kiosks page and the token shown works for the
kiosk's heartbeat; revoking it (after the confirmation) makes the token
useless. A roster CSV uploaded on the roster page adds its officer; a bad
file names the problem and imports nothing. A viewer sees none of the
buttons. Screenshots go to test-artifacts/admin/.
"""
from __future__ import annotations

import io
import sqlite3
from datetime import datetime, timezone

import pytest
import requests
from town import Town, csrf_of, session_for, shot, sign_in

from sync import protocol


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    yield t
    t.stop()


def heartbeat(town, kiosk_id, token):
    beat = {"last_seq": 0, "pending": 0, "kiosk_time": datetime.now(timezone.utc).isoformat(), "version": "test"}
    return requests.post(town.url + protocol.PATH_HEARTBEAT.format(kiosk_id=kiosk_id), json=beat, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def test_admin_enrols_a_kiosk_whose_token_works_then_revokes_it(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + "/admin/kiosks")
    enrol = page.locator("#enrol")
    enrol.get_by_label("Mã ki-ốt").fill("DT-MC-02")
    enrol.get_by_label("Đơn vị").select_option("13321")
    shot(page, "20-kiosk-enrol-form")
    enrol.get_by_role("button", name="Đăng ký").click()
    page.wait_for_url("**/admin/kiosks/enrol")
    assert page.locator("h1").inner_text() == "Đã đăng ký ki-ốt DT-MC-02"
    assert "chỉ hiện MỘT LẦN" in page.get_by_role("alert").inner_text()
    token, key = page.get_by_test_id("token").inner_text(), page.get_by_test_id("key").inner_text()
    toml = page.get_by_test_id("toml").inner_text()
    assert f'token = "{token}"' in toml and f'key = "{key}"' in toml and 'id = "DT-MC-02"' in toml
    assert f'url = "{town.url}"' in toml
    shot(page, "21-kiosk-enrolled-token-once")
    import tomllib
    assert tomllib.loads(toml)["server"]["token"] == token          # really pastes as TOML

    r = heartbeat(town, "DT-MC-02", token)
    assert r.status_code == 200, r.text
    with sqlite3.connect(town.db) as con:
        assert con.execute("SELECT key_hex, unit_code, revoked FROM kiosks WHERE id = 'DT-MC-02'").fetchone() == (
            key, "13321", 0)

    # a duplicate id and a bad id: a clear message, nothing stored
    page.goto(town.url + "/admin/kiosks")
    for bad, message in [("DT-MC-02", "Ki-ốt DT-MC-02 đã được đăng ký"), ("ki ốt số 3", "Mã ki-ốt chỉ gồm")]:
        page.locator("#enrol").get_by_label("Mã ki-ốt").fill(bad)
        page.locator("#enrol").get_by_role("button", name="Đăng ký").click()
        page.wait_for_url("**/admin/kiosks/enrol")
        assert message in page.get_by_role("alert").inner_text()
        page.go_back()
    with sqlite3.connect(town.db) as con:
        assert con.execute("SELECT count(*) FROM kiosks").fetchone()[0] == 3   # ki-ot-1, ki-ot-cu, DT-MC-02

    # revoke: the row's button asks first, the confirmation revokes
    page.goto(town.url + "/admin/kiosks")
    assert page.locator("tr[data-kiosk='ki-ot-cu']").get_by_role("link", name="Thu hồi").count() == 0
    page.locator("tr[data-kiosk='DT-MC-02']").get_by_role("link", name="Thu hồi").click()
    page.wait_for_url("**/admin/kiosks?revoke=DT-MC-02*")
    assert "Thu hồi ki-ốt DT-MC-02?" in page.locator("#confirm-revoke").inner_text()
    shot(page, "22-kiosk-revoke-confirm")
    assert heartbeat(town, "DT-MC-02", token).status_code == 200       # asking did not revoke
    page.get_by_role("button", name="Xác nhận thu hồi").click()
    page.wait_for_url("**/admin/kiosks?revoked=DT-MC-02")
    assert "Đã thu hồi ki-ốt DT-MC-02" in page.get_by_role("status").inner_text()
    assert "Đã thu hồi" in page.locator("tr[data-kiosk='DT-MC-02']").inner_text()
    shot(page, "23-kiosk-revoked")
    assert heartbeat(town, "DT-MC-02", token).status_code in (401, 403)
    assert heartbeat(town, "ki-ot-1", town.kiosk_token).status_code == 200   # the others still work
    ctx.close()


def test_enrol_refuses_an_unknown_unit(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    token = csrf_of(s.get(town.url + "/admin/kiosks", timeout=30).text)
    r = s.post(town.url + "/admin/kiosks/enrol", data={"csrf": token, "kiosk_id": "ki-ot-9", "unit_code": "99999"},
               timeout=30)
    assert r.status_code == 422 and "Không có đơn vị mã 99999" in r.text
    r = s.post(town.url + "/admin/kiosks/khong-co/revoke", data={"csrf": token}, timeout=30)
    assert r.status_code == 404 and "Không có ki-ốt khong-co" in r.text
    with sqlite3.connect(town.db) as con:
        assert con.execute("SELECT count(*) FROM kiosks WHERE id = 'ki-ot-9'").fetchone()[0] == 0


GOOD_CSV = ("id,name,title,desk_id,desk_name,unit_code,unit_name,pin\n"
            "cb-101,Hoàng Thị Thu Trang,Công chức Tư pháp - Hộ tịch,quay-9,Quầy số 9,13322,UBND xã Mỹ Châu,123456\n"
            "cb-102,Vũ Đức Thắng,Công chức Địa chính,quay-9,Quầy số 9,13322,UBND xã Mỹ Châu,\n")
BAD_CSV = ("id,name,title,desk_id\n"
           "cb-201,Lê Thị Hạnh,Văn thư,quay-1\n"
           "cb-202,Ngô Văn Tài,Kế toán,quay-77\n")


def test_admin_imports_a_roster_csv_and_a_bad_file_changes_nothing(town, browser, tmp_path):
    good, bad, wrong = tmp_path / "can-bo-moi.csv", tmp_path / "sai-quay.csv", tmp_path / "ghi-chu.txt"
    good.write_text(GOOD_CSV, encoding="utf-8")
    bad.write_text(BAD_CSV, encoding="utf-8")
    wrong.write_text("không phải danh mục", encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + "/admin/roster")
    before = page.locator("#officers tbody tr").count()
    form = page.locator("#import")
    form.get_by_label("Tệp danh mục").set_input_files(str(good))
    form.get_by_role("button", name="Nhập tệp").click()
    page.wait_for_url("**/admin/roster?imported=1*")
    assert page.get_by_test_id("imported").inner_text() == (
        "Đã nhập danh mục: 1 đơn vị, 1 quầy, 2 cán bộ, 0 thủ tục.")
    officers = page.locator("#officers tbody")
    assert officers.locator("tr").count() == before + 2
    assert "Hoàng Thị Thu Trang" in officers.inner_text() and "quay-9" in officers.inner_text()
    assert "Quầy số 9" in page.locator("#desks").inner_text()
    shot(page, "24-roster-imported")
    with sqlite3.connect(town.db) as con:
        pin_hash = con.execute("SELECT pin_hash FROM officers WHERE id = 'cb-101'").fetchone()[0]
    assert pin_hash and "123456" not in pin_hash and protocol.check_pin("123456", pin_hash)

    for path, message in [(bad, "sai-quay.csv, danh sách cán bộ, dòng 3 (cán bộ cb-202): cột mã quầy (desk_id): "
                                "quầy quay-77 không có trong danh mục."),
                          (wrong, "Tệp ghi-chu.txt: chỉ nhận tệp .csv, .xlsx hoặc .json.")]:
        page.goto(town.url + "/admin/roster")
        page.locator("#import").get_by_label("Tệp danh mục").set_input_files(str(path))
        page.locator("#import").get_by_role("button", name="Nhập tệp").click()
        page.wait_for_url("**/admin/import-roster")
        assert message in page.get_by_role("alert").inner_text()
        if path is bad:
            assert "Không nhập được tệp danh mục, chưa có gì thay đổi" in page.get_by_role("alert").inner_text()
        shot(page, f"25-roster-import-refused-{path.suffix[1:]}")
    with sqlite3.connect(town.db) as con:                    # cb-201 was fine, but the file was not
        assert con.execute("SELECT count(*) FROM officers WHERE id IN ('cb-201', 'cb-202')").fetchone()[0] == 0
    page.goto(town.url + "/admin/roster")
    assert page.locator("#officers tbody tr").count() == before + 2
    ctx.close()


def test_roster_upload_refuses_photos_and_oversized_files(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    token = csrf_of(s.get(town.url + "/admin/roster", timeout=30).text)
    with_photo = "id,name,photo\ncb-301,Đinh Văn Ảnh,/etc/passwd\n"
    r = s.post(town.url + "/admin/import-roster", data={"csrf": token}, timeout=30,
               files={"file": ("anh.csv", with_photo.encode(), "text/csv")})
    assert r.status_code == 422 and "cột ảnh (photo)" in r.text and "anh.csv" in r.text
    huge = b"id,name\n" + b"cb-x,A\n" * (6 * 1024 * 1024 // 7)
    r = s.post(town.url + "/admin/import-roster", data={"csrf": token}, timeout=60,
               files={"file": ("lon.csv", huge, "text/csv")})
    assert r.status_code == 413 and "tối đa 5 MB" in r.text
    with sqlite3.connect(town.db) as con:
        assert con.execute("SELECT count(*) FROM officers WHERE id IN ('cb-301', 'cb-x')").fetchone()[0] == 0


def test_viewer_sees_no_management_buttons(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in(page, town, "binh", "mật-khẩu-xem")
    page.goto(town.url + "/admin/kiosks?revoke=ki-ot-1")
    assert page.locator("#enrol").count() == 0 and page.locator("#confirm-revoke").count() == 0
    assert page.get_by_role("link", name="Thu hồi").count() == 0
    page.goto(town.url + "/admin/kiosks?revoked=ki-ot-1")        # a made-up link claims nothing
    assert page.get_by_role("status").count() == 0
    page.goto(town.url + "/admin/roster?photo=cb-999")
    assert page.locator("#import").count() == 0 and page.get_by_role("status").count() == 0
    assert page.get_by_role("button", name="Tải ảnh").count() == 0
    shot(page, "26-roster-viewer-no-import")
    ctx.close()


def test_admin_uploads_an_officer_photo_that_the_kiosk_then_fetches(town, browser, tmp_path):
    from PIL import Image
    photo, fake = tmp_path / "nhung.png", tmp_path / "khong-phai-anh.png"
    Image.new("RGB", (300, 400), (200, 120, 60)).save(photo)
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 10)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + "/admin/roster")
    with sqlite3.connect(town.db) as con:          # the demo roster's photo, replaced below
        demo_digest = con.execute("SELECT photo_sha256 FROM officers WHERE id = 'cb-003'").fetchone()[0]
    row = page.locator("tr[data-officer='cb-003']")
    assert "Có ảnh" in row.inner_text()
    row.get_by_label("Ảnh của Lê Thị Ánh Tuyết").set_input_files(str(fake))
    row.get_by_role("button", name="Tải ảnh").click()
    page.wait_for_url("**/admin/officers/cb-003/photo")
    assert "Tệp khong-phai-anh.png không phải ảnh PNG hoặc JPEG đọc được." in page.get_by_role("alert").inner_text()
    shot(page, "27-photo-refused")
    page.get_by_role("link", name="Quay lại").click()
    row = page.locator("tr[data-officer='cb-003']")
    row.get_by_label("Ảnh của Lê Thị Ánh Tuyết").set_input_files(str(photo))
    row.get_by_role("button", name="Tải ảnh").click()
    page.wait_for_url("**/admin/roster?photo=cb-003*")
    assert "Đã lưu ảnh của cán bộ cb-003" in page.get_by_role("status").inner_text()
    assert "Có ảnh" in page.locator("tr[data-officer='cb-003']").inner_text()
    shot(page, "28-photo-saved")
    ctx.close()
    import hashlib
    with sqlite3.connect(town.db) as con:
        name, digest = con.execute("SELECT photo, photo_sha256 FROM officers WHERE id = 'cb-003'").fetchone()
    assert name == "cb-003.png" and digest == hashlib.sha256(photo.read_bytes()).hexdigest() != demo_digest
    r = requests.get(town.url + "/api/v1/photos/cb-003", headers={"Authorization": f"Bearer {town.kiosk_token}"},
                     timeout=30)
    assert r.status_code == 200 and r.content == photo.read_bytes()

    # a roster file that changes cb-003's title (and names no photo) keeps the photo
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    token = csrf_of(s.get(town.url + "/admin/roster", timeout=30).text)
    csv_text = "id,name,title,desk_id\ncb-003,Lê Thị Ánh Tuyết,Phó Văn phòng,quay-1\n"
    r = s.post(town.url + "/admin/import-roster", data={"csrf": token}, allow_redirects=False, timeout=30,
               files={"file": ("doi-chuc-danh.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 303
    with sqlite3.connect(town.db) as con:
        assert con.execute("SELECT title, photo, photo_sha256 FROM officers WHERE id = 'cb-003'").fetchone() == (
            "Phó Văn phòng", "cb-003.png", digest)


def test_photo_upload_refuses_big_files_unknown_officers_and_viewers(town, tmp_path):
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 20, 30)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    token = csrf_of(s.get(town.url + "/admin/roster", timeout=30).text)
    r = s.post(town.url + "/admin/officers/cb-999/photo", data={"csrf": token}, timeout=30,
               files={"file": ("a.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 404 and "Không có cán bộ mã cb-999" in r.text
    r = s.post(town.url + "/admin/officers/cb-004/photo", data={"csrf": token}, timeout=30,
               files={"file": ("to.jpg", jpeg + b"\0" * (2 * 1024 * 1024), "image/jpeg")})
    assert r.status_code == 413 and "tối đa 2 MB" in r.text
    r = s.post(town.url + "/admin/officers/cb-004/photo", data={"csrf": "sai"}, timeout=30,
               files={"file": ("a.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 403
    viewer = session_for(town, "binh", "mật-khẩu-xem")
    vtoken = csrf_of(viewer.get(town.url + "/admin/roster", timeout=30).text)
    assert 'action="/admin/officers/' not in viewer.get(town.url + "/admin/roster", timeout=30).text
    r = viewer.post(town.url + "/admin/officers/cb-004/photo", data={"csrf": vtoken}, timeout=30,
                    files={"file": ("a.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 403
    r = s.post(town.url + "/admin/officers/cb-004/photo", data={"csrf": token}, timeout=30, allow_redirects=False,
               files={"file": ("a.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 303
    with sqlite3.connect(town.db) as con:
        assert con.execute("SELECT photo FROM officers WHERE id = 'cb-004'").fetchone()[0] == "cb-004.jpg"
