"""The phone page (issue 15): a receipt's URL form opened on the citizen's phone rates once, in the unit's
WEB- chain, through the kiosks' own storing path; every other receipt gets a page that says why. A real
server on 127.0.0.1, both engines."""
from __future__ import annotations

import gzip
import json
import re
import time
import uuid

import pytest
import requests
from faultproxy import ServerThread, sealed_ratings
from helpers import ROOT
from sqlalchemy import select
from town import csrf_of, session_for

from sync import protocol
from sync.server.core.admin_ops import (
    AdminError,
    create_user,
    enrol_kiosk,
    import_roster,
)
from sync.server.core.alerts import silent_causes
from sync.server.core.backup import check_chains
from sync.server.core.db import kiosks, ratings
from sync.server.core.settings import receipt_key

DEMO = ROOT / "assets" / "demo" / "roster.json"


@pytest.fixture
def town(tmp_path, town_db):
    server = ServerThread(town_db, media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        import_roster(conn, DEMO, tmp_path / "media")
        create_user(conn, "an", "admin", "mật-khẩu-quản-trị")
        server.receipt_key = receipt_key(conn)
    yield server
    server.stop()


def receipt(town, officer="cb-001", dossier="H12.34-000123", issued=None, unit="13321", key=None, **extra):
    fields = protocol.receipt_fields(unit, "quay-1", officer, dossier, "1.001193", issued or int(time.time()) - 60)
    fields.update(extra)
    text = protocol.make_receipt_token(fields, key or town.receipt_key, base_url=town.url)
    payload = text.rsplit("/r/", 1)[1].split(".")[0]
    return text.rsplit("/r/", 1)[1], protocol.receipt_id(payload)


def open_page(town, token, session=None):
    s = session or requests.Session()
    return s, s.get(f"{town.url}/r/{token}", timeout=10)


def rate(town, token, level="3", session=None, **form):
    s, page = open_page(town, token, session)
    assert page.status_code == 200, page.text[:500]
    survey = re.search(r'name="survey" value="([^"]+)"', page.text)[1]
    data = {"csrf": csrf_of(page.text), "survey": survey, "level": level, **form}
    return s, s.post(f"{town.url}/r/{token}", data=data, allow_redirects=False, timeout=10)


def held(town, rid=None):
    with town.engine.connect() as conn:
        q = select(ratings).order_by(ratings.c.pk)
        if rid:
            q = q.where(ratings.c.receipt_id == rid)
        return [dict(r) for r in conn.execute(q).mappings()]


def _commits(town):
    """Something that changes whenever anything is committed: the rows of the tables the page could write."""
    with town.engine.connect() as conn:
        return [len(conn.execute(select(t)).all()) for t in (ratings, kiosks)]


def test_a_receipt_rates_once_on_the_phone_in_the_units_web_chain(town):
    token, rid = receipt(town)
    before = _commits(town)
    s, page = open_page(town, token)
    assert _commits(town) == before      # opening the page writes nothing (no chain is made before a rating)
    assert "UBND xã Đồng Tâm" in page.text and "Nguyễn Thị Hồng Nhung" in page.text
    assert "Đăng ký khai sinh" in page.text and "H12.34-000123" in page.text
    assert "Cán bộ không xem được Ông/Bà đã chọn gì" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and "http" not in page.text.split("<body>", 1)[1].replace(town.url, "")
    photo = s.get(f"{town.url}/r/{token}/photo", timeout=10)
    assert photo.status_code == 200 and photo.headers["content-type"].startswith("image/")

    s, sent = rate(town, token, "1", session=s, reason_thai_do="1", reason_nhung_nhieu="1",
                   comment="Phải đi lại ba lần\r\nmới xong")
    assert sent.status_code == 303 and sent.headers["location"] == f"/r/{token}?sent=1"
    done = s.get(town.url + sent.headers["location"], timeout=10)
    assert "Đánh giá của Ông/Bà đã được ghi nhận" in done.text
    assert "Không hài lòng" not in done.text and "Rất hài lòng" not in done.text    # never the level
    [row] = held(town, rid)
    assert (row["kiosk_id"], row["seq"], row["source"], row["level"]) == ("WEB-13321", 1, "phone", 1)
    assert (row["officer_id"], row["desk_id"], row["dossier_code"], row["procedure_code"]) == \
        ("cb-001", "quay-1", "H12.34-000123", "1.001193")
    assert json.loads(row["reasons"]) == ["thai_do", "nhung_nhieu"] and row["comment"] == "Phải đi lại ba lần\nmới xong"
    assert row["survey"] == "hl3" and row["prev_hash"] == protocol.ZERO_HASH

    # the second try, the same phone or another: refused kindly, nothing stored
    again = requests.get(f"{town.url}/r/{token}", timeout=10)
    assert again.status_code == 200 and "Phiếu này đã được dùng để đánh giá" in again.text
    s2, page2 = open_page(town, token)
    late = s2.post(f"{town.url}/r/{token}", data={"csrf": "x", "survey": "hl3", "level": "3"}, timeout=10)
    assert "Phiếu này đã được dùng để đánh giá" in late.text
    assert len(held(town, rid)) == 1

    # another receipt continues the chain; the server's chains all verify
    token2, rid2 = receipt(town, officer="cb-002", dossier="H12.34-000124")
    assert rate(town, token2, "3")[1].status_code == 303
    [second] = held(town, rid2)
    assert second["seq"] == 2 and second["prev_hash"] == row["hash"]
    with town.engine.connect() as conn:
        assert check_chains(conn) == {"kiosks": 1, "ratings": 2}


def test_a_kiosk_rating_after_the_phone_one_is_flagged_not_counted(town):
    token, rid = receipt(town)
    assert rate(town, token, "3")[1].status_code == 303
    rec = sealed_ratings("K1", town.k1["key"], 1)[0]
    rec = protocol.seal({**{k: rec[k] for k in protocol.BODY_FIELDS}, "receipt_id": rid, "source": "receipt"},
                        protocol.ZERO_HASH, town.k1["key"])
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": rec["created_at"], "ratings": [rec]}).encode())
    r = requests.post(town.url + protocol.PATH_BATCH, data=body, timeout=10, headers={
        "Authorization": f"Bearer {town.k1['token']}", "Idempotency-Key": str(uuid.uuid4()),
        "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    rows = held(town, rid)
    assert [x["kiosk_id"] for x in rows] == ["WEB-13321", "K1"]
    assert "duplicate_receipt" in json.loads(rows[1]["server_flags"])
    assert json.loads(rows[0]["server_flags"]) == []


def test_campaign_questions_are_asked_and_answered(town):
    doc = json.loads((ROOT / "assets" / "surveys" / "mttq-can-bo.json").read_text("utf-8"))
    doc.update({"id": "mttq-2026", "from": "2020-01-01", "to": "2099-12-31"})
    from sync.server.core import surveys
    with town.engine.begin() as conn:
        surveys.add(conn, doc)
    token, rid = receipt(town)
    s, page = open_page(town, token)
    assert 'name="survey" value="mttq-2026"' in page.text and "Cán bộ tiếp đón lịch sự, tôn trọng" in page.text
    codes = re.findall(r'name="q_([a-z_]+)" value="3"', page.text)
    assert codes
    _s, sent = rate(town, token, "5", session=s, **{f"q_{codes[0]}": "3"})
    assert sent.status_code == 303
    [row] = held(town, rid)
    answers = json.loads(row["answers"])
    assert row["survey"] == "mttq-2026" and answers[codes[0]] == 3
    assert all(answers[c] is None for c in codes[1:])


@pytest.mark.parametrize("case, status, words", [
    ("forged", 403, "Phiếu không hợp lệ"), ("expired", 410, "Phiếu đã hết hạn đánh giá"),
    ("other_unit", 404, "Phiếu của đơn vị khác"), ("malformed", 400, "Mã phiếu không đọc được"),
    ("unknown_officer", 404, "Không tìm thấy cán bộ"), ("future", 409, "Phiếu chưa dùng được")])
def test_receipts_that_do_not_rate_get_a_page_that_says_why(town, case, status, words):
    tokens = {
        "forged": lambda: receipt(town, key="ab" * 32)[0],
        "expired": lambda: receipt(town, issued=int(time.time()) - 40 * 86400)[0],
        "other_unit": lambda: receipt(town, unit="99999")[0],
        "malformed": lambda: "not-a-receipt",
        "unknown_officer": lambda: receipt(town, officer="cb-999")[0],
        "future": lambda: receipt(town, issued=int(time.time()) + 3600)[0],
    }
    token = tokens[case]()
    page = requests.get(f"{town.url}/r/{token}", timeout=10)
    assert page.status_code == status and words in page.text and f'data-kind="{case}"' in page.text
    post = requests.post(f"{town.url}/r/{token}", data={"level": "3"}, timeout=10)
    assert post.status_code in (status, 403) and "<html" in post.text
    assert requests.get(f"{town.url}/r/{token}/photo", timeout=10).status_code == status
    assert held(town) == []


def test_an_appointment_receipt_rates_after_30_days_when_its_date_is_near(town):
    token, rid = receipt(town, issued=int(time.time()) - 45 * 86400,
                         a=time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400)))
    assert rate(town, token, "3")[1].status_code == 303
    assert json.loads(held(town, rid)[0]["flags"]) == ["on_time"]


@pytest.mark.parametrize("path", ["/r/", "/r/a.b", "/r/" + "A" * 5000 + ".b", "/r/%00.%ff", "/r/HL1.x.y",
                                  "/r/..%2f..%2fetc.passwd", "/r/a.b/photo", "/r/%E1%BB%87.x"])
def test_hostile_paths_never_get_a_500(town, path):
    for method in ("GET", "POST"):
        r = requests.request(method, town.url + path, data={"level": "x" * 10000}, timeout=10)
        assert r.status_code < 500, (method, path, r.status_code)


def test_a_bad_form_keeps_what_was_typed_and_stores_nothing(town):
    token, rid = receipt(town)
    _s, r = rate(town, token, "", comment="Cán bộ nhiệt tình")
    assert r.status_code == 422 and "Ông/Bà vui lòng chọn một mức đánh giá" in r.text and "Cán bộ nhiệt tình" in r.text
    _s, r = rate(town, token, "7")
    assert r.status_code == 422
    _s, r = rate(town, token, "2", comment="x" * 600)
    assert r.status_code == 422 and "500" in r.text
    s, page = open_page(town, token)
    stale = s.post(f"{town.url}/r/{token}", data={"csrf": csrf_of(page.text), "survey": "hl5", "level": "3"},
                   timeout=10)
    assert stale.status_code == 409 and "Câu hỏi vừa được cập nhật" in stale.text
    nocookie = requests.post(f"{town.url}/r/{token}", data={"csrf": "forged", "survey": "hl3", "level": "3"},
                             timeout=10)
    assert nocookie.status_code == 403 and "cookie" in nocookie.text
    assert held(town, rid) == []


def test_each_receipt_and_each_address_is_rate_limited(town):
    token, rid = receipt(town)
    s, page = open_page(town, token)
    csrf = csrf_of(page.text)
    codes = [s.post(f"{town.url}/r/{token}", data={"csrf": csrf, "survey": "hl3", "level": "9"}, timeout=10).status_code
             for _ in range(8)]
    assert codes[:6] == [422] * 6 and codes[6:] == [429, 429]
    limited = s.post(f"{town.url}/r/{token}", data={"csrf": csrf, "survey": "hl3", "level": "3"}, timeout=10)
    assert limited.status_code == 429 and "Quá nhiều lần thử" in limited.text and limited.headers["retry-after"]
    assert held(town, rid) == []


def test_the_admin_side_sees_the_phone_chain_as_a_count_not_a_silent_kiosk(town):
    token, _rid = receipt(town)
    assert rate(town, token, "3")[1].status_code == 303
    page = session_for(town, "an", "mật-khẩu-quản-trị").get(town.url + "/admin/kiosks", timeout=10).text
    assert 'data-kiosk="WEB-13321"' not in page and "13321: 1" in page.split('data-testid="phone-chains"')[1]
    from datetime import timedelta

    from sync.server.core.clock import utcnow
    with town.engine.connect() as conn:
        assert [a.subject for a in silent_causes(conn, utcnow() + timedelta(days=30))] == ["K1"]
        assert conn.execute(select(kiosks.c.id).where(kiosks.c.id == "WEB-13321")).scalar() == "WEB-13321"
    with town.engine.begin() as conn, pytest.raises(AdminError, match="WEB-"):
        enrol_kiosk(conn, "web-99", "13321")


def test_the_code_printed_on_the_receipt_looks_its_rating_up_in_the_public_log(town):
    from kiosk.render import lookup_code
    token, rid = receipt(town)
    printed = lookup_code(f"{town.url}/r/{token}")
    assert printed.replace(" ", "") == rid and len(printed.split()) == 4
    before = requests.get(town.url + "/log", params={"code": printed}, timeout=10)
    assert before.status_code == 200 and 'data-testid="log-none"' in before.text
    assert rate(town, token, "2")[1].status_code == 303
    for code in (printed, printed.replace(" ", "-").upper(), f"{town.url}/r/{token}"):
        page = requests.get(town.url + "/log", params={"code": code}, timeout=10)
        assert page.status_code == 200 and 'data-testid="log-check"' in page.text, code
        assert "Hài lòng</span>" not in page.text.split("<main>", 1)[1]          # never the level
    bad = requests.get(town.url + "/log", params={"code": "<script>alert(1)</script>"}, timeout=10)
    assert bad.status_code == 422 and "<script>alert" not in bad.text


def test_the_phone_rating_is_in_a_signed_checkpoint_at_once(town):
    """A batch signs at most once a second (core/tlog_store): the phone page signs after its own rating,
    so the page the citizen lands on holds the log's check, even right after a kiosk's batch."""
    recs = sealed_ratings("K1", town.k1["key"], 3)
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": recs[0]["created_at"], "ratings": recs}).encode())
    token, rid = receipt(town, dossier="H-AT-ONCE")
    s, page = open_page(town, token)
    data = {"csrf": csrf_of(page.text), "survey": "hl3", "level": "3"}
    for _ in range(2):   # the kiosk's batch signs; the phone rating follows within the second
        r = requests.post(town.url + protocol.PATH_BATCH, data=body, timeout=10, headers={
            "Authorization": f"Bearer {town.k1['token']}", "Idempotency-Key": str(uuid.uuid4()),
            "Content-Encoding": "gzip"})
        assert r.status_code == 200
    sent = s.post(f"{town.url}/r/{token}", data=data, allow_redirects=False, timeout=10)
    done = s.get(town.url + sent.headers["location"], timeout=10)
    assert 'data-testid="log-check"' in done.text, done.text[-1500:]
