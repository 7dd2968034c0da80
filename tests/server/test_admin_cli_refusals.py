"""`hailong admin` refuses what does not exist, naming it: a --db, a unit, a kiosk, a user, an alert.

Through the real command line (click's CliRunner on ``hailong``, in English
as every test runs it, and once as a subprocess in Vietnamese). A refusal
exits non-zero (2 for what does not exist), says what is missing and what
to do, creates no file and writes nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import dbtools
import pytest
from click.testing import CliRunner
from helpers import ROOT, free_port, start_server, stop, wait_until
from sqlalchemy import func, select

from assets import DEMO
from hailong.cli import main
from sync.server.core.db import kiosks, make_engine

ROSTER = DEMO / "roster.json"


def admin(db, *args, stdin=None):
    return CliRunner().invoke(main, ["admin", "--db", str(db), *args], input=stdin)


def ok(db, *args, stdin=None):
    result = admin(db, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def town(town_db, tmp_path):
    """A town with the demo roster (unit 13321, desks quay-1/quay-2), user an and kiosk K1."""
    db = town_db
    ok(db, "import-roster", str(ROSTER))
    ok(db, "create-user", "--username", "an", "--role", "admin", "--password-stdin", stdin="mật khẩu dài\n")
    ok(db, "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json")
    return db


# every command that does not start a town, with arguments it would otherwise accept
NOT_CREATING = [
    ["alerts"],
    ["alerts", "--all", "--json"],
    ["revoke-kiosk", "--kiosk-id", "K1"],
    ["create-user", "--username", "an", "--role", "admin", "--password-stdin"],
    ["set-password", "--username", "an", "--password-stdin"],
    ["set-role", "--username", "an", "--role", "viewer"],
    ["delete-user", "--username", "an"],
    ["create-token", "--username", "an"],
    ["revoke-token", "--username", "an"],
    ["set-receipt-key"],
    ["resolve-alert", "--id", "1", "--by", "an"],
]


@pytest.mark.parametrize("args", NOT_CREATING, ids=lambda a: " ".join(a))
def test_a_missing_db_is_refused_naming_it_and_no_file_is_made(tmp_path, args):
    db = tmp_path / "tpyo.db"
    result = admin(db, *args, stdin="mật khẩu dài\n")
    assert result.exit_code == 2, result.output
    assert f"No database {db}" in result.output and "migrate" in result.output, result.output
    assert "Traceback" not in result.output
    assert not db.exists() and list(tmp_path.iterdir()) == []


def test_alerts_on_a_mistyped_db_no_longer_says_no_open_alerts(town):
    if dbtools.is_postgresql(town):      # a database of the server that does not exist
        typo = town.rsplit("/", 1)[0] + "/tpyo_db"
        result = admin(typo, "alerts")
        assert result.exit_code != 0 and "no open alerts" not in result.output
        assert "tpyo_db" in result.output and "does not exist" in result.output, result.output
        assert "Traceback" not in result.output
        assert "no open alerts" in ok(town, "alerts").output
        return
    typo = town.with_name("tpyo.db")
    result = admin(typo, "alerts")
    assert result.exit_code == 2 and "no open alerts" not in result.output
    assert str(typo) in result.output
    assert "no open alerts" in ok(town, "alerts").output      # the real one still answers


@pytest.mark.parametrize("args", [["migrate"], ["enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321"],
                                  ["import-roster", str(ROSTER)]], ids=lambda a: a[0])
def test_the_commands_that_start_a_town_create_it_and_say_so(tmp_path, args):
    db = tmp_path / "new" / "town.db"
    result = ok(db, *args)
    assert db.exists()
    assert f"Created a new database {db}" in result.stderr
    again = ok(db, "migrate")
    assert "Created a new database" not in again.stderr


def test_import_roster_of_a_missing_file_makes_no_town(town_db, tmp_path):
    db = town_db
    result = admin(db, "import-roster", str(tmp_path / "roster.jsn"))
    assert result.exit_code == 2 and "roster.jsn: no such file" in result.output
    assert list(tmp_path.iterdir()) == []


def _kiosk_count(db) -> int:
    engine = make_engine(str(db))
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(kiosks)).scalar()
    finally:
        engine.dispose()


def test_enrol_kiosk_refuses_a_unit_the_roster_does_not_hold(town):
    result = admin(town, "enrol-kiosk", "--kiosk-id", "K2", "--unit", "99999")
    assert result.exit_code == 2, result.output
    assert "no unit '99999' in the roster" in result.output and "Units: 13321" in result.output
    assert "token" not in result.output and _kiosk_count(town) == 1
    enrolled = json.loads(ok(town, "enrol-kiosk", "--kiosk-id", "K2", "--unit", "13321", "--json").stdout)
    assert enrolled["kiosk_id"] == "K2" and _kiosk_count(town) == 2


def test_enrol_kiosk_on_a_town_without_units_yet_is_accepted_with_a_note(town_db, tmp_path):
    result = ok(town_db, "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json")
    assert json.loads(result.stdout)["kiosk_id"] == "K1"
    assert "holds no unit yet" in result.stderr and "import-roster" in result.stderr


@pytest.mark.parametrize("args,named", [
    (["revoke-kiosk", "--kiosk-id", "K9"], "no kiosk 'K9'"),
    (["set-role", "--username", "ghost", "--role", "viewer"], "no user 'ghost'"),
    (["set-password", "--username", "ghost", "--password-stdin"], "no user 'ghost'"),
    (["delete-user", "--username", "ghost"], "no user 'ghost'"),
    (["create-token", "--username", "ghost"], "no user 'ghost'"),
    (["revoke-token", "--username", "ghost"], "no user 'ghost'"),
    (["resolve-alert", "--id", "4242", "--by", "an"], "no alert 4242"),
], ids=lambda v: v[0] if isinstance(v, list) else None)
def test_unknown_kiosks_users_and_alerts_are_refused_naming_them(town, args, named):
    result = admin(town, *args, stdin="mật khẩu mới dài\n")
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output


def test_a_postgresql_url_that_cannot_be_opened_is_one_line_without_the_password(tmp_path):
    url = f"postgresql+psycopg://hailong:bí-mật@127.0.0.1:{free_port()}/town"
    result = admin(url, "alerts")
    assert result.exit_code == 1, result.output
    assert "cannot open the database" in result.output and "Traceback" not in result.output
    assert "bí-mật" not in result.output and "postgresql+psycopg://hailong:***@127.0.0.1" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_db_in_vietnamese(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.update(LANG="vi_VN.UTF-8", PYTHONPATH=str(ROOT))
    db = tmp_path / "tpyo.db"
    run = subprocess.run([sys.executable, "-m", "hailong", "admin", "--db", str(db), "alerts"], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith(f"Lỗi: Không có cơ sở dữ liệu {db}"), run.stderr
    assert not db.exists()
    run = subprocess.run([sys.executable, "-m", "hailong", "admin", "--db", str(db), "enrol-kiosk",
                          "--unit", "13321"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2 and "Thiếu tùy chọn '--kiosk-id'" in run.stderr, run.stderr


def test_the_server_says_when_it_starts_a_new_empty_town(town_db, tmp_path):
    db = town_db
    log = tmp_path / "server.log"
    proc = start_server(db, free_port(), log=log)
    try:
        text = wait_until(lambda: log.read_text("utf-8", "replace"), what="the server's first line")
        said = (f"The database {dbtools.shown(db)} holds no table yet" if dbtools.is_postgresql(db)
                else f"No database {db} yet")
        assert f"{said}: starting a new, empty town" in text and "check --db" in text, text
    finally:
        stop(proc)
    proc = start_server(db, free_port(), log=log.with_name("again.log"))
    stop(proc)
    assert "new, empty town" not in log.with_name("again.log").read_text("utf-8", "replace")


@pytest.mark.parametrize("args", [["kiosk", "verify"], ["kiosk", "init"], ["receipt", "status"], ["sync", "--once"]],
                         ids=" ".join)
def test_a_missing_kiosk_config_is_named(tmp_path, args):
    path = tmp_path / "confg.toml"
    result = CliRunner().invoke(main, [*args, "--config", str(path)])
    assert result.exit_code == 2 and f"config error: {path}: config file not found" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_pull_names_a_missing_token_file(tmp_path):
    path = tmp_path / "token.txt"
    result = CliRunner().invoke(main, ["pull", "--server", "http://127.0.0.1:1", "--token-file", str(path),
                                       "--format", "csv", "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 2 and str(path) in result.output and "does not exist" in result.output
    assert list(tmp_path.iterdir()) == []


def test_core_messages_are_worded_in_vietnamese(town_db, tmp_path, monkeypatch):
    """Each refusal core/admin_ops raises (in English, for the API and logs) has its Vietnamese wording."""
    from sync.server import commands
    from sync.server.core import admin_ops
    from sync.server.core.db import migrate
    engine = make_engine(str(town_db))
    migrate(engine)
    with engine.begin() as conn:
        admin_ops.enrol_kiosk(conn, "K1", "13321")
        admin_ops.create_user(conn, "an", "admin", "mật khẩu dài")
    calls = [
        (lambda c: admin_ops.enrol_kiosk(c, "K1", "13321"), "Ki-ốt K1 đã được đăng ký", 1),
        (lambda c: admin_ops.enrol_kiosk(c, "bad id!", "13321"), "Mã ki-ốt: chỉ gồm 1–64", 1),
        (lambda c: admin_ops.create_user(c, "binh", "admin", "ngắn"), "Mật khẩu: ít nhất 8 ký tự", 1),
        (lambda c: admin_ops.create_user(c, "binh", "root", "mật khẩu dài"), "Vai trò: một trong admin, viewer", 1),
        (lambda c: admin_ops.create_user(c, "an", "admin", "mật khẩu dài"), "Người dùng an đã có", 1),
        (lambda c: admin_ops.create_token(c, "ghost"), "Không có người dùng 'ghost'", 2),
        (lambda c: admin_ops.set_role(c, "ghost", "admin"), "Không có người dùng 'ghost'", 2),
        (lambda c: admin_ops.revoke_kiosk(c, "K9"), "Không có ki-ốt 'K9'", 2),
        (lambda c: admin_ops.revoke_token(c, token="ha_không-có"), "Không có mã API này", 2),
        (lambda c: admin_ops.set_receipt_key(c, "xyz"), "Khóa phiếu: phải gồm 64 chữ số", 1),
        (lambda c: admin_ops.resolve_alert(c, 4242, "an"), "Không có cảnh báo số 4242", 2),
        (lambda c: admin_ops.read_roster(tmp_path / "roster.jsn"), "roster.jsn: không có tệp này", 2),
    ]
    monkeypatch.setattr(commands._, "language", "vi")
    for call, words, status in calls:
        with engine.connect() as conn, pytest.raises(admin_ops.AdminError) as caught:
            call(conn)
        message, code = commands.core_message(caught.value)
        assert words in message and code == status, (str(caught.value), message, code)
    engine.dispose()


@pytest.mark.parametrize("args", [["alerts"], ["migrate"], ["import-roster", str(ROSTER)]], ids=lambda a: a[0])
def test_a_db_that_is_not_a_town_is_refused_and_left_as_it_was(tmp_path, args):
    """`--db kiosk.db` by mistake: not migrated into a town, not switched to WAL, not chmod-ed."""
    from kiosk.store import KioskStore
    path = tmp_path / "kiosk.db"
    store = KioskStore(path, "K1", "7e" * 32)
    store.init()
    store.close()
    os.chmod(path, 0o644)
    before = (path.read_bytes(), path.stat().st_mode, sorted(p.name for p in tmp_path.iterdir()))
    result = admin(path, *args)
    assert result.exit_code == 2, result.output
    assert f"{path} is not a town server's database" in result.output and "ratings" in result.output
    assert (path.read_bytes(), path.stat().st_mode, sorted(p.name for p in tmp_path.iterdir())) == before


def test_the_server_refuses_a_db_that_is_not_a_town(tmp_path):
    from kiosk.store import KioskStore
    path = tmp_path / "kiosk.db"
    store = KioskStore(path, "K1", "7e" * 32)
    store.init()
    store.close()
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["server", "--db", str(path), "--port", str(free_port())])
    assert result.exit_code == 2 and f"{path} is not a town server's database" in result.output, result.output
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["kiosk.db"]
