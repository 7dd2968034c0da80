"""People are told: a real ``hailong server --smtp`` mails a real SMTP server (aiosmtpd on 127.0.0.1) and
POSTs a real HTTP receiver when a nhũng nhiễu rating arrives over the sync API.

Who gets the mail (the unit's user, an every-unit user; not another unit's user, not a user without an
address), what it says (the officer's name, a link, the citizen's comment cut to 200 characters), that it
is one mail per new group or case however many causes or server processes, that a down SMTP server is
retried with backoff, shown on the kiosks page with its error and delivered once it is back, and that the
SMTP password is never shown.
"""
from __future__ import annotations

import json
import os
import re
import dbtools
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from helpers import ROOT, free_port, start_server, stop, wait_until
from town import csrf_of, session_for

from sync import protocol

ROSTER = {
    "units": [{"code": "13321", "name": "UBND xã Đồng Tâm"}, {"code": "99999", "name": "UBND phường Khác"}],
    "desks": [{"id": "quay-1", "unit_code": "13321", "name": "Quầy số 1 — Tư pháp, Hộ tịch"},
              {"id": "quay-9", "unit_code": "99999", "name": "Quầy số 9"}],
    "officers": [{"id": "cb-002", "name": "Trần Văn Đức", "desk_id": "quay-1"},
                 {"id": "cb-004", "name": "Phạm Quốc Hưng", "desk_id": "quay-1"},
                 {"id": "cb-009", "name": "Đỗ Thị Chín", "desk_id": "quay-9"}],
    "procedures": [{"code": "P1", "name": "Đăng ký khai sinh"}],
}
PASSWORD = "mật khẩu dài\n"


def admin(db, *args, stdin=None, ok=True, lang="vi"):
    env = {**os.environ, "LANGUAGE": lang, "LC_ALL": "C.UTF-8"}
    done = subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(db), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


class Inbox:
    """An aiosmtpd handler keeping every message it receives (and the AUTH it was given)."""

    def __init__(self):
        self.messages, self.logins = [], []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def auth(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    def to(self, address):
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]


def smtp_server(inbox, port, login=False):
    kw = {"authenticator": inbox.auth, "auth_require_tls": False} if login else {}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    return controller


class Receiver:
    """A real HTTP server on 127.0.0.1 keeping the JSON POSTed to it."""

    def __init__(self):
        self.bodies = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.bodies.append((self.path, self.headers.get("Content-Type"), json.loads(data)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def make_town(town_db, tmp_path) -> dict:
    """A town.db as the admin commands leave it (in-process, the same core functions): two units, a
    kiosk, users of one unit, of every unit, of another unit, and one without an address."""
    from sync.server.core import admin_ops
    from sync.server.core.db import make_engine, migrate
    db = town_db
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps(ROSTER, ensure_ascii=False), "utf-8")
    engine = make_engine(str(db))
    migrate(engine)
    with engine.begin() as conn:
        admin_ops.import_roster(conn, roster, tmp_path / "media")
        kiosk = admin_ops.enrol_kiosk(conn, "DT-MC-01", "13321", require_unit=True)
        for user, role, email, unit in (("lan", "admin", "lan@dongtam.vn", "13321"),
                                        ("tinh", "viewer", "tinh@tinh.gov.vn", None),      # every unit
                                        ("minh", "viewer", "minh@khac.vn", "99999"),       # another unit
                                        ("an", "admin", None, None)):                      # no address
            admin_ops.create_user(conn, user, role, PASSWORD.strip(), email=email, unit_code=unit)
    engine.dispose()
    return {"db": db, "kiosk": kiosk, "tmp": tmp_path}


@pytest.fixture
def town(town_db, tmp_path):
    return make_town(town_db, tmp_path)


def serve(town, *extra):
    port = free_port()
    log = town["tmp"] / f"server-{port}.log"
    proc = start_server(town["db"], port, "--public-url", f"http://hailong.dongtam.vn:{port}", *extra, log=log)
    return proc, f"http://127.0.0.1:{port}", log


class Kiosk:
    """Seals and sends ratings as a kiosk does (real HTTP, real signatures)."""

    def __init__(self, town, url):
        self.id, self.key, self.url = town["kiosk"]["kiosk_id"], town["kiosk"]["key"], url
        self.headers = {"Authorization": f"Bearer {town['kiosk']['token']}"}
        self.seq, self.prev = 0, protocol.ZERO_HASH

    def send(self, *ratings: dict) -> None:
        records = []
        for fields in ratings:
            self.seq += 1
            rec = protocol.seal({
                "id": str(uuid.uuid4()), "kiosk_id": self.id, "seq": self.seq,
                "created_at": datetime.now(timezone.utc).astimezone(
                    protocol.tz_from_offset("+07:00")).isoformat(timespec="seconds"),
                "unit_code": "13321", "desk_id": "quay-1", "officer_id": fields.get("officer", "cb-002"),
                "dossier_code": None, "procedure_code": None, "receipt_id": None,
                "level": fields.get("level", 1), "reasons": fields.get("reasons", []),
                "comment": fields.get("comment"), "source": "walk_up", "flags": [],
            }, self.prev, self.key)
            self.prev = rec["hash"]
            records.append(rec)
        body = {"kiosk_id": self.id, "sent_at": datetime.now(timezone.utc).isoformat(), "ratings": records}
        resp = requests.post(self.url + protocol.PATH_BATCH, json=body, timeout=30,
                             headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())})
        assert resp.status_code == 200, resp.text
        assert all(r["status"] == "accepted" for r in resp.json()["results"]), resp.text


def signed_in(url, username="lan"):
    return session_for(SimpleNamespace(url=url), username, PASSWORD.strip())


def set_webhook(session, url, unit, hook):
    page = session.get(url + "/admin/kiosks", timeout=10)
    resp = session.post(url + "/admin/kiosks/webhooks", data={"csrf": csrf_of(page.text), f"webhook:{unit}": hook},
                        timeout=10)
    return resp


COMMENT = ("Cán bộ đòi tiền bồi dưỡng mới nhận hồ sơ. " * 20)[:500]    # 500 characters


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_a_harassment_rating_mails_its_units_users_and_posts_the_units_webhook(town):
    inbox, receiver = Inbox(), Receiver()
    smtp_port = free_port()
    controller = smtp_server(inbox, smtp_port)
    proc, url, log = serve(town, "--smtp", f"smtp://127.0.0.1:{smtp_port}")
    try:
        s = signed_in(url)
        bad = set_webhook(s, url, "13321", "ftp://not-a-web-address")
        assert bad.status_code == 422 and "http:// hoặc https://" in bad.text
        assert 'value="ftp://not-a-web-address"' in bad.text                       # kept as typed
        assert set_webhook(s, url, "13321", receiver.url + "/relay/zalo").status_code == 200

        kiosk = Kiosk(town, url)
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "comment": COMMENT})
        mails = wait_until(lambda: inbox.to("lan@dongtam.vn"), timeout=60, what="the unit's user's mail")
        wait_until(lambda: inbox.to("tinh@tinh.gov.vn"), timeout=30, what="the every-unit user's mail")
        hook = wait_until(lambda: receiver.bodies, timeout=30, what="the webhook's POST")

        assert len(mails) == 1
        msg = mails[0]
        body = text_of(msg)
        assert "Trần Văn Đức" in msg["Subject"] and msg["Subject"].startswith("[Hài lòng]")
        assert "nhũng nhiễu" in msg["Subject"].lower()
        assert "Trần Văn Đức" in body and "Quầy số 1" in body and "UBND xã Đồng Tâm" in body
        assert COMMENT[:180] in body                    # the comment's first 200 characters...
        assert COMMENT not in body and COMMENT[:201] not in body     # ...and never more
        link = re.search(r"http://hailong\.dongtam\.vn:\d+/admin/(cases/\d+|alerts\?\S+)", body)
        assert link, body                               # the link is built from --public-url
        assert msg.get_body(preferencelist=("html",)) is not None      # an HTML alternative too
        assert msg["To"] == "lan@dongtam.vn"

        path, ctype, payload = hook[0]
        assert path == "/relay/zalo" and ctype.startswith("application/json")
        assert payload["event"] in ("case_opened", "alert") and payload["unit"] == "13321"
        assert payload["url"] == link.group(0)
        item = payload.get("case") or payload["alert"]
        assert item["officer"] == "Trần Văn Đức" and item["officer_id"] == "cb-002"
        assert COMMENT not in json.dumps(payload, ensure_ascii=False)

        # a second harassment of the same officer this month adds to the group: no second mail; a new
        # group (another officer) is one more mail, and once it is here the first one was surely seen
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Lần nữa"})
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "officer": "cb-004"})
        wait_until(lambda: any("Phạm Quốc Hưng" in m["Subject"] for m in inbox.to("lan@dongtam.vn")), timeout=60,
                   what="the second officer's mail")
        wait_until(lambda: len(receiver.bodies) >= 2, timeout=30, what="the second webhook POST")
        assert [m["Subject"] for m in inbox.to("lan@dongtam.vn")].count(msg["Subject"]) == 1
        assert len(inbox.to("lan@dongtam.vn")) == 2 and len(inbox.to("tinh@tinh.gov.vn")) == 2
        assert inbox.to("minh@khac.vn") == []           # another unit's user is not told
        assert all(rcpt != [] for rcpt, _m in inbox.messages) and len(inbox.messages) == 4   # `an`: no address

        # (the sender records what it delivered right after delivering it)
        page = wait_until(lambda: (lambda p: p if "Đã gửi trong 24 giờ qua: 6" in p else None)(
            s.get(url + "/admin/kiosks", timeout=10).text), timeout=30, what="six sent on the kiosks page")
        assert "Đang chờ gửi: 0" in page
        (town["tmp"] / "mail.eml").write_bytes(msg.as_bytes())       # looked at in the report
    finally:
        stop(proc)
        controller.stop()
        receiver.close()


def test_smtp_down_is_retried_with_backoff_shown_on_the_kiosks_page_and_delivered_when_back(town):
    inbox = Inbox()
    smtp_port = free_port()          # nobody listens there yet
    proc, url, log = serve(town, "--smtp", f"smtp://thu.dongtam:Bi-Mat-42@127.0.0.1:{smtp_port}",
                           "--notify-retry-seconds", "0.5")
    controller = None
    try:
        s = signed_in(url)
        Kiosk(town, url).send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Đòi tiền"})
        db = dbtools.connect(town["db"])

        def failed_twice():
            return db.execute("SELECT attempts, last_error, next_try_at, created_at FROM notifications WHERE "
                              "channel='email' AND target='lan@dongtam.vn' AND sent_at IS NULL AND attempts >= 2"
                              ).fetchone()
        attempts, error, next_try, created = wait_until(failed_twice, timeout=60, what="two failed tries")
        assert "Connection refused" in error or "ConnectionRefused" in error
        assert next_try > created                        # waits before the next try
        page = s.get(url + "/admin/kiosks", timeout=10).text
        assert "Gửi lỗi" in page and "lan@dongtam.vn" in page and "Connection refused" in page
        assert "Lần thử tiếp" in page
        assert "smtp://thu.dongtam:***@127.0.0.1" in page
        controller = smtp_server(inbox, smtp_port, login=True)
        wait_until(lambda: inbox.to("lan@dongtam.vn"), timeout=60, what="the mail once SMTP is back")
        assert inbox.logins and inbox.logins[0] == ("thu.dongtam", "Bi-Mat-42")
        page = wait_until(lambda: (lambda p: p if "Gửi lỗi (đang thử lại hoặc đã dừng): 0" in p else None)(
            s.get(url + "/admin/kiosks", timeout=10).text), timeout=30, what="no failed row left on the page")
        assert "Bi-Mat-42" not in page
        assert len(inbox.to("lan@dongtam.vn")) == 1
        db.close()
    finally:
        stop(proc)
        if controller:
            controller.stop()
    assert "Bi-Mat-42" not in log.read_text("utf-8", "replace")        # not in the server's log either
    assert "smtp://thu.dongtam:***@127.0.0.1" in log.read_text("utf-8", "replace")


def test_two_server_processes_send_each_message_once(town):
    inbox = Inbox()
    smtp_port = free_port()
    controller = smtp_server(inbox, smtp_port)
    one, url1, _l1 = serve(town, "--smtp", f"smtp://127.0.0.1:{smtp_port}", "--notify-seconds", "0.2")
    two, url2, _l2 = serve(town, "--smtp", f"smtp://127.0.0.1:{smtp_port}", "--notify-seconds", "0.2")
    try:
        kiosk = Kiosk(town, url1)
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Đòi tiền"})
        wait_until(lambda: inbox.to("lan@dongtam.vn"), timeout=60, what="the first mail")
        kiosk.url = url2                                   # the next batch reaches the other process
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "officer": "cb-004"})
        wait_until(lambda: len(inbox.to("lan@dongtam.vn")) >= 2, timeout=60, what="the second mail")
        # both processes scan every 0.2 s; wait until each has had several rounds after the mails
        db = dbtools.connect(town["db"])
        sent = lambda: db.execute("SELECT COUNT(*) FROM notifications WHERE sent_at IS NOT NULL").fetchone()[0]  # noqa
        wait_until(lambda: sent() == 4, timeout=30, what="four rows sent")
        for url in (url1, url2):       # each process answers: its sender has gone round since
            assert requests.get(url + "/healthz", timeout=10).ok
        subjects = [m["Subject"] for m in inbox.to("lan@dongtam.vn")]
        assert len(subjects) == 2 and len(set(subjects)) == 2, subjects
        assert len(inbox.to("tinh@tinh.gov.vn")) == 2
        db.close()
    finally:
        stop(one)
        stop(two)
        controller.stop()


def test_without_smtp_no_mail_is_queued_and_the_page_says_so_the_webhook_still_goes(town):
    receiver = Receiver()
    proc, url, _log = serve(town)
    try:
        s = signed_in(url)
        assert set_webhook(s, url, "13321", receiver.url + "/hook").status_code == 200
        Kiosk(town, url).send({"level": 1, "reasons": ["nhung_nhieu"]})
        wait_until(lambda: receiver.bodies, timeout=60, what="the webhook POST")
        db = dbtools.connect(town["db"])
        assert db.execute("SELECT COUNT(*) FROM notifications WHERE channel='email'").fetchone()[0] == 0
        db.close()
        page = s.get(url + "/admin/kiosks", timeout=10).text
        assert "Không gửi thư báo" in page and "--smtp" in page
        viewer = signed_in(url, "tinh").get(url + "/admin/kiosks", timeout=10).text
        assert "/hook" not in viewer and 'action="/admin/kiosks/webhooks"' not in viewer   # admins only
        forged = viewer_post = signed_in(url, "tinh")
        page = forged.get(url + "/admin/kiosks", timeout=10)
        resp = viewer_post.post(url + "/admin/kiosks/webhooks", data={"csrf": csrf_of(page.text),
                                                                      "webhook:13321": "http://evil"}, timeout=10)
        assert resp.status_code == 403
    finally:
        stop(proc)
        receiver.close()


def test_create_user_refuses_a_bad_address_and_an_unknown_unit(town):
    done = admin(town["db"], "create-user", "--username", "x", "--role", "viewer", "--password-stdin",
                 "--email", "bad", stdin=PASSWORD, ok=False)
    assert done.returncode == 1 and "Địa chỉ e-mail không hợp lệ" in done.stderr and "'bad'" in done.stderr
    assert "Traceback" not in done.stderr
    done = admin(town["db"], "create-user", "--username", "x", "--role", "viewer", "--password-stdin",
                 "--email", "bad", stdin=PASSWORD, ok=False, lang="en")
    assert done.returncode == 1 and "not an address like name@example.vn" in done.stderr
    done = admin(town["db"], "create-user", "--username", "x", "--role", "viewer", "--password-stdin",
                 "--unit", "00000", stdin=PASSWORD, ok=False)
    assert done.returncode == 2 and "00000" in done.stderr
    db = dbtools.connect(town["db"])
    assert db.execute("SELECT COUNT(*) FROM users WHERE username='x'").fetchone()[0] == 0
    admin(town["db"], "set-user-email", "--username", "an", "--email", "an@dongtam.vn")
    assert db.execute("SELECT email, unit_code FROM users WHERE username='an'").fetchone() == ("an@dongtam.vn", None)
    done = admin(town["db"], "set-user-email", "--username", "an", "--email", "an@", ok=False)
    assert done.returncode == 1 and "Địa chỉ e-mail không hợp lệ" in done.stderr
    db.close()


def test_a_closed_case_that_a_new_harassment_reopens_is_told_again(town):
    """core/cases reopens a closed case of the same officer and month: the unit hears of it, once."""
    inbox = Inbox()
    smtp_port = free_port()
    controller = smtp_server(inbox, smtp_port)
    proc, url, _log = serve(town, "--smtp", f"smtp://127.0.0.1:{smtp_port}")
    try:
        kiosk = Kiosk(town, url)
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Đòi tiền lần một"})
        first = wait_until(lambda: inbox.to("lan@dongtam.vn"), timeout=60, what="the case's mail")[0]
        case_id = re.search(r"/admin/cases/(\d+)", text_of(first))[1]
        admin(town["db"], "case-action", "--case", case_id, "--action", "nhac_nho", "--by", "lan")
        admin(town["db"], "close-case", "--case", case_id, "--cause", "Cán bộ gợi ý bồi dưỡng",
              "--outcome", "Đã nhắc nhở, cán bộ cam kết", "--by", "lan")
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Đòi tiền lần hai"})
        again = wait_until(lambda: [m for m in inbox.to("lan@dongtam.vn") if "mở lại" in m["Subject"]], timeout=60,
                           what="the reopened case's mail")
        msg = again[0]
        assert msg["Subject"] == f"[Hài lòng] Vụ việc số {case_id} mở lại: phản ánh nhũng nhiễu — Trần Văn Đức"
        body = text_of(msg)
        assert "được mở lại (lần 1)" in body and "Đòi tiền lần hai" in body
        assert f"/admin/cases/{case_id}" in body
        assert len(inbox.to("lan@dongtam.vn")) == 2
    finally:
        stop(proc)
        controller.stop()


def test_the_server_refuses_an_smtp_address_it_cannot_use(town):
    done = subprocess.run([sys.executable, "-m", "hailong", "server", "--db", str(town["db"]), "--port",
                           str(free_port()), "--smtp", "http://mail.tinh.vn"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, "LANGUAGE": "vi"})
    assert done.returncode != 0 and "--smtp: cần dạng smtp://" in done.stderr and "Traceback" not in done.stderr
