"""The server's rough edges (issue 10): friendly HTML error pages for people, JSON for the API;
/docs that works with no internet; a kiosk that gives up on a slow batch is one line in the log.

Against the real app under uvicorn in this process (tests/faultproxy.ServerThread).
"""
from __future__ import annotations

import html
import logging
import re
import socket
import time
import uuid
from urllib.parse import urljoin

import pytest
import requests
from faultproxy import ServerThread

from sync import protocol
from sync.server.core.admin_ops import enrol_kiosk


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ServerThread(tmp_path_factory.mktemp("errors") / "town.db")
    with srv.engine.begin() as conn:
        srv.kiosk = enrol_kiosk(conn, "K1", "13321")
    yield srv
    srv.stop()


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


# --- error pages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nowhere", "/admin/no-such-page", "/static/no-such.css", "/admin/kiosks/x/y"])
def test_an_unknown_address_is_a_page_with_a_way_back(server, path):
    r = requests.get(server.url + path, timeout=10, headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    text = _text(r.text)
    assert "Không tìm thấy trang" in text and f"Không có trang nào ở địa chỉ {path}." in text
    assert '<a href="/admin">' in r.text and "Về trang tổng quan" in text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_404_page_in_english(server):
    s = requests.Session()
    s.get(server.url + "/lang/en?next=/login", timeout=10)
    r = s.get(server.url + "/nowhere", timeout=10)
    assert r.status_code == 404 and "Page not found" in r.text and "There is no page at /nowhere." in _text(r.text)
    assert "Back to the dashboard" in _text(r.text)


def test_a_wrong_method_is_a_page_too_and_keeps_allow(server):
    r = requests.delete(server.url + "/admin", timeout=10)
    assert r.status_code == 405 and r.headers["content-type"].startswith("text/html")
    assert "Địa chỉ /admin không nhận yêu cầu kiểu DELETE." in _text(r.text)
    assert "GET" in r.headers.get("allow", "")


def test_a_script_in_the_address_is_text(server):
    r = requests.get(server.url + "/<script>alert(1)</script>", timeout=10)
    assert r.status_code == 404 and "<script>alert(1)" not in r.text


@pytest.mark.parametrize("method,path,status", [("GET", "/api/v1/nowhere", 404), ("DELETE", protocol.PATH_RATINGS, 405),
                                                ("GET", "/api/v1/kiosks/K1/config", 401)])
def test_the_api_still_answers_json(server, method, path, status):
    r = requests.request(method, server.url + path, timeout=10, headers={"Accept": "text/html"})
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"detail"}


def test_a_client_that_asks_for_json_gets_json_anywhere(server):
    r = requests.get(server.url + "/nowhere", timeout=10, headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


# --- /docs offline ------------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_only_from_this_server(server, page):
    r = requests.get(server.url + page, timeout=10)
    assert r.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.text) + re.findall(r"""url: ?['"]([^'"]+)['"]""", r.text)
    urls += re.findall(r'spec-url="([^"]+)"', r.text)
    assert urls and not [u for u in urls if re.match(r"(https?:)?//", u)], urls
    assert "cdn" not in r.text.lower() and "fonts.googleapis" not in r.text
    for u in urls:
        got = requests.get(urljoin(server.url + page, u), timeout=10)
        assert got.status_code == 200 and len(got.content) > 100, u
    csp = r.headers["content-security-policy"]
    assert "https:" not in csp and "cdn" not in csp


# --- a kiosk that gives up on a slow batch ------------------------------------------------------

def test_a_kiosk_that_disconnects_mid_body_is_one_line_in_the_log(server, caplog):
    caplog.set_level(logging.INFO)
    body = b'{"kiosk_id": "K1", "sent_at": "2026-11-01T00:00:00+07:00", "ratings": [' + b" " * 300
    head = (f"POST {protocol.PATH_BATCH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.kiosk['token']}\r\n"
            f"Idempotency-Key: {uuid.uuid4()}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head.encode() + body)           # half a body (a third of a percent of it), then gone
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("disconnected" in r.getMessage() for r in caplog.records):
        time.sleep(0.05)
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    gone = [r for r in said if "disconnected" in r.getMessage()]
    assert len(gone) == 1, [r.getMessage() for r in said]
    assert "K1" in gone[0].getMessage() and "\n" not in gone[0].getMessage()
    assert not [r for r in said if r.exc_info or "Traceback" in r.getMessage() or "Exception in ASGI" in r.getMessage()]
    assert "Traceback" not in caplog.text and "ClientDisconnect" not in caplog.text
    # and the server goes on answering, the kiosk's next try included
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    r = requests.post(server.url + protocol.PATH_BATCH, timeout=10, json={
        "kiosk_id": "K1", "sent_at": "2026-11-01T00:00:00+07:00", "ratings": []},
        headers={"Authorization": f"Bearer {server.kiosk['token']}", "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code in (200, 422), r.text


def test_a_bug_is_a_page_for_people_and_json_for_the_api(town_db, tmp_path):
    from starlette.testclient import TestClient

    from sync.server.app import create_app
    app = create_app(str(town_db), media_dir=tmp_path / "media")

    @app.get("/admin/boom")
    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("a bug")
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/admin/boom", headers={"Accept": "text/html"})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Lỗi máy chủ" in page.text and "a bug" not in page.text and '<a href="/admin">' in page.text
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.json() == {"detail": "internal server error"}
    app.state.engine.dispose()
