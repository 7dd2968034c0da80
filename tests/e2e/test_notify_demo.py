"""`hailong demo` tells its admin by e-mail: the demo runs a local SMTP catcher, says on the console where
its mail is, and a nhũng nhiễu rating taken on the running kiosk becomes a case whose mail lands there as a
.eml file naming the officer and linking the case page."""
import subprocess
import sys
from email import message_from_bytes, policy

from helpers import ROOT, free_port, http_ok, wait_until
from test_demo import stop_demo

from kiosk.store import KioskStore


def mails(folder):
    out = []
    for path in sorted(folder.glob("*.eml")):
        out.append(message_from_bytes(path.read_bytes(), policy=policy.default))
    return out


def test_the_demo_mails_a_new_harassment_case_to_its_admin_as_an_eml_file(xvfb, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    log = log_path.open("w")
    demo = subprocess.Popen([sys.executable, "-m", "hailong", "demo", "--dir", str(tmp_path), "--port", str(port)],
                            cwd=ROOT, env={**xvfb, "LANGUAGE": "vi"}, stdout=log, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    inbox = tmp_path / "mail"
    try:
        wait_until(lambda: http_ok(base + "/openapi.json"), 90, what="the demo's town server", step=0.3)
        said = wait_until(lambda: (lambda t: t if "Thư báo:" in t else None)(log_path.read_text("utf-8")), 60,
                          what="the console line saying where the mail is", step=0.3)
        assert str(inbox) in said and "quantri@dongtam.example.vn" in said
        assert (inbox.stat().st_mode & 0o077) == 0           # the mails quote citizens: private

        # an officer the history never names in a harassment this month: a new case, a new mail
        cfg_text = (tmp_path / "config.toml").read_text("utf-8")
        key = cfg_text.split('key = "')[1].split('"')[0]
        store = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", key)
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-003", level=1, reasons=["nhung_nhieu"],
                     comment="Cán bộ gợi ý bồi dưỡng mới làm nhanh")
        store.close()

        def the_mail():
            return [m for m in mails(inbox) if "Lê Thị Ánh Tuyết" in (m["Subject"] or "")
                    and "Cán bộ gợi ý bồi dưỡng mới làm nhanh" in m.get_body(("plain",)).get_content()]
        found = wait_until(the_mail, 90, what="the harassment case's mail in demo-data/mail", step=0.5)
        msg = found[-1]
        body = msg.get_body(("plain",)).get_content()
        assert msg["To"] == "quantri@dongtam.example.vn" and msg["Subject"].startswith("[Hài lòng] Vụ việc số ")
        assert f"{base}/admin/cases/" in body
    except BaseException:
        print(log_path.read_text("utf-8")[-4000:])
        raise
    finally:
        stop_demo(demo)
