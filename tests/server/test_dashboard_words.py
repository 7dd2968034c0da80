"""The dashboard's words and what it leads to (issue 10): the satisfied total told from the level
"Hài lòng", every comment of the filter on a page of its own, and a kiosk that was just enrolled
told from a silent one.

The town is the hand-checked one of tests/town.py (quarter IV 2026: 8 valid ratings, 6 satisfied,
of which 3 "Rất hài lòng" and 3 "Hài lòng"), in a town.db the app migrated, plus 63 ratings with
comments in August 2026 for the comments page; the app answers through Starlette's TestClient.
"""
from __future__ import annotations

import html
import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from babel.messages.pofile import read_po
from helpers import ROOT
from sqlalchemy import insert, select
from starlette.testclient import TestClient
from town import make_town

from sync.server.app import create_app
from sync.server.core import admin_ops, alerts, db, rollup
from sync.server.core.clock import iso
from sync.server.core.settings import survey
from sync.server.reports import periods
from sync.server.web.kiosks import kiosk_health

TEMPLATES = ROOT / "sync" / "server" / "web" / "templates"
AUGUST = 63      # ratings with a comment in August 2026 (quarter III)
EVIL = '<script>alert("x")</script> & <b>đậm</b>'


def _august(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        at = (datetime(2026, 8, 1, 8, 0) + timedelta(hours=7 * i)).strftime("%Y-%m-%dT%H:%M:%S+07:00")
        rows.append(dict(id=str(uuid.uuid4()), kiosk_id="k2", seq=i + 1, created_at=at, unit_code="13321",
                         desk_id="quay-2", officer_id="cb-004" if i % 3 else "cb-002", dossier_code=None,
                         procedure_code="P1", receipt_id=None, level=1 + i % 3,
                         reasons=json.dumps(["thai_do"] if i % 3 == 0 else []),
                         comment=EVIL if i == AUGUST - 1 else f"Ý kiến số {i + 1:02d}", source="walk_up",
                         flags="[]", prev_hash="0" * 64, hash="1" * 64, sig="2" * 64, received_at=at,
                         corrected_at=at))
    return rows


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    path = tmp_path_factory.mktemp("words") / "town.db"
    app = create_app(str(path))
    make_town(path).dispose()                      # the hand-checked ratings and the roster's names
    with app.state.engine.begin() as conn:
        conn.execute(insert(db.ratings), _august(AUGUST))
        admin_ops.create_user(conn, "an", "admin", "mật-khẩu-an-1")
        reasons = survey(conn)["reasons"]
        admin_ops.enrol_kiosk(conn, "ki-ot-moi", "13321")               # enrolled just now, never called
        admin_ops.enrol_kiosk(conn, "ki-ot-quen", "13321")              # enrolled long ago, never called
        conn.execute(db.kiosks.update().where(db.kiosks.c.id == "ki-ot-quen")
                     .values(enrolled_at=iso(datetime.now(timezone.utc) - timedelta(hours=30))))
    rollup.rebuild(app.state.engine, reasons)
    client = TestClient(app)
    yield client
    app.state.engine.dispose()


def _sign_in(client: TestClient, lang: str = "vi") -> TestClient:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    r = client.post("/login", data={"csrf": token, "username": "an", "password": "mật-khẩu-an-1", "next": "/admin"},
                    follow_redirects=False)
    assert r.status_code == 303
    client.get(f"/lang/{lang}?next=/admin")
    return client


@pytest.fixture
def vi(town):
    return _sign_in(town, "vi")


@pytest.fixture
def en(town):
    yield _sign_in(town, "en")
    town.get("/lang/vi?next=/admin")


def _text(page: str) -> str:
    """The page's visible text, tags dropped, entities read, spaces collapsed."""
    page = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _headers(page: str) -> list[str]:
    """The column headers of the pages' tables."""
    heads = "".join(re.findall(r"<thead>(.*?)</thead>", page, re.S))
    return [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", heads, re.S)]


# --- the satisfied total and the level "Hài lòng" ----------------------------------------------

def test_dashboard_tells_every_satisfied_rating_from_the_level_hai_long(vi):
    page = vi.get("/admin?period=2026-Q4").text
    heads = _headers(page)
    assert "Hài lòng" not in heads and "Không hài lòng" not in heads and "Tỷ lệ" not in heads
    assert {"Hài lòng (mọi mức)", "Chưa hài lòng (mọi mức)", "Tỷ lệ hài lòng", "Lượt hợp lệ"} <= set(heads)
    text = _text(page)
    assert "6 lượt hài lòng (mọi mức) / 8 lượt hợp lệ" in text
    # the level rows stay the levels the citizens tapped, and say how they add up
    levels = re.search(r'data-testid="levels">(.*?)</table>', page, re.S)[1]
    assert [_text(r).split() for r in re.findall(r"<tr>(.*?)</tr>", levels, re.S)] == [
        ["Rất", "hài", "lòng", "3"], ["Hài", "lòng", "3"], ["Không", "hài", "lòng", "2"]]
    assert "Hài lòng (mọi mức) = Rất hài lòng + Hài lòng: 6 lượt." in text
    # the officers' table: Nguyễn Thị Hồng Nhung 3 valid, 2 satisfied (levels 3 and 2), 1 not
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if "Nguyễn Thị Hồng Nhung" in r)
    assert _text(row).split()[-5:] == ["3", "2", "1", "1", "66,7%"]


def test_officer_page_uses_the_same_words(vi):
    page = vi.get("/admin/officers/cb-001?period=2026-Q4").text
    assert {"Hài lòng (mọi mức)", "Chưa hài lòng (mọi mức)", "Tỷ lệ hài lòng"} <= set(_headers(page))
    assert "2 lượt hài lòng (mọi mức) / 3 lượt hợp lệ" in _text(page)


def test_the_words_in_english(en):
    page = en.get("/admin?period=2026-Q4").text
    heads = _headers(page)
    assert {"Satisfied (all levels)", "Not satisfied (all levels)", "Satisfaction rate"} <= set(heads)
    assert "Satisfied" not in heads
    text = _text(page)
    assert "6 satisfied (all levels) / 8 valid" in text
    assert "Satisfied (all levels) = Very satisfied + Satisfied: 6." in text


def test_a_running_period_says_up_to_when(vi):
    today = periods.today_vn()
    running = periods.containing("month", today)
    text = _text(vi.get(f"/admin?period={running.key}").text)
    assert f"Số liệu đến ngày {today:%d/%m/%Y}" in text
    assert "Số liệu đến ngày" not in _text(vi.get("/admin?period=2026-Q3").text)
    assert periods.data_until(periods.quarter(2026, 4), date(2026, 11, 28)) == date(2026, 11, 28)
    assert periods.data_until(periods.quarter(2026, 4), date(2027, 1, 1)) is None
    assert periods.data_until(periods.quarter(2026, 4), date(2026, 9, 30)) is None


# --- every comment, a page at a time ----------------------------------------------------------------

def _comments(page: str) -> list[str]:
    return [html.unescape(q) for q in re.findall(r"<q>(.*?)</q>", page, re.S)]


def test_the_dashboard_links_to_every_comment_of_its_filter(vi):
    page = vi.get("/admin?period=2026-Q3").text
    assert len(_comments(page)) == 15
    link = re.search(r'<a href="(/admin/comments\?[^"]+)">Xem tất cả (\d+) ý kiến', page)
    # the 63 of August and "Quý trước" (30 September)
    assert link and int(link[2]) == AUGUST + 1 and "period=2026-Q3" in link[1]
    officer = vi.get("/admin/officers/cb-002?period=2026-Q3").text
    link = re.search(r'<a href="(/admin/comments\?[^"]+)">', officer)
    assert "officer=cb-002" in html.unescape(link[1])


def test_the_comments_page_pages_newest_first_and_escapes(vi):
    first = vi.get("/admin/comments?period=2026-Q3")
    assert first.status_code == 200
    one = _comments(first.text)
    assert len(one) == 50 and "Ý kiến 1–50 trong tổng số 64" in _text(first.text)
    assert one[:3] == ["Quý trước", EVIL, f"Ý kiến số {AUGUST - 1:02d}"]    # newest first
    assert "<script>alert" not in first.text and "&lt;script&gt;alert" in first.text
    assert 'rel="next"' in first.text and "Trang 1/2" in _text(first.text)
    second = _comments(vi.get("/admin/comments?period=2026-Q3&page=2").text)
    assert len(second) == 14 and not set(one) & set(second) and second[-1] == "Ý kiến số 01"
    assert _comments(vi.get("/admin/comments?period=2026-Q3&page=99").text) == second   # the last page
    assert len(_comments(vi.get("/admin/comments?period=2026-Q3&page=x").text)) == 50


def test_the_comments_page_keeps_the_dashboards_filter(vi):
    page = vi.get("/admin/comments?period=2026-Q3&officer=cb-002").text
    said = _comments(page)
    assert len(said) == 21 and all(s.startswith("Ý kiến số") for s in said)
    assert '<option value="cb-002" selected>' in page
    desk = _comments(vi.get("/admin/comments?period=2026-Q4&desk=quay-1").text)
    assert sorted(desk) == ["Phải đi lại ba lần", "Rất nhanh", "Đòi tiền"]
    empty = vi.get("/admin/comments?period=2025").text
    assert "Chưa có ý kiến trong kỳ." in _text(empty)
    bad = vi.get("/admin/comments?period=nonsense")
    assert bad.status_code == 422 and "kỳ báo cáo không hợp lệ" in _text(bad.text)


def test_the_comments_page_in_english(en):
    text = _text(en.get("/admin/comments?period=2026-Q3&page=2").text)
    assert "Comments 51–64 of 64, newest first." in text and "Page 2/2" in text and "Newer" in text


# --- a just-enrolled kiosk is not silent ------------------------------------------------------------

def _kiosk_row(page: str, kiosk: str) -> str:
    return _text(re.search(rf'<tr class="[^"]*" data-kiosk="{kiosk}">(.*?)</tr>', page, re.S)[1])


def test_a_kiosk_enrolled_just_now_has_not_made_contact_yet(vi):
    page = vi.get("/admin/kiosks").text
    new = _kiosk_row(page, "ki-ot-moi")
    assert "Chưa kết nối lần nào (đăng ký lúc " in new and "Im lặng quá lâu" not in new
    old = _kiosk_row(page, "ki-ot-quen")
    assert "Chưa kết nối lần nào (đăng ký lúc " in old and "Im lặng quá lâu" in old


def test_kiosk_health_counts_the_silent_hours_from_enrolment_or_last_contact():
    now = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)

    def k(enrolled_h, seen_h=None, **kw):
        return {"enrolled_at": iso(now - timedelta(hours=enrolled_h)),
                "last_seen": iso(now - timedelta(hours=seen_h)) if seen_h is not None else None,
                "revoked": False, "clock_skew": None, "quarantined": 0, **kw}
    assert kiosk_health(k(0.01), now, 24, 600) == {"age_h": None, "never": True, "problems": [], "health": {}}
    assert kiosk_health(k(23.9), now, 24, 600)["problems"] == []
    assert kiosk_health(k(24), now, 24, 600)["problems"] == ["silent"]
    assert kiosk_health(k(100, 2), now, 24, 600)["problems"] == []
    assert kiosk_health(k(100, 30), now, 24, 600)["problems"] == ["silent"]
    assert kiosk_health(k(100, revoked=True), now, 24, 600)["problems"] == ["revoked"]
    assert kiosk_health(k(1, 0.5, clock_skew=900.0), now, 24, 600)["problems"] == ["skew"]


def test_the_silent_sweep_counts_from_enrolment_for_a_kiosk_that_never_called(town_db, tmp_path):
    app = create_app(str(town_db), media_dir=tmp_path / "media")
    now = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)
    with app.state.engine.begin() as conn:
        for kid, enrolled_h in [("ki-ot-moi", 1), ("ki-ot-quen", 25)]:
            admin_ops.enrol_kiosk(conn, kid, "13321")
            conn.execute(db.kiosks.update().where(db.kiosks.c.id == kid)
                         .values(enrolled_at=iso(now - timedelta(hours=enrolled_h))))
        assert alerts.sweep_silent(conn, now) == 1
        rows = conn.execute(select(db.alerts.c.kiosk_id, db.alerts.c.message)
                            .where(db.alerts.c.kind == "silent")).all()
    app.state.engine.dispose()
    assert [r.kiosk_id for r in rows] == ["ki-ot-quen"]
    assert rows[0].message == ("Ki-ốt ki-ot-quen chưa kết nối lần nào từ khi đăng ký lúc 27/11/2026 09:00 "
                               "(đã hơn 24 giờ)")


# --- every word of these pages has its English --------------------------------------------------

MINE = ["dashboard.html", "officer.html", "_figures.html", "kiosks.html", "error.html", "comments.html",
        "_filters.html"]


def test_every_word_of_these_pages_is_in_the_english_catalogue():
    with open(ROOT / "assets/locale/en/LC_MESSAGES/hailong_server.po", "rb") as fh:
        english = {m.id for m in read_po(fh) if m.id and m.string}
    missing = []
    for name in MINE:
        source = (TEMPLATES / name).read_text("utf-8")
        for said in re.findall(r"""_\(\s*(["'])(.*?)\1""", source):
            if said[1] not in english:
                missing.append(f"{name}: {said[1]}")
    assert not missing, missing


def test_the_officer_pages_word_report_is_the_officers(vi):
    page = vi.get("/admin/officers/cb-002?period=2026-Q4").text
    link = html.unescape(re.search(r'href="(/admin/export\?fmt=docx[^"]*)"', page)[1])
    assert "officer=cb-002" in link
    r = vi.get(link)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == \
        'attachment; filename="hailong-2026-Q4-bao-cao-can-bo-cb-002-tran-van-duc.docx"'
    import io

    import docx
    texts = [p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs]
    assert "Kết quả đánh giá của người dân, tổ chức đối với cán bộ Trần Văn Đức" in texts
    whole = vi.get("/admin/export?fmt=docx&period=2026-Q4")
    assert whole.headers["content-disposition"] == 'attachment; filename="hailong-2026-Q4-bao-cao.docx"'


def test_the_signer_named_in_the_report_settings_signs_the_word_report(vi):
    import io

    import docx

    from sync.server.reports.report_docx import SIGN_HINT, Issuer
    before = docx.Document(io.BytesIO(vi.get("/admin/export?fmt=docx&period=2026-Q4").content))
    assert SIGN_HINT in [p.text for p in before.tables[-1].cell(0, 1).paragraphs]        # no name set yet
    token = re.search(r'name="csrf" value="([^"]+)"', vi.get("/admin/roster").text)[1]
    form = {f: getattr(Issuer(), f) for f in ("parent", "body", "body_full", "place", "symbol",
                                             "signer_on_behalf", "signer_title")}
    r = vi.post("/admin/settings/report", data={**form, "signer_name": "Lê Văn Bảy", "csrf": token},
                follow_redirects=False)
    assert r.status_code == 303
    after = docx.Document(io.BytesIO(vi.get("/admin/export?fmt=docx&period=2026-Q4&officer=cb-001").content))
    right = [p.text for p in after.tables[-1].cell(0, 1).paragraphs if p.text]
    assert right == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Lê Văn Bảy"]


def test_reasons_tell_praise_from_complaint(vi):
    """Every level may tick reasons on the kiosk: the dashboard counts them apart.

    Quarter IV: huong_dan is named by a satisfied rating, thai_do by a not satisfied one;
    quarter III: thai_do by 21 "Không hài lòng" ratings only."""
    def rows(client, period):
        page = client.get(f"/admin?period={period}").text
        table = re.search(r'data-testid="reasons">(.*?)</table>', page, re.S)[1]
        cells = [_text(r).split() for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("</thead>")[1], re.S)]
        return _headers(table), {" ".join(c[:-2]): c[-2:] for c in cells}
    heads, q4 = rows(vi, "2026-Q4")
    assert heads == ["", "Khi chưa hài lòng", "", "Khi hài lòng"]
    assert q4["Hướng dẫn"] == ["0", "1"] and q4["Thái độ"] == ["1", "0"] and q4["Đúng hẹn"] == ["0", "0"]
    _, q3 = rows(vi, "2026-Q3")
    assert q3["Thái độ"] == ["21", "0"]
    vi.get("/lang/en?next=/admin")
    try:
        heads, _ = rows(vi, "2026-Q4")
    finally:
        vi.get("/lang/vi?next=/admin")
    assert heads == ["", "When not satisfied", "", "When satisfied"]
