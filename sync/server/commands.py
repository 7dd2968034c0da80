"""``hailong server`` (serve the town server) and ``hailong admin`` (enrol, users, roster).

Help texts and messages are Vietnamese, English with ``LANG=en``
(sync/cli_i18n.py). ``hailong admin`` refuses a ``--db`` that does not
exist, naming it, except in the commands that start a town (``migrate``,
``import-roster``, ``enrol-kiosk``), which say that they created it;
``hailong server`` starts a new, empty town on a missing SQLite file and
says so on its first line. What a command names (a unit, kiosk, user, API
token, alert) must exist: a refusal names it and exits 2.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from sync.cli_i18n import _

DB_OPTION = click.option("--db", default="town.db", show_default=True,
                         help=_("tệp SQLite, hoặc địa chỉ cơ sở dữ liệu như postgresql+psycopg://…"))

#: core/admin_ops' messages are English (the API and the logs read them); the command line words
#: them in Vietnamese when it speaks Vietnamese: (pattern, Vietnamese, exit status). What does
#: not exist exits 2, like a usage error; other bad input 1.
CORE_MESSAGES = [
    (r"no user '(?P<name>.*)'(?: \(create-user first\))?",
     "Không có người dùng '{name}' (tạo bằng `hailong admin create-user`).", 2),
    (r"no kiosk '(?P<kiosk>.*)'", "Không có ki-ốt '{kiosk}' (xem các ki-ốt ở trang Ki-ốt).", 2),
    (r"no officer '(?P<officer>.*)'", "Không có cán bộ '{officer}' (xem trang Danh mục).", 2),
    (r"no alert (?P<id>.*)", "Không có cảnh báo số {id} (xem `hailong admin alerts`).", 2),
    (r"alert (?P<id>\S+) is already resolved", "Cảnh báo số {id} đã được xử lý rồi.", 1),
    (r"kiosk (?P<kiosk>\S+) is already enrolled .*",
     "Ki-ốt {kiosk} đã được đăng ký: thu hồi nó (revoke-kiosk) rồi đăng ký với một mã mới.", 1),
    (r"(?P<what>kiosk id|unit code|officer id): must be 1-64 letters, digits, '\.', '_' or '-', got (?P<got>.*)",
     "{what}: chỉ gồm 1–64 chữ cái không dấu, chữ số, '.', '_' hoặc '-' (nhận được {got}).", 1),
    (r"password: at least 8 characters", "Mật khẩu: ít nhất 8 ký tự.", 1),
    (r"password: at most 1024 characters", "Mật khẩu: nhiều nhất 1024 ký tự.", 1),
    (r"username: must be 1-100 characters", "Tên người dùng: từ 1 đến 100 ký tự.", 1),
    (r"role: must be one of (?P<roles>.*)", "Vai trò: một trong {roles}.", 1),
    (r"user (?P<name>.+) already exists", "Người dùng {name} đã có.", 1),
    (r"that is a kiosk token, not an API token: .*",
     "Đây là mã của một ki-ốt, không phải mã API: dùng revoke-kiosk --kiosk-id …", 2),
    (r"no such API token \(check it was copied whole\)", "Không có mã API này (kiểm tra đã chép đủ cả mã).", 2),
    (r"give either --token or --username", "Hãy cho --token T hoặc --username U (một trong hai).", 2),
    (r"receipt key: must be 64 hexadecimal digits", "Khóa phiếu: phải gồm 64 chữ số thập lục phân (0-9, a-f).", 1),
    (r"survey (?P<id>\S+): already defined with other content .*",
     "Khảo sát {id} đã có với nội dung khác (hãy đặt mã khác cho khảo sát mới).", 1),
    (r"survey (?P<id>\S+): a built-in survey's id", "Khảo sát {id}: mã của một khảo sát có sẵn.", 1),
    (r"(?P<path>.+): no such file", "{path}: không có tệp này.", 2),
    (r"e-mail: not an address like name@example.vn, got (?P<got>.*)",
     "Địa chỉ e-mail không hợp lệ (cần dạng ten@vidu.gov.vn), nhận được {got}.", 1),
    (r"no unit '(?P<unit>.*)'", "Không có đơn vị '{unit}' trong danh sách (xem trang Danh mục).", 2),
    # kiosk bundles (core/kiosk_bundle.py)
    (r"kiosk (?P<kiosk>\S+) is revoked: .*",
     "Ki-ốt {kiosk} đã bị thu hồi: hãy đăng ký nó với một mã mới trước khi làm tệp cài đặt.", 1),
    (r"unit (?P<unit>\S+) has no desks yet: .*",
     "Đơn vị {unit} chưa có quầy nào: hãy nhập danh sách trước (hailong admin import-roster).", 1),
    (r"unit (?P<unit>\S+) has (?P<n>\d+) desks: name the kiosk's desk \(--desk: (?P<desks>.*)\)",
     "Đơn vị {unit} có {n} quầy: hãy nêu quầy của ki-ốt (--desk: {desks}).", 2),
    (r"no desk '(?P<desk>.*)' in unit (?P<unit>\S+) \(its desks: (?P<desks>.*)\)",
     "Đơn vị {unit} không có quầy '{desk}' (các quầy: {desks}).", 2),
    (r"server URL: .*", "Địa chỉ máy chủ: địa chỉ ki-ốt dùng để đến máy chủ này, bắt đầu bằng http:// hoặc "
                        "https://, ví dụ https://hailong.xa-abc.gov.vn.", 2),
]
WHAT_VI = {"kiosk id": "Mã ki-ốt", "unit code": "Mã đơn vị", "officer id": "Mã cán bộ"}


def core_message(exc: Exception) -> tuple[str, int]:
    """(the message in the command line's language, exit status) of an AdminError."""
    from sync.server.core.admin_ops import NotFound, RosterError
    if isinstance(exc, RosterError):     # worded in the server's catalogue: say it in the CLI's language
        from sync.cli_i18n import Translator
        return exc.say(Translator(_.language, domain="hailong_server")), 2 if isinstance(exc, NotFound) else 1
    text = str(exc)
    for pattern, vietnamese, status in CORE_MESSAGES:
        m = re.fullmatch(pattern, text, re.S)
        if m:
            if _.language == "vi":
                fields = {k: WHAT_VI.get(v, v) for k, v in m.groupdict().items()}
                text = vietnamese.format(**fields)
            return text, status
    return text, 2 if isinstance(exc, NotFound) else 1


class Refused(click.ClickException):
    """Bad input, said in one line; ``exit_code`` 2 for what does not exist (like a usage error)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class NotFoundError(Refused):
    """What was named (a database, unit, kiosk, user, token, alert) does not exist: exit status 2."""

    def __init__(self, message: str):
        super().__init__(message, 2)


def _why(exc: Exception) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


class AdminGroup(click.Group):
    """Turns bad input and database errors into one clear line, never a traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import SQLAlchemyError

        from sync.server.core.admin_ops import AdminError
        try:
            return super().invoke(ctx)
        except AdminError as exc:
            message, status = core_message(exc)
            raise Refused(message, status) from None
        except SQLAlchemyError as exc:
            raise click.ClickException(_("lỗi cơ sở dữ liệu: {kind}: {why}",
                                         kind=exc.__class__.__name__, why=_why(exc))) from None


def shown(db: str) -> str:
    """The --db value as it may be printed: a URL's password hidden."""
    if "://" not in db:
        return db
    try:
        from sqlalchemy.engine import make_url
        return make_url(db).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot read is shown without its credentials
        return re.sub(r"//[^@/]*@", "//***@", db)


def sqlite_file(db: str) -> Path | None:
    """The file a --db names when it is SQLite (None for another database or :memory:)."""
    from sync.server.core.db import db_url
    url = db_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):])
    return None


def sqlite_tables(path: Path) -> set[str] | None:
    """The tables of an existing SQLite file, read without changing it (None: not readable as SQLite).

    Before town.db's engine opens it: that engine turns on WAL and makes the
    file private, which a mistyped --db (a kiosk.db, another program's file)
    must not undergo.
    """
    import sqlite3
    from urllib.parse import quote
    try:
        # immutable: no lock, no -wal/-shm made beside it (a WAL file's schema is in its main file
        # once checkpointed; a town never checkpointed reads as empty here, and is migrated as usual)
        con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
        try:
            return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error:
        return None     # not a database, a folder, unreadable: make_engine says so in its words


def not_a_town(path: Path) -> Refused | None:
    """A refusal when the SQLite file holds tables but not a town's (no Alembic version table)."""
    tables = sqlite_tables(path)
    if tables and "alembic_version" not in tables:
        return Refused(_("{path} không phải cơ sở dữ liệu của máy chủ thị trấn (nó có các bảng {tables}; "
                         "có phải kiosk.db?). Hãy kiểm tra --db; tệp không bị thay đổi.",
                         path=path, tables=_listed(sorted(tables))), 2)
    return None


def _empty_database(db: str) -> bool:
    """True when a database URL (PostgreSQL) answers and holds no town yet (no alembic_version table).

    A server cannot tell it failed to reach the database from this: that
    error is said when create_app opens it, in its own words.
    """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from sync.server.core.db import db_url
    try:
        engine = create_engine(db_url(db), poolclass=NullPool)
        try:
            return "alembic_version" not in inspect(engine).get_table_names()
        finally:
            engine.dispose()
    except (SQLAlchemyError, ImportError):
        return False


def _check_db(db: str, create: bool = False) -> bool:
    """Refuse a missing SQLite file (unless ``create``) and one that is not a town's; True when new."""
    path = sqlite_file(db)
    new = path is not None and not path.exists()
    if new and not create:
        raise NotFoundError(_(
            "Không có cơ sở dữ liệu {db} ({path}). Hãy kiểm tra --db (mặc định: town.db trong thư mục "
            "hiện tại); với một thị trấn mới, tạo nó trước: hailong admin --db {db} migrate",
            db=db, path=path))
    if path is not None and not new:
        refused = not_a_town(path)
        if refused is not None:
            raise refused
    return new


def _engine(db: str, create: bool = False):
    """The migrated engine of --db. A missing SQLite file is refused unless ``create`` (then said)."""
    from sqlalchemy.exc import SQLAlchemyError

    from sync.server.core.db import make_engine, migrate
    new = _check_db(db, create)
    try:
        engine = make_engine(db)
        migrate(engine)
    except ImportError as exc:
        raise click.ClickException(_(
            "{db}: không mở được cơ sở dữ liệu (thiếu thư viện {module}: cài nó, ví dụ "
            "pip install 'psycopg[binary]' cho PostgreSQL)",
            db=shown(db), module=getattr(exc, "name", None) or str(exc))) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(_("{db}: không mở được cơ sở dữ liệu ({why})",
                                     db=shown(db), why=_why(exc))) from None
    if new:
        click.echo(_("Đã tạo cơ sở dữ liệu mới {path}.", path=sqlite_file(db)), err=True)
    return engine


def _listed(values: list[str], most: int = 10) -> str:
    return ", ".join(values[:most]) + (", …" if len(values) > most else "")


@click.command(help=_("Chạy máy chủ thị trấn (API đồng bộ của ki-ốt, API và trang quản trị) cho đến khi dừng."))
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help=_("địa chỉ lắng nghe"))
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help=_("cổng lắng nghe"))
@click.option("--media", default=None,
              help=_("thư mục ảnh cán bộ [mặc định: media/ cạnh town.db]"))
@click.option("--max-batch", default=5000, show_default=True, type=click.IntRange(1, 100000),
              help=_("số lượt đánh giá nhiều nhất nhận trong một lô"))
@click.option("--max-body-mb", default=8.0, show_default=True, type=click.FloatRange(0.01),
              help=_("kích thước lớn nhất của một lô, sau khi giải nén (MB)"))
@click.option("--skew-threshold", default=600.0, show_default=True, type=click.FloatRange(0),
              help=_("số giây lệch đồng hồ ki-ốt trước khi báo cáo dùng giờ đã hiệu chỉnh (và báo cảnh báo)"))
@click.option("--sweep-seconds", default=60.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help=_("bao lâu tiến trình này tìm các ki-ốt im lặng một lần (và báo cảnh báo)"))
@click.option("--smtp", default=None, metavar="smtp://[USER:PASSWORD@]HOST:PORT",
              help=_("máy chủ thư gửi thư báo cảnh báo và vụ việc (STARTTLS khi máy chủ thư hỗ trợ); "
                     "bỏ trống: không gửi thư"))
@click.option("--public-url", default=None, metavar="URL",
              help=_("địa chỉ của máy chủ này trong các liên kết của thư báo [mặc định: http://HOST:PORT]"))
@click.option("--notify-seconds", default=60.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help=_("bao lâu tiến trình này xem lại hộp thư đi một lần (ngoài lúc có dữ liệu mới)"))
@click.option("--notify-retry-seconds", default=30.0, show_default=True, type=click.FloatRange(0.01, 3600),
              hidden=True, help=_("chờ bao lâu trước lần gửi lại đầu tiên (gấp đôi mỗi lần, nhiều nhất một giờ)"))
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help=_("mức ghi nhật ký"))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help=_("số tiến trình máy chủ dùng chung một cổng (chỉ với PostgreSQL)"))
def server(db, host, port, media, max_batch, max_body_mb, skew_threshold, sweep_seconds, smtp, public_url,
           notify_seconds, notify_retry_seconds, log_level, workers):
    # A missing SQLite file is a new town, started empty (the first start of an install); the
    # first line says so, so a mistyped --db is seen at once.
    import logging

    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from sync.server.app import create_app
    if not logging.getLogger().handlers:
        # the server's own lines (a database that others can read, or that went unhealthy) on stderr
        logging.basicConfig(level=getattr(logging, log_level.upper()),
                            format="%(asctime)s hailong server %(levelname)s: %(message)s")
    path = sqlite_file(db)
    if workers > 1 and path is not None:
        # SQLite has one writer: its lock lives in one process (app.py's write_lock)
        raise Refused(_("--workers {n}: nhiều tiến trình chỉ chạy được với PostgreSQL (--db postgresql://…); "
                        "với SQLite dùng --workers 1", n=workers))
    if path is not None and not path.exists():
        click.echo(_("Chưa có cơ sở dữ liệu {path}: tạo một thị trấn mới, trống. Nếu đây không phải "
                     "ý muốn, dừng máy chủ (Ctrl+C) và kiểm tra --db.", path=path), err=True)
    elif path is not None:
        refused = not_a_town(path)
        if refused is not None:
            raise refused
    elif _empty_database(db):
        click.echo(_("Cơ sở dữ liệu {db} chưa có bảng nào: tạo một thị trấn mới, trống. Nếu đây không phải "
                     "ý muốn, dừng máy chủ (Ctrl+C) và kiểm tra --db.", db=shown(db)), err=True)
    from sync.server.core import notify
    try:
        mailer = notify.parse_smtp(smtp) if smtp else None
    except notify.BadAddress:
        raise Refused(_("--smtp: cần dạng smtp://người_dùng:mật_khẩu@máy_chủ:587 (hoặc smtps://… cho TLS ngay "
                        "từ đầu)")) from None
    if public_url is not None:
        try:
            public_url = notify.valid_webhook(public_url).rstrip("/")
        except notify.BadAddress:
            raise Refused(_("--public-url: cần một địa chỉ http:// hoặc https://, ví dụ "
                            "http://192.168.1.10:8080")) from None
    else:
        import socket
        public_url = f"http://{host if host not in ('0.0.0.0', '::', '') else socket.getfqdn()}:{port}"
    try:
        app = create_app(db, media_dir=media, max_batch=max_batch,
                         max_body_bytes=int(max_body_mb * 1024 * 1024), skew_threshold=skew_threshold,
                         sweep_seconds=sweep_seconds, smtp=mailer, public_url=public_url,
                         notify_seconds=notify_seconds, notify_retry_seconds=notify_retry_seconds)
    except ImportError as exc:
        raise click.ClickException(_(
            "{db}: không mở được cơ sở dữ liệu (thiếu thư viện {module}: cài nó, ví dụ "
            "pip install 'psycopg[binary]' cho PostgreSQL)",
            db=shown(db), module=getattr(exc, "name", None) or str(exc))) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(_("{db}: không mở được cơ sở dữ liệu ({why})",
                                     db=shown(db), why=_why(exc))) from None
    click.echo(_("hailong server: {db} tại http://{host}:{port} (OpenAPI ở /docs)",
                 db=shown(db), host=host, port=port), err=True)
    click.echo(_("Thư báo gửi qua {smtp}", smtp=notify.shown_smtp(mailer)) if mailer else
               _("Không gửi thư báo (chưa có --smtp); webhook của các đơn vị vẫn gửi."), err=True)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
        return
    # N processes on one socket: each builds its own app from the environment (app.worker_app);
    # this one's app already migrated the database and is not served
    import json
    import os

    from sync.server.app import WORKER_ENV
    app.state.engine.dispose()
    os.environ[WORKER_ENV] = json.dumps({"db": db, "media_dir": media, "options": {
        "max_batch": max_batch, "max_body_bytes": int(max_body_mb * 1024 * 1024),
        "skew_threshold": skew_threshold, "sweep_seconds": sweep_seconds, "smtp": smtp or None,
        "public_url": public_url, "notify_seconds": notify_seconds, "notify_retry_seconds": notify_retry_seconds}})
    uvicorn.run("sync.server.app:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level=log_level, timeout_graceful_shutdown=5)


@click.group(cls=AdminGroup, help=_(
    "Đăng ký ki-ốt, tạo người dùng và mã API, nhập danh sách cán bộ, xem cảnh báo.\n\n"
    "--db phải là một cơ sở dữ liệu đã có, trừ migrate, import-roster và enrol-kiosk (chúng tạo "
    "một thị trấn mới). Mã thoát: 0 xong; 1 dữ liệu sai; 2 không có cái được nêu (cơ sở dữ liệu, "
    "đơn vị, ki-ốt, người dùng, mã, cảnh báo) hoặc dùng lệnh sai."))
@DB_OPTION
@click.pass_context
def admin(ctx, db):
    ctx.obj = db


@admin.command("enrol-kiosk", help=_(
    "Đăng ký một ki-ốt: in mã truy cập (token) và khóa HMAC của nó (chỉ hiện một lần). "
    "Đơn vị phải có trong danh sách, trừ khi thị trấn chưa có đơn vị nào."))
@click.option("--kiosk-id", required=True, help=_("mã ki-ốt, ví dụ DT-MC-01"))
@click.option("--unit", "unit_code", required=True, help=_("mã đơn vị (xã / phường)"))
@click.option("--json", "as_json", is_flag=True, help=_("in {kiosk_id, token, key} dạng JSON"))
@click.pass_obj
def enrol_kiosk(db, kiosk_id, unit_code, as_json):
    from sqlalchemy import select

    from sync.server.core.admin_ops import Missing
    from sync.server.core.admin_ops import enrol_kiosk as enrol
    from sync.server.core.db import units
    with _engine(db, create=True).begin() as conn:
        known = [r.code for r in conn.execute(select(units.c.code).order_by(units.c.code))]
        try:
            # a new town may enrol its kiosks before its roster is imported; once it holds units,
            # the unit must be one of them
            out = enrol(conn, kiosk_id, unit_code, require_unit=bool(known))
        except Missing:
            raise NotFoundError(_("Không có đơn vị {unit!r} trong danh sách. Các đơn vị: {known}.",
                                  unit=unit_code, known=_listed(known))) from None
    if not known:
        click.echo(_("Lưu ý: thị trấn chưa có đơn vị nào; ki-ốt được đăng ký với đơn vị {unit}. Hãy "
                     "nhập danh sách có đơn vị này (hailong admin import-roster).", unit=unit_code), err=True)
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(_("Đã đăng ký ki-ốt {kiosk}. Ghi hai dòng này vào mục [server] của config.toml "
                     "của nó:", kiosk=out["kiosk_id"]))
        click.echo(f"token = \"{out['token']}\"\nkey = \"{out['key']}\"")


@admin.command("revoke-kiosk", help=_("Từ chối mã truy cập của một ki-ốt từ nay (các lượt đánh giá của nó vẫn giữ)."))
@click.option("--kiosk-id", required=True, help=_("mã ki-ốt"))
@click.pass_obj
def revoke_kiosk(db, kiosk_id):
    from sync.server.core.admin_ops import revoke_kiosk as revoke
    with _engine(db).begin() as conn:
        revoke(conn, kiosk_id)
    click.echo(_("Đã thu hồi ki-ốt {kiosk}.", kiosk=kiosk_id))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(_("mật khẩu"), hide_input=True, confirmation_prompt=True)


@admin.command("create-user", help=_("Tạo một người dùng của trang quản trị và API."))
@click.option("--username", required=True, help=_("tên đăng nhập"))
@click.option("--role", required=True, type=click.Choice(["admin", "viewer"]),
              help=_("admin: quản trị; viewer: chỉ xem"))
@click.option("--password-stdin", is_flag=True, help=_("đọc mật khẩu từ đầu vào chuẩn"))
@click.option("--email", default=None, metavar="ADDRESS",
              help=_("địa chỉ e-mail nhận thư báo cảnh báo và vụ việc mới của đơn vị mình"))
@click.option("--unit", "unit_code", default=None, metavar="CODE",
              help=_("mã đơn vị: người dùng chỉ xem và quản lý đơn vị này [mặc định: mọi đơn vị]"))
@click.pass_obj
def create_user(db, username, role, password_stdin, email, unit_code):
    from sync.server.core import admin_ops
    engine = _engine(db)            # a mistyped --db is said before the password is asked
    with engine.connect() as conn:  # and a bad address or unit before it, too
        admin_ops._email_ok(email)
        admin_ops._user_unit_ok(conn, unit_code)
    password = _read_password(password_stdin)
    with engine.begin() as conn:
        admin_ops.create_user(conn, username, role, password, email=email, unit_code=unit_code)
    click.echo(_("Đã tạo người dùng {user} ({role}).", user=username, role=role), err=True)


@admin.command("set-user-email", help=_(
    "Đặt (hoặc xóa, với --email \"\") địa chỉ e-mail nhận thư báo của một người dùng; với --unit, đổi cả "
    "đơn vị của họ (\"\": mọi đơn vị)."))
@click.option("--username", required=True, help=_("tên đăng nhập"))
@click.option("--email", default=None, metavar="ADDRESS", help=_("địa chỉ e-mail; \"\" để xóa"))
@click.option("--unit", "unit_code", default=None, metavar="CODE", help=_("mã đơn vị; \"\" để là mọi đơn vị"))
@click.pass_obj
def set_user_email(db, username, email, unit_code):
    from sync.server.core.admin_ops import set_user_contact
    if email is None and unit_code is None:
        raise Refused(_("Hãy cho --email ADDRESS, --unit CODE hoặc cả hai."), 2)
    with _engine(db).begin() as conn:
        kept = set_user_contact(conn, username, email, unit_code, set_email=email is not None,
                                set_unit=unit_code is not None)
    click.echo(_("{user}: e-mail {email}, đơn vị {unit}.", user=username, email=kept["email"] or "—",
                 unit=kept["unit_code"] or _("mọi đơn vị")), err=True)


@admin.command("set-password", help=_("Đặt mật khẩu mới cho một người dùng; mọi phiên trang của người đó kết thúc ngay."))
@click.option("--username", required=True, help=_("tên đăng nhập"))
@click.option("--password-stdin", is_flag=True, help=_("đọc mật khẩu mới từ đầu vào chuẩn"))
@click.pass_obj
def set_password(db, username, password_stdin):
    from sync.server.core.admin_ops import set_password as set_pw
    engine = _engine(db)
    password = _read_password(password_stdin)
    with engine.begin() as conn:
        set_pw(conn, username, password)
    click.echo(_("Đã đổi mật khẩu của {user}; các phiên của người đó đã kết thúc.", user=username), err=True)


@admin.command("set-role", help=_("Đổi vai trò của một người dùng; mọi phiên trang của người đó kết thúc ngay."))
@click.option("--username", required=True, help=_("tên đăng nhập"))
@click.option("--role", required=True, type=click.Choice(["admin", "viewer"]),
              help=_("admin: quản trị; viewer: chỉ xem"))
@click.pass_obj
def set_role(db, username, role):
    from sync.server.core.admin_ops import set_role as set_r
    with _engine(db).begin() as conn:
        changed = set_r(conn, username, role)
    click.echo(_("{user} nay là {role}.", user=username, role=role) if changed
               else _("{user} vốn đã là {role}.", user=username, role=role), err=True)


@admin.command("delete-user", help=_(
    "Xóa một người dùng cùng các mã API của họ; các phiên trang kết thúc ngay (đánh giá và cảnh báo vẫn giữ)."))
@click.option("--username", required=True, help=_("tên đăng nhập"))
@click.pass_obj
def delete_user(db, username):
    from sync.server.core.admin_ops import delete_user as delete
    with _engine(db).begin() as conn:
        tokens = delete(conn, username)
    click.echo(_("Đã xóa người dùng {user} (cùng {n} mã API).", user=username, n=tokens), err=True)


@admin.command("create-token", help=_("Tạo một mã API quản trị cho một người dùng (cho `hailong pull`)."))
@click.option("--username", required=True, help=_("tên đăng nhập"))
@click.option("--json", "as_json", is_flag=True, help=_("in {token} dạng JSON"))
@click.pass_obj
def create_token(db, username, as_json):
    from sync.server.core.admin_ops import create_token as create
    with _engine(db).begin() as conn:
        token = create(conn, username)
    click.echo(json.dumps({"token": token}) if as_json else token)


@admin.command("revoke-token", help=_(
    "Thu hồi một mã API quản trị (hoặc mọi mã của một người dùng): từ đó mã nhận 401.\n\n"
    "Mã thoát: 0 đã thu hồi (hoặc đã thu hồi từ trước), 2 không có mã hay người dùng đó."))
@click.option("--token", default=None, help=_("mã API cần thu hồi"))
@click.option("--username", default=None, help=_("thu hồi mọi mã API của người dùng này"))
@click.pass_obj
def revoke_token(db, token, username):
    from sync.server.core.admin_ops import revoke_token as revoke
    if (token is None) == (username is None):
        raise click.UsageError(_("hãy cho --token T hoặc --username U (một trong hai)"))
    with _engine(db).begin() as conn:
        count = revoke(conn, token=token, username=username)
    if token is not None:
        click.echo(_("Đã thu hồi mã API.") if count else _("Mã API này đã được thu hồi từ trước."))
    else:
        click.echo(_("Đã thu hồi {n} mã API của {user}.", n=count, user=username) if count
                   else _("{user} không còn mã API nào để thu hồi.", user=username))


@admin.command("import-roster", help=_(
    "Nhập đơn vị, quầy, cán bộ và thủ tục từ tệp JSON, CSV hoặc Excel (.xlsx)."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--media", default=None, help=_("thư mục ảnh cán bộ [mặc định: media/ cạnh town.db]"))
@click.pass_obj
def import_roster(db, file, media):
    from sync.filemodes import private_dir
    from sync.server.app import default_media_dir
    from sync.server.core.admin_ops import import_roster as do_import
    if not Path(file).is_file():     # before a new town.db or media/ is made for nothing
        raise NotFoundError(_("{path}: không có tệp này.", path=file))
    _check_db(db, create=True)
    media = media or default_media_dir(db)
    private_dir(media)   # officer photos: created 0700, like town.db's folder
    with _engine(db, create=True).begin() as conn:
        counts = do_import(conn, file, media)
    words = {"units": _("đơn vị"), "desks": _("quầy"), "officers": _("cán bộ"), "procedures": _("thủ tục"),
             "photos": _("ảnh")}
    click.echo(_("Đã nhập: {counts}.", counts=", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items())))


@admin.command("deactivate-officer", help=_(
    "Cho một cán bộ nghỉ: không còn trên ki-ốt và trong danh sách chọn; các đánh giá cũ vẫn giữ trong báo cáo."))
@click.option("--officer-id", required=True, help=_("mã cán bộ"))
@click.pass_obj
def deactivate_officer(db, officer_id):
    from sync.server.core.admin_ops import set_officer_active
    with _engine(db).begin() as conn:
        changed = set_officer_active(conn, officer_id, False)
    click.echo(_("Cán bộ {officer} đã nghỉ.", officer=officer_id) if changed
               else _("Cán bộ {officer} đã nghỉ từ trước.", officer=officer_id))


@admin.command("activate-officer", help=_("Cho một cán bộ đã nghỉ làm lại: có lại trên ki-ốt."))
@click.option("--officer-id", required=True, help=_("mã cán bộ"))
@click.pass_obj
def activate_officer(db, officer_id):
    from sync.server.core.admin_ops import set_officer_active
    with _engine(db).begin() as conn:
        changed = set_officer_active(conn, officer_id, True)
    click.echo(_("Cán bộ {officer} làm lại.", officer=officer_id) if changed
               else _("Cán bộ {officer} vẫn đang làm.", officer=officer_id))


@admin.command("set-officer-pin", help=_(
    "Đặt (hoặc đặt lại) mã PIN của một cán bộ cho bảng cán bộ trên ki-ốt; đọc mã PIN từ stdin."))
@click.option("--officer-id", required=True, help=_("mã cán bộ"))
@click.pass_obj
def set_officer_pin(db, officer_id):
    from sync.server.core.admin_ops import set_officer_pin as set_pin
    pin = sys.stdin.readline().strip() if not sys.stdin.isatty() else click.prompt(
        _("mã PIN"), hide_input=True, confirmation_prompt=True)
    with _engine(db).begin() as conn:
        set_pin(conn, officer_id, pin)
    click.echo(_("Đã đặt mã PIN mới cho cán bộ {officer}.", officer=officer_id))


@admin.command("set-receipt-key", help=_("Đặt (hoặc thay) khóa HMAC của phiếu QR mà các ki-ốt nhận cùng cấu hình."))
@click.option("--key", default=None, help=_("64 chữ số thập lục phân; bỏ trống thì tạo khóa ngẫu nhiên mới"))
@click.option("--json", "as_json", is_flag=True, help=_("in {receipt_key} dạng JSON"))
@click.pass_obj
def set_receipt_key(db, key, as_json):
    from sync.server.core.admin_ops import set_receipt_key as set_key
    with _engine(db).begin() as conn:
        key = set_key(conn, key)
    click.echo(json.dumps({"receipt_key": key}) if as_json else key)


PUBLIC_URL_WORDS = {     # core/settings.valid_public_url's English, in the command line's language
    "empty": _("--url: trống; hãy cho một địa chỉ như https://danhgia.xa-abc.gov.vn (hoặc --clear để bỏ)"),
    "scheme": _("--url: phải bắt đầu bằng http:// hoặc https://, ví dụ https://danhgia.xa-abc.gov.vn"),
    "long": _("--url: dài {n} ký tự, nhiều nhất {most} (mã QR trên phiếu phải còn đọc được)"),
    "space": _("--url: không được chứa dấu cách hay ký tự điều khiển"),
    "query": _("--url: không được có phần truy vấn (?…) hay phân đoạn (#…)"),
    "invalid": _("--url: không phải một địa chỉ hợp lệ (kiểm tra tên máy và cổng)"),
    "host": _("--url: thiếu tên máy"),
    "userinfo": _("--url: không được chứa tên người dùng hay mật khẩu"),
}


def _public_url_error(exc: Exception, url: str) -> str:
    text = str(exc)
    for kind, needle in (("empty", "empty"), ("scheme", "must start"), ("long", "characters, at most"),
                         ("space", "spaces"), ("query", "query"), ("invalid", "not a valid"),
                         ("host", "no host"), ("userinfo", "user name")):
        if needle in text:
            from sync.server.core.settings import PUBLIC_URL_MAX
            return PUBLIC_URL_WORDS[kind].format(n=len(url.strip()), most=PUBLIC_URL_MAX)
    return text


@admin.command("set-public-url", help=_(
    "Đặt (hoặc bỏ, với --clear) địa chỉ công khai của trang đánh giá trên điện thoại cho một đơn vị: "
    "mã QR trên phiếu của đơn vị thành <địa chỉ>/r/…, người dân quét bằng điện thoại để đánh giá. "
    "Máy chủ phải đến được từ điện thoại ở địa chỉ đó (ví dụ sau reverse proxy có HTTPS của xã)."))
@click.option("--unit", "unit_code", required=True, metavar="CODE", help=_("mã đơn vị"))
@click.option("--url", default=None, metavar="URL", help=_("địa chỉ công khai, ví dụ https://danhgia.xa-abc.gov.vn"))
@click.option("--clear", is_flag=True, help=_("bỏ địa chỉ: phiếu in lại mã HL1.… (chỉ quét tại ki-ốt)"))
@click.pass_obj
def set_public_url(db, unit_code, url, clear):
    from sqlalchemy import select

    from sync.server.core import settings as server_settings
    from sync.server.core.db import units
    if clear == (url is not None):
        raise click.UsageError(_("hãy cho --url URL hoặc --clear (một trong hai)"))
    if not clear:
        try:
            url = server_settings.valid_public_url(url)
        except server_settings.BadPublicURL as exc:
            raise Refused(_public_url_error(exc, url)) from None
    with _engine(db).begin() as conn:
        known = [r.code for r in conn.execute(select(units.c.code).order_by(units.c.code))]
        if unit_code not in known:
            raise NotFoundError(_("Không có đơn vị {unit!r} trong danh sách. Các đơn vị: {known}.",
                                  unit=unit_code, known=_listed(known) or "—"))
        kept = server_settings.set_public_base_url(conn, unit_code, None if clear else url)
    if kept:
        click.echo(_("Đơn vị {unit}: phiếu QR in địa chỉ {url}/r/… từ lần đồng bộ tới của các ki-ốt.",
                     unit=unit_code, url=kept))
    else:
        click.echo(_("Đơn vị {unit}: không có trang đánh giá công khai; phiếu QR in mã HL1.… từ lần đồng bộ "
                     "tới của các ki-ốt.", unit=unit_code))


@admin.command("add-survey", help=_(
    "Thêm một khảo sát định nghĩa bằng JSON (DESIGN.md \"Surveys\"); in {\"id\": …}. "
    "Cùng mã mà khác nội dung thì bị từ chối."))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--default", "make_default", is_flag=True, help=_("dùng nó làm khảo sát các ki-ốt của thị trấn hỏi"))
@click.pass_obj
def add_survey(db, file, make_default):
    from sync.server.core.admin_ops import add_survey as do_add
    try:
        document = json.loads(Path(file).read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(_("{path}: không phải JSON ({why})", path=file, why=exc)) from None
    with _engine(db).begin() as conn:
        sid = do_add(conn, document, make_default)
    click.echo(json.dumps({"id": sid}, ensure_ascii=False))


@admin.command("alerts", help=_(
    "Liệt kê cảnh báo (thiếu số, chuỗi đứt, giả mạo, xung đột, lệch đồng hồ…): mặc định chỉ cảnh báo đang mở."))
@click.option("--all", "include_resolved", is_flag=True, help=_("cả cảnh báo đã xử lý"))
@click.option("--json", "as_json", is_flag=True, help=_("in dạng JSON"))
@click.pass_obj
def alerts_cmd(db, include_resolved, as_json):
    from sync.cli_i18n import Translator
    from sync.server.core import alerts as alert_rules
    from sync.server.core.admin_ops import list_alerts
    with _engine(db).begin() as conn:
        rows = list_alerts(conn, include_resolved)
        # worded like the alerts page, in the command line's language (the pages' catalogue)
        words = alert_rules.Words.from_roster(conn, Translator(_.language, domain="hailong_server"), _.language)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for a in rows:
        text = alert_rules.describe(a["kind"], a.get("params"), words) or a["message"]
        when = words.time(a["created_at"], "%Y-%m-%d %H:%M")
        if a["resolved_at"]:
            at = words.time(a["resolved_at"], "%Y-%m-%d %H:%M")
            state = (_("đã xử lý {at}, bởi {who}", at=at, who=a["acked_by"]) if a["acked_by"]
                     else _("tự đóng {at}", at=at))
        else:
            state = _("ĐANG MỞ")
        click.echo(f"#{a['id']} {when} {a['kind']:<10} {a['kiosk_id'] or '-'}: {text} [{state}]")
    if not rows:
        click.echo(_("Không có cảnh báo nào đang mở.") if not include_resolved else _("Không có cảnh báo nào."))


@admin.command("resolve-alert", help=_("Đóng một cảnh báo sau khi đã xem xét."))
@click.option("--id", "alert_id", required=True, type=int, help=_("số của cảnh báo (xem `hailong admin alerts`)"))
@click.option("--by", "by", required=True, help=_("ai xử lý"))
@click.option("--note", default=None, help=_("vì sao (đã thấy gì)"))
@click.pass_obj
def resolve_alert_cmd(db, alert_id, by, note):
    from sync.server.core.admin_ops import resolve_alert
    with _engine(db).begin() as conn:
        resolve_alert(conn, alert_id, by, note)
    click.echo(_("Đã đóng cảnh báo {id}.", id=alert_id))


@admin.command("migrate", help=_(
    "Tạo hoặc nâng cấp lược đồ cơ sở dữ liệu (máy chủ cũng làm việc này khi khởi động); tạo thị trấn mới khi chưa có."))
@click.pass_obj
def migrate_cmd(db):
    _engine(db, create=True)
    click.echo(_("{db}: lược đồ đã mới nhất.", db=shown(db)))
