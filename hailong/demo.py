"""``hailong demo``: a town server, two kiosk windows and their sync agents on one machine.

Everything lives in ./demo-data (git-ignored): town.db with a demo admin,
two enrolled kiosks and the demo roster; the kiosks' config.toml and
kiosk.db, with a year of history. Nothing to configure: it goes through the
same public commands an installer would use (``hailong admin``, ``hailong
server``, ``hailong sync``, ``hailong kiosk``).

Two desks, two surveys (issue 12): this month quay-1 runs the Front's
campaign (hailong/demo_history.py ``demo_campaign``, added with ``hailong
admin add-survey``), quay-2 keeps the one-tap ``hl3``. quay-1's kiosk is the
big window (1280×800, top left), quay-2's a smaller one (1024×640) right of it
(``hailong kiosk`` in its own process); ``--one-kiosk`` runs quay-2's agent only.
The demo asks the server what each desk's kiosk is sent and prints which
survey each desk asks.

Paper and scanner without devices: the kiosk's printer is a folder
(``[printer] save_dir = "prints"``: each receipt or letter printed from the
staff panel lands in demo-data/prints/ as a PNG, its QR text beside it as
``.qr.txt``, and the path is written on the console), and its serial scanner
is a pty fed from the named pipe demo-data/scan: a line written there (a
receipt's QR text, its ``.qr.txt`` file or its PNG) reaches the kiosk exactly
as a scanner's code does, through the real serial scanner path.
"""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import click

from kiosk.roster import DEMO_ROSTER
from sync.cli_i18n import _
from sync.filemodes import private_dir, write_private
from sync.protocol import BUILTIN_SURVEYS

DEMO_ADMIN = ("admin", "hailong-demo")
#: the demo admin's address: the demo's mail catcher keeps what is sent to it
DEMO_EMAIL = "quantri@dongtam.example.vn"
#: kiosk id -> desk; the first is the big window (in this process), the second a smaller one beside it.
KIOSKS = {"DT-MC-01": "quay-1", "DT-MC-02": "quay-2"}
#: where each kiosk's window goes (left, top, width, height): quay-2's smaller, right of quay-1's
WINDOWS = {"DT-MC-01": (0, 0, 1280, 800), "DT-MC-02": (1280, 0, 1024, 640)}


def free_port(preferred: int = 8080) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def run_cli(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "hailong", *args], input=stdin,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise click.ClickException(f"hailong {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def wait_for(url: str, timeout: float = 30) -> None:
    import requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the demo server did not answer at {url}")


def kiosk_config(folder: Path, kiosk_id: str, desk: str, enrolment: dict, port: int) -> Path:
    path = folder / ("config.toml" if desk == "quay-1" else f"config-{kiosk_id}.toml")
    write_private(path, f"""# written by `hailong demo`
[kiosk]
id = "{kiosk_id}"
unit_code = "13321"
desk_id = "{desk}"
db = "{'kiosk.db' if desk == 'quay-1' else f'kiosk-{kiosk_id}.db'}"

[server]
url = "http://127.0.0.1:{port}"
token = "{enrolment['token']}"
key = "{enrolment['key']}"
interval = 2
heartbeat_interval = 10

[printer]
save_dir = "prints"        # the demo's printer: each page as a PNG in demo-data/prints/

[ui]
fullscreen = false
show_cursor = true
staff_pin = "1234"
width = {WINDOWS[kiosk_id][2]}
height = {WINDOWS[kiosk_id][3]}
""")   # holds the kiosk's token and key: 0600
    return path


def window_env(kiosk_id: str) -> dict[str, str]:
    """Kivy's window position for ``kiosk_id`` (KCFG_* overrides the graphics section), so the two sit side by side."""
    left, top, _w, _h = WINDOWS[kiosk_id]
    return {"KCFG_GRAPHICS_POSITION": "custom", "KCFG_GRAPHICS_LEFT": str(left), "KCFG_GRAPHICS_TOP": str(top)}


def add_campaign(folder: Path, town: Path) -> dict:
    """This month's Front campaign at quay-1, added with ``hailong admin add-survey`` (once: a survey never changes)."""
    from hailong.demo_history import demo_campaign
    from kiosk.store import now_local
    campaign = demo_campaign(now_local().date())
    path = folder / f"{campaign['id']}.json"
    write_private(path, json.dumps(campaign, ensure_ascii=False, indent=1))
    try:
        run_cli("admin", "--db", str(town), "add-survey", str(path))
    except click.ClickException as exc:   # a demo folder whose campaign of this month was written otherwise
        click.echo(str(exc.message), err=True)
    return campaign


def surveys_asked(base: str, enrolments: dict) -> dict[str, dict | None]:
    """Kiosk id -> the survey its desk asks today, from the config the server sends that kiosk (sync.protocol's rule)."""
    import requests

    from kiosk.store import now_local
    from sync import protocol
    out = {}
    for kid, desk in KIOSKS.items():
        resp = requests.get(base + protocol.PATH_CONFIG.format(kiosk_id=kid), timeout=10,
                            headers={"Authorization": f"Bearer {enrolments[kid]['token']}"})
        config = resp.json() if resp.status_code == 200 else {}
        out[kid] = protocol.survey_to_ask(config.get("surveys", []), config.get("default_survey"),
                                          "13321", desk, now_local().date())
    return out


def qr_text_of(line: str) -> str:
    """What a line written to the scan pipe stands for: a receipt's PNG, its .qr.txt, or the QR text itself."""
    line = line.strip()
    path = Path(line)
    if line.endswith(".qr.txt") and path.is_file():
        return path.read_text("ascii").strip()
    if line.lower().endswith(".png") and path.is_file():
        try:
            import zxingcpp
            from PIL import Image
            found = zxingcpp.read_barcodes(Image.open(path))
        except Exception as exc:          # zxing-cpp missing or an unreadable file: say so, go on
            click.echo(_("hailong demo: không đọc được mã QR trong {path}: {exc}", path=path, exc=exc), err=True)
            return ""
        return found[0].text if found else ""
    return line


class DemoScanner:
    """A pty the kiosk opens as its serial scanner, fed line by line from the named pipe ``fifo``."""

    def __init__(self, fifo: Path):
        self.fifo = fifo
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        if fifo.exists() or fifo.is_symlink():
            fifo.unlink()
        os.mkfifo(fifo, 0o600)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-scan-pipe", daemon=True)

    def start(self) -> "DemoScanner":
        self._thread.start()
        return self

    def _run(self) -> None:
        reader = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        keep = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)   # no EOF when a writer closes
        buf = b""
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([reader], [], [], 0.3)
                if not ready:
                    continue
                buf += os.read(reader, 65536)
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = qr_text_of(line.decode("utf-8", "replace"))
                    if text:
                        os.write(self.master, text.encode("utf-8") + b"\r\n")
        finally:
            os.close(reader)
            os.close(keep)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.fifo.exists():
            self.fifo.unlink()


class MailCatcher:
    """The demo's SMTP server: aiosmtpd on 127.0.0.1, each mail it receives written as a .eml file into
    ``folder`` (what ``hailong server --smtp`` sends, as the admin's mail program would receive it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.count += 1
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.count:04d}.eml"
        part = self.folder / (name + ".part")          # a reader never sees half a mail
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(envelope.original_content or envelope.content)
        os.replace(part, self.folder / name)
        return "250 OK"

    def start(self) -> "MailCatcher":
        from aiosmtpd.controller import Controller
        private_dir(self.folder)     # the mails quote citizens' comments (their first 200 characters)
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port(8025))
        self.controller.start()
        return self

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


def prepare(folder: Path, port: int) -> dict[str, Path]:
    """Create (once) town.db, the enrolments and the kiosks' history; return each kiosk's config."""
    from hailong.demo_history import fill
    from kiosk.config import load
    from kiosk.store import KioskStore

    private_dir(folder)   # 0700 when created here: town.db, kiosk.db, tokens and keys live in it
    town = folder / "town.db"
    enrolments_file = folder / "enrolments.json"
    fresh = not enrolments_file.exists()
    if fresh:
        click.echo(_("Đang chuẩn bị máy chủ thị trấn mẫu (danh sách cán bộ, quản trị viên, ki-ốt)…"))
        run_cli("admin", "--db", str(town), "import-roster", str(DEMO_ROSTER))
        run_cli("admin", "--db", str(town), "set-receipt-key")
        run_cli("admin", "--db", str(town), "create-user", "--username", DEMO_ADMIN[0], "--role", "admin",
                "--password-stdin", "--email", DEMO_EMAIL, stdin=DEMO_ADMIN[1] + "\n")
        enrolments = {kid: json.loads(run_cli("admin", "--db", str(town), "enrol-kiosk", "--kiosk-id", kid,
                                              "--unit", "13321", "--json")) for kid in KIOSKS}
        write_private(enrolments_file, json.dumps(enrolments))
    else:      # a demo folder made before the admin had an address
        run_cli("admin", "--db", str(town), "set-user-email", "--username", DEMO_ADMIN[0], "--email", DEMO_EMAIL)
    campaign = add_campaign(folder, town)
    # the phone page (issue 15): the demo unit's receipts hold http://127.0.0.1:<port>/r/…, the demo
    # server's own page (set on each start: the port may differ from the last run's)
    run_cli("admin", "--db", str(town), "set-public-url", "--unit", "13321", "--url", f"http://127.0.0.1:{port}")
    enrolments = json.loads(enrolments_file.read_text("utf-8"))
    configs = {kid: kiosk_config(folder, kid, desk, enrolments[kid], port) for kid, desk in KIOSKS.items()}
    if fresh:
        click.echo(_("Đang ghi một năm đánh giá mẫu vào các ki-ốt…"))
        for kid, desk in KIOSKS.items():
            cfg = load(configs[kid])
            store = KioskStore(cfg.db_path, kid, cfg.kiosk_key, cfg.kiosk["utc_offset"])
            store.init()
            # the surveys the server sends this kiosk (its agent keeps them so), so its campaign days seal on it
            store.set_meta("server_surveys", json.dumps([BUILTIN_SURVEYS["hl3"], campaign], ensure_ascii=False))
            store.set_meta("server_default_survey", json.dumps("hl3"))
            fill(store, desk, campaign=campaign)
            store.close()
    return configs


def say_surveys(asked: dict[str, dict | None]) -> None:
    """One line per desk: the survey its kiosk asks today, and who runs it."""
    for kid, desk in KIOSKS.items():
        sv = asked.get(kid)
        if sv is None:
            click.echo(_("Khảo sát:  {desk} ({kiosk}) chưa nhận được khảo sát từ máy chủ", desk=desk, kiosk=kid))
            continue
        title = (sv.get("title") or {}).get(_.language) or (sv.get("title") or {}).get("vi") or sv["id"]
        if sv.get("from") or sv.get("to"):
            click.echo(_("Khảo sát:  {desk} ({kiosk}) hỏi đợt khảo sát {id} «{title}» của {by}, "
                         "từ {start} đến {end}, {n} câu hỏi thêm",
                         desk=desk, kiosk=kid, id=sv["id"], title=title, by=sv.get("by", ""),
                         start=sv.get("from") or "…", end=sv.get("to") or "…", n=len(sv.get("questions") or [])))
        else:
            click.echo(_("Khảo sát:  {desk} ({kiosk}) hỏi khảo sát {id} «{title}» (một lần chạm)",
                         desk=desk, kiosk=kid, id=sv["id"], title=title))


@click.command(help=_("Máy chủ thị trấn + ki-ốt + tác tử đồng bộ trên dữ liệu mẫu, không cần cấu hình gì."))
@click.option("--dir", "folder", default="demo-data", show_default=True, type=click.Path(file_okay=False),
              help=_("thư mục chứa cơ sở dữ liệu và cấu hình của bản chạy thử"))
@click.option("--port", default=8080, show_default=True, help=_("cổng của máy chủ thị trấn (dùng cổng khác nếu cổng này đã bận)"))
@click.option("--one-kiosk", is_flag=True,
              help=_("chỉ mở cửa sổ ki-ốt quầy 1; ki-ốt quầy 2 chỉ đồng bộ lịch sử của nó"))
def demo(folder, port, one_kiosk):
    folder = Path(folder).resolve()
    port = free_port(port)
    configs = prepare(folder, port)
    enrolments = json.loads((folder / "enrolments.json").read_text("utf-8"))
    mail = MailCatcher(folder / "mail").start()
    server = subprocess.Popen([sys.executable, "-m", "hailong", "server", "--db", str(folder / "town.db"),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               "--smtp", mail.url])
    second = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/openapi.json")
        for kid, config in configs.items():
            if kid != "DT-MC-01":  # the window's own agent syncs DT-MC-01
                run_cli("sync", "--config", str(config), "--once", "--no-progress")
        if not one_kiosk:    # quay-2's kiosk: `hailong kiosk` in a process of its own, its window beside quay-1's
            second = subprocess.Popen([sys.executable, "-m", "hailong", "kiosk", "--config", str(configs["DT-MC-02"])],
                                      env={**os.environ, "KIVY_NO_ARGS": "1", **window_env("DT-MC-02")})
        click.echo("\n" + _("Máy chủ:   {url}/   (đăng nhập: {user} / {password})", url=base, user=DEMO_ADMIN[0], password=DEMO_ADMIN[1]))
        click.echo(_("Cấu hình ki-ốt: {path}", path=configs["DT-MC-01"]))
        say_surveys(surveys_asked(base, enrolments))
        click.echo(_("           Viết một đợt khảo sát mới ở {url}/admin/surveys/new: ki-ốt đang chạy hỏi nó "
                     "trong vòng một phút, không cần khởi động lại.", url=base))
        click.echo(_("Thư báo:   thư gửi tới {email} (vụ việc, cảnh báo mới, tổng hợp quá hạn) được lưu trong "
                     "{path}/, mỗi thư một tệp .eml (mở bằng Thunderbird, Outlook hoặc trình soạn thảo)",
                     email=DEMO_EMAIL, path=mail.folder))
        click.echo(_("Ki-ốt:     cửa sổ sắp mở. Giữ đồng hồ (góc trên bên phải) 3 giây để hiện bàn phím PIN:"))
        click.echo(_("           1234 thoát chế độ ki-ốt; PIN của cán bộ (111111, 222222, 333333) mở bảng điều khiển cán bộ."))
        if second is not None:
            click.echo(_("           Cửa sổ nhỏ bên phải là ki-ốt quầy 2 (PIN cán bộ 444444, 555555)."))
        scanner = DemoScanner(folder / "scan").start()
        click.echo(_("Máy in:    phiếu và thư in từ bảng cán bộ được lưu trong {path}/", path=folder / "prints"))
        click.echo(_("Máy quét:  quét một phiếu bằng   cat {prints}/<phiếu>.qr.txt > {scan}", prints=folder / "prints", scan=folder / "scan"))
        click.echo(_("           (hoặc ghi đường dẫn ảnh PNG của phiếu, hay chính chuỗi QR, thành một dòng vào ống đó)"))
        click.echo(_("Điện thoại: mã QR của phiếu là địa chỉ {url}/r/… (trang đánh giá trên điện thoại): mở chuỗi "
                     "trong .qr.txt bằng trình duyệt để đánh giá như người dân", url=base) + "\n")
        os.environ.setdefault("KIVY_NO_ARGS", "1")
        os.environ.update(window_env("DT-MC-01"))
        from kiosk.commands import run_kiosk
        from kiosk.config import load
        cfg = load(configs["DT-MC-01"])
        cfg.scanner["port"] = scanner.port           # the pty the pipe feeds: a serial scanner to the kiosk
        try:
            run_kiosk(cfg, demo=True)
        finally:
            scanner.stop()
    finally:
        for proc in (second, server):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        mail.stop()
