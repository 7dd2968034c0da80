"""The pages cannot be broken from the edges (issue 9): security headers, Secure cookies behind HTTPS,
settings forms that take only sensible finite numbers, query strings and ids that answer 4xx, and
exports (the pages' CSV / Excel / Word, `hailong pull`) that neither break nor run code.

Against the real app under uvicorn (tests/faultproxy.ServerThread). Comments holding control
characters are written straight into town.db, as a server older than the record rules stored them.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid

import docx
import openpyxl
import pytest
import requests
from faultproxy import ServerThread, sealed_ratings
from helpers import ROOT
from town import csrf_of

from sync import cells, protocol
from sync.server.core.admin_ops import AdminError, BadField, create_token, create_user, enrol_kiosk, set_alert_rules
from sync.server.core import db
from sync.server.reports import exports, report_docx

TEMPLATES = ROOT / "sync" / "server" / "web" / "templates"
#: stored comments, as an older server let them in
EVIL = ["=HYPERLINK(\"http://x\",\"bấm\")", "+1+2", "-3", "@SUM(A1)", "\tx", "\rx",
        "dòng\x0bdọc", "chuông\x01\x07", "nul\x00ở giữa", "ổn\x1f"]


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    srv = ServerThread(tmp / "town.db")
    with srv.engine.begin() as conn:
        kiosk = enrol_kiosk(conn, "K1", "13321")
        create_user(conn, "an", "admin", "mật-khẩu-an-1")
        srv.token = create_token(conn, "an")
        conn.execute(db.units.insert().values(code="13321", name="UBND xã Đồng Tâm"))
        conn.execute(db.officers.insert().values(id="cb-001", name="Nguyễn Văn A"))
    recs = sealed_ratings("K1", kiosk["key"], len(EVIL))
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00",
                                     "ratings": recs}).encode())
    r = requests.post(srv.url + protocol.PATH_BATCH, data=body, timeout=10, headers={
        "Authorization": f"Bearer {kiosk['token']}", "Idempotency-Key": str(uuid.uuid4()),
        "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    with sqlite3.connect(tmp / "town.db") as raw:     # straight into town.db
        for seq, comment in enumerate(EVIL, 1):
            raw.execute("UPDATE ratings SET comment = ? WHERE kiosk_id = 'K1' AND seq = ?", (comment, seq))
    srv.tmp = tmp
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(town):
    s = requests.Session()
    token = csrf_of(s.get(town.url + "/login", timeout=10).text)
    r = s.post(town.url + "/login", data={"csrf": token, "username": "an", "password": "mật-khẩu-an-1",
                                          "next": "/admin"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    s.csrf = csrf_of(s.get(town.url + "/admin/alerts", timeout=10).text)
    return s


# --- headers and cookies --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/admin", "/admin/alerts", "/admin/roster", "/static/style.css",
                                  "/healthz", "/api/v1/alerts", "/openapi.json", "/nowhere", "/docs"])
def test_every_response_has_the_security_headers(town, admin, path):
    r = admin.get(town.url + path, timeout=30)
    csp = r.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, (path, csp)
    script = re.search(r"script-src ([^;]*)", csp)[1]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    if path != "/docs":
        assert script == "'self'" and re.search(r"style-src ([^;]*)", csp)[1] == "'self'"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] in ("same-origin", "no-referrer")


def test_templates_hold_no_inline_script_style_or_handler():
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"<style|\sstyle=", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), path.name
        assert "javascript:" not in text, path.name


def test_the_dashboard_has_no_inline_style_once_rendered(town, admin):
    html = admin.get(town.url + "/admin?period=2026-Q1", timeout=30).text
    assert "<svg" in html
    assert not re.search(r"<style|\sstyle=|<script(?![^>]*\bsrc=)", html)


def test_the_session_cookie_is_secure_behind_https(town):
    plain = requests.get(town.url + "/login", timeout=10)
    assert "hailong_session" in plain.headers["set-cookie"] and "secure" not in plain.headers["set-cookie"].lower()
    proxied = requests.get(town.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    cookie = proxied.headers["set-cookie"].lower()
    assert "hailong_session" in cookie and "; secure" in cookie and "httponly" in cookie


# --- forms and query strings -------------------------------------------------------------------------

@pytest.mark.parametrize("field,value", [
    ("officer_rate_below", "inf"), ("officer_rate_below", "nan"), ("officer_rate_below", "1e11"),
    ("officer_rate_below", "101"), ("officer_min_ratings", "1e11"), ("officer_min_ratings", "99999999999"),
    ("officer_min_ratings", "0"), ("officer_min_ratings", "2.5"), ("kiosk_silent_hours", "inf"),
    ("kiosk_silent_hours", "1e11"), ("kiosk_silent_hours", "-1"), ("kiosk_silent_hours", "0"),
    ("kiosk_silent_hours", "NaN"), ("kiosk_silent_hours", ""), ("kiosk_silent_hours", "١٢")])
def test_alert_thresholds_must_be_finite_and_in_range(town, admin, field, value):
    form = {"csrf": admin.csrf, "officer_rate_below": "50", "officer_min_ratings": "3", "kiosk_silent_hours": "12",
            field: value}
    r = admin.post(town.url + "/admin/alerts/rules", data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 422, r.status_code
    label = {"officer_rate_below": "Tỷ lệ hài lòng của cán bộ dưới", "officer_min_ratings": "khi có ít nhất",
             "kiosk_silent_hours": "Ki-ốt im lặng quá"}[field]
    assert label in r.text
    assert admin.get(town.url + "/admin/alerts", timeout=10).status_code == 200
    with town.engine.begin() as conn, pytest.raises(BadField) as err:
        set_alert_rules(conn, **{"officer_rate_below": 50, "officer_min_ratings": 3, "kiosk_silent_hours": 12,
                                 field: value})
    assert err.value.field == field and str(err.value).startswith(field)


def test_good_thresholds_are_kept(town, admin):
    form = {"csrf": admin.csrf, "officer_rate_below": "62,5", "officer_min_ratings": "4", "kiosk_silent_hours": "36"}
    r = admin.post(town.url + "/admin/alerts/rules", data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    page = admin.get(town.url + "/admin/alerts", timeout=10)
    assert page.status_code == 200 and 'value="62.5"' in page.text and 'value="36.0"' in page.text


@pytest.mark.parametrize("query", [
    "period=2026-01-01..9999-12-31", "period=9999", "period=0001-Q1", "period=2026-13", "period=2026-Q5",
    "period=" + "9" * 400, "period=2026-02-30..2026-03-01", "from=0001-01-01&to=9999-12-31",
    "from=2026-01-01&to=10000-01-01", "from=2026-03-01&to=2026-01-01", "from=x&to=y", "period=%00"])
@pytest.mark.parametrize("page", ["/admin", "/admin/officers/cb-001", "/admin/export?fmt=csv",
                                  "/admin/export?fmt=xlsx", "/admin/export?fmt=docx"])
def test_bad_periods_answer_4xx(town, admin, page, query):
    r = admin.get(town.url + page + ("&" if "?" in page else "?") + query, timeout=30)
    assert 400 <= r.status_code < 500, (page, query, r.status_code)
    assert any(w in r.text for w in ("năm", "kỳ báo cáo", "ngày", "tháng", "quý"))


@pytest.mark.parametrize("query", ["period=2026-01-01..9999-12-31", "period=9999", "period=" + "1" * 300])
def test_bad_periods_answer_4xx_json_on_the_api(town, query):
    r = requests.get(town.url + "/api/v1/reports/dashboard?" + query, timeout=30,
                     headers={"Authorization": f"Bearer {town.token}"})
    assert 400 <= r.status_code < 500 and isinstance(r.json()["detail"], str)


@pytest.mark.parametrize("alert_id", ["99999999999999999999", "9223372036854775808", "-1", "0", "abc", "1.5",
                                      "%C2%B9", "99999"])
def test_acknowledging_an_impossible_alert_is_a_404(town, admin, alert_id):
    r = admin.post(town.url + f"/admin/alerts/{alert_id}/ack", data={"csrf": admin.csrf, "note": "x"},
                   allow_redirects=False, timeout=10)
    assert r.status_code == 404, (alert_id, r.status_code)
    with town.engine.begin() as conn, pytest.raises(AdminError):
        from sync.server.core.admin_ops import resolve_alert
        resolve_alert(conn, 99999999999999999999, "an")


# --- exports ----------------------------------------------------------------------------------------

def test_one_rule_for_every_cell():
    for value in EVIL[:6]:
        assert cells.csv_cell(value) == "'" + value
    assert cells.csv_cell("bình thường") == "bình thường" and cells.csv_cell(3) == 3
    assert cells.clean_text("a\x0bb\x00c\ud800d\x1f\te\nf\rg") == "a\ufffdb\ufffdc\ufffdd\ufffd\te\nf\rg"
    assert exports.csv_cell is cells.csv_cell and exports.xlsx_cell is cells.xlsx_cell


def test_page_exports_of_control_characters_open(town, admin):
    for fmt in ("csv", "xlsx", "docx"):
        r = admin.get(town.url + f"/admin/export?fmt={fmt}&period=2026", timeout=60)
        assert r.status_code == 200, (fmt, r.status_code, r.text[:300])
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
            got = {row[rows[0].index("Ý kiến")] for row in rows[1:]}
            assert "'=HYPERLINK(\"http://x\",\"bấm\")" in got and "'\tx" in got and "'-3" in got
            assert "dòng\ufffddọc" in got
        elif fmt == "xlsx":
            ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
            col = [c.value for c in ws[1]].index("Ý kiến")
            got = {row[col].value: row[col].data_type for row in ws.iter_rows(min_row=2)}
            assert got["=HYPERLINK(\"http://x\",\"bấm\")"] == "s"            # text, not a formula
            assert "dòng\ufffddọc" in got and "chuông\ufffd\ufffd" in got and "nul\ufffdở giữa" in got
        else:
            text = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
            assert "dòng\ufffddọc" in text


def test_word_report_with_a_lone_surrogate_and_control_characters():
    data = report_docx.ReportData.__dataclass_fields__
    assert "comments" in data
    assert report_docx.clean_text("x\ud800\x0b") == "x\ufffd\ufffd"


def pull(town, fmt, out, *, env_token=True, token_file=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "hailong", "pull", "--server", town.url, "--format", fmt, "--out", str(out),
            "--full"]
    if token_file:
        args += ["--token-file", str(token_file)]
        env.pop("HAILONG_TOKEN", None)
    else:
        env["HAILONG_TOKEN"] = town.token
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


def test_pull_writes_cells_like_the_web_export(town, tmp_path):
    out = pull(town, "xlsx", tmp_path / "r.xlsx")                       # the token from $HAILONG_TOKEN
    assert out.returncode == 0, out.stderr
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    col = [c.value for c in ws[1]].index("Ý kiến")
    got = {row[col].value: row[col].data_type for row in ws.iter_rows(min_row=2)}
    assert got["=HYPERLINK(\"http://x\",\"bấm\")"] == "s"
    assert "dòng\ufffddọc" in got and "nul\ufffdở giữa" in got and "ổn\ufffd" in got
    (tmp_path / "token").write_text(town.token + "\n")
    out = pull(town, "csv", tmp_path / "r.csv", token_file=tmp_path / "token")
    assert out.returncode == 0, out.stderr
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    got = {row[rows[0].index("Ý kiến")] for row in rows[1:]}
    assert {cells.csv_cell(v) for v in EVIL} <= got
    for v in EVIL[:6]:
        assert "'" + v in got


def test_pull_without_a_token_says_where_to_put_it(town, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HAILONG_TOKEN"}
    out = subprocess.run([sys.executable, "-m", "hailong", "pull", "--server", town.url, "--format", "csv",
                          "--out", str(tmp_path / "r.csv")], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**env, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and "HAILONG_TOKEN" in out.stderr and "--token-file" in out.stderr
    bad = tmp_path / "bad-token"
    bad.write_text("ha_sai-hoan-toan\n")
    out = pull(town, "csv", tmp_path / "r.csv", token_file=bad)
    assert out.returncode == 1 and "ha_sai-hoan-toan" not in out.stderr + out.stdout
