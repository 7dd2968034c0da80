"""Backups of the town's database that restore: ``hailong admin backup`` / ``restore`` (docs/backups.md).

SQLite (town.db): an online snapshot with SQLite's backup API while the
server runs, then ``PRAGMA integrity_check`` and :func:`check_chains` on the
copy, fsync, atomic rename, 0600, rotation (sync/backupfiles.py, the same
file half as the kiosk's). PostgreSQL: ``pg_dump -Fc`` of the server's major
version (a newer one is accepted; an older one, or none, is refused with a
clear line) into a temporary name, checked by ``pg_restore --list`` (every
table of the town is in it), then the same fsync, rename, rotation.

:func:`check_chains` is what "the chains verify" means on the server: every
stored rating's hash and HMAC under its kiosk's key (``protocol.check_seal``,
the check ingest makes), and each kiosk's ratings linked in seq order, a
missing run of seqs only where a ``gap`` alert covers it and a prev_hash that
does not link only where a ``chain`` alert names that seq — the rule of the
evidence pack (sync/evidence.py), read from the database instead of a pack.

The last backup's time and size are the setting ``last_backup``
(:func:`last_backup`, for the health summary).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from sync import backupfiles, protocol
from sync.backupfiles import BackupError, Made
from sync.cli_i18n import _
from sync.server.core.db import alerts, db_url, kiosks, ratings
from sync.server.core.settings import get_setting, set_setting

PREFIX = "town"
SQLITE_EXT = ".db"
PG_EXT = ".dump"
DEFAULT_KEEP = 14
SETTING = "last_backup"
#: the town's tables a dump must hold (pg_restore --list), besides Alembic's
NEEDED_TABLES = ("alembic_version", "kiosks", "ratings", "settings", "alerts")


def last_backup(conn: Connection) -> dict | None:
    """The last backup made: {"path", "size", "at" (UTC), "seconds", "engine", "ratings"}, or None."""
    value = get_setting(conn, SETTING)
    return value if isinstance(value, dict) else None


def sqlite_path(db: str) -> Path | None:
    url = db_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):])
    return None


# -- the chains --------------------------------------------------------------------------------

def _record(row) -> dict:
    v1 = row["wire_version"] == 1
    rec = {k: row[k] for k in (protocol.RECORD_FIELDS_V1 if v1 else protocol.RECORD_FIELDS)}
    rec["reasons"] = json.loads(rec["reasons"] or "[]")
    rec["flags"] = json.loads(rec["flags"] or "[]")
    if not v1:
        rec["answers"] = json.loads(rec["answers"] or "{}")
    return rec


def check_chains(conn: Connection) -> dict:
    """{"kiosks", "ratings"} when every chain holds; BackupError naming the kiosk and seq when not."""
    keys = {r.id: r.key_hex for r in conn.execute(select(kiosks.c.id, kiosks.c.key_hex))}
    breaks, gaps = set(), {}
    for a in conn.execute(select(alerts.c.kind, alerts.c.kiosk_id, alerts.c.seq_from, alerts.c.seq_to)
                          .where(alerts.c.kind.in_(("chain", "gap")))):
        if a.kind == "chain" and a.seq_from is not None:
            breaks.add((a.kiosk_id, a.seq_from))
        elif a.kind == "gap" and a.seq_from is not None:
            gaps.setdefault(a.kiosk_id, []).append((a.seq_from, a.seq_to if a.seq_to is not None else a.seq_from))
    count = 0
    seen: set[str] = set()
    kiosk = last_seq = last_hash = None
    key = None
    rows = conn.execution_options(yield_per=5000).execute(
        select(ratings).order_by(ratings.c.kiosk_id, ratings.c.seq)).mappings()
    for row in rows:
        rec = _record(row)
        k, seq = rec["kiosk_id"], rec["seq"]
        if k != kiosk:
            kiosk, last_seq, last_hash = k, None, None
            seen.add(k)
            key = keys.get(k)
            if key is None:
                raise BackupError(_("ki-ốt {kiosk}: có đánh giá nhưng không có trong bảng kiosks", kiosk=k))
        why = protocol.check_seal(rec, key)
        if why:
            raise BackupError(_("ki-ốt {kiosk} số {seq}: {why}", kiosk=k, seq=seq, why=why))
        if last_seq is not None:
            if seq <= last_seq:
                raise BackupError(_("ki-ốt {kiosk} số {seq}: lặp lại", kiosk=k, seq=seq))
            if seq > last_seq + 1:
                lo, hi = last_seq + 1, seq - 1
                if not any(a <= lo and hi <= b for a, b in gaps.get(k, ())):
                    raise BackupError(_("ki-ốt {kiosk}: thiếu số {a}–{b} và không có cảnh báo nào của máy chủ "
                                        "về chỗ hở này", kiosk=k, a=lo, b=hi))
            elif rec["prev_hash"] != last_hash and (k, seq) not in breaks:
                raise BackupError(_("ki-ốt {kiosk} số {seq}: prev_hash không nối với mã băm của số {before}",
                                    kiosk=k, seq=seq, before=last_seq))
        last_seq, last_hash = seq, rec["hash"]
        count += 1
    return {"kiosks": len(seen), "ratings": count}


def _check_sqlite_town(path: Path) -> dict:
    bad = backupfiles.integrity(path)
    if bad is not None:
        raise BackupError(_("{path}: kiểm tra toàn vẹn SQLite không đạt: {why}", path=path, why=bad))
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if "alembic_version" not in inspect(conn).get_table_names():
                raise BackupError(_("{path}: không phải cơ sở dữ liệu của máy chủ thị trấn", path=path))
            return check_chains(conn)
    except SQLAlchemyError as exc:
        raise BackupError(_("{path}: không đọc được ({why})", path=path, why=exc.__class__.__name__)) from None
    finally:
        engine.dispose()


# -- PostgreSQL: pg_dump / pg_restore ------------------------------------------------------------

def _libpq(engine: Engine) -> tuple[list[str], dict]:
    """The libpq connection arguments of ``engine`` (password in PGPASSWORD, never on a command line)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)]
    return args, env


def _major(version_text: str) -> int | None:
    """``pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`` → 15."""
    m = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text) or re.search(r"\b(\d+)(?:\.\d+)?", version_text)
    return int(m.group(1)) if m else None


def pg_tool(name: str, server_major: int) -> str:
    """The pg_dump / pg_restore to use: the server's major version, else a newer one; BackupError when none."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{name}"]
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")),
                         key=lambda p: -int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    found = shutil.which(name)
    if found:
        candidates.append(found)
    older = None
    for c in candidates:
        if not os.access(c, os.X_OK):
            continue
        try:
            out = subprocess.run([c, "--version"], capture_output=True, text=True, timeout=30).stdout
        except OSError:
            continue
        major = _major(out)
        if major is not None and major >= server_major:
            return c
        older = older or (c, major)
    if older:
        raise BackupError(_("{tool} {have} cũ hơn máy chủ PostgreSQL {want}: cài gói postgresql-client-{want}",
                            tool=older[0], have=older[1], want=server_major))
    raise BackupError(_("không tìm thấy {tool}: cài gói postgresql-client-{want} (cùng phiên bản chính với máy chủ)",
                        tool=name, want=server_major))


def server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar()) // 10000


def _run(args: list[str], env: dict, what: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=24 * 3600)
    except OSError as exc:
        raise BackupError(_("{what}: không chạy được ({why})", what=what, why=exc.strerror or exc)) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout or "").strip().splitlines()
        why = lines[0] if lines else f"exit {done.returncode}"
        if "No space left" in (done.stderr or ""):
            why = _("không đủ chỗ trống trên đĩa ({why})", why=why)
        raise BackupError(_("{what} không thành công: {why}", what=what, why=why))
    return done.stdout


def check_dump(path: Path, pg_restore: str) -> list[str]:
    """pg_restore --list of a dump: its tables; BackupError when it cannot be read or misses a town's table."""
    listing = _run([pg_restore, "--list", str(path)], dict(os.environ), "pg_restore --list")
    tables = sorted({m.group(1) for m in re.finditer(r"TABLE DATA \S+ (\S+) ", listing)})
    missing = [t for t in NEEDED_TABLES if t not in tables]
    if missing:
        raise BackupError(_("{path}: bản sao lưu thiếu bảng {tables}", path=path, tables=", ".join(missing)))
    return tables


def _dump_to(engine: Engine, pg_dump: str, tmp: Path) -> None:
    args, env = _libpq(engine)
    _run([pg_dump, "--format", "custom", "--file", str(tmp), *args], env, "pg_dump")


# -- backup --------------------------------------------------------------------------------------

def backup(engine: Engine, db: str, folder: str | Path, keep: int = DEFAULT_KEEP) -> Made:
    """One backup of the town (the server may be running); BackupError when none was made."""
    target = backupfiles.backup_folder(folder)
    found: dict = {}
    if engine.dialect.name == "sqlite":
        path = sqlite_path(db)
        if path is None:
            raise BackupError(_("một cơ sở dữ liệu SQLite trong bộ nhớ không sao lưu được"))

        def check(tmp: Path) -> None:
            found.update(_check_sqlite_town(tmp))

        made = backupfiles.make_backup(target, PREFIX, SQLITE_EXT, keep,
                                       lambda tmp: backupfiles.snapshot_sqlite(path, tmp), check)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            major = server_major(conn)
        pg_dump, pg_restore = pg_tool("pg_dump", major), pg_tool("pg_restore", major)

        def check(tmp: Path) -> None:
            found["tables"] = len(check_dump(tmp, pg_restore))

        made = backupfiles.make_backup(target, PREFIX, PG_EXT, keep,
                                       lambda tmp: _dump_to(engine, pg_dump, tmp), check)
    else:
        raise BackupError(_("không sao lưu được cơ sở dữ liệu {kind}", kind=engine.dialect.name))
    try:
        with engine.begin() as conn:
            set_setting(conn, SETTING, {**made.as_json(), "engine": engine.dialect.name, **found})
    except SQLAlchemyError:
        pass    # made and sound; the health summary only does not know it yet
    return made


# -- restore -------------------------------------------------------------------------------------

def _stamp_of(path: Path) -> datetime:
    """When a backup was taken: its name's stamp (ours), else its file's modification time."""
    m = re.search(r"-(\d{8}T\d{12}Z)\.", path.name)
    if m:
        return datetime.strptime(m.group(1), backupfiles.STAMP_FORMAT).replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def _latest_received(conn: Connection) -> str | None:
    try:
        return conn.execute(select(func.max(ratings.c.received_at))).scalar()
    except SQLAlchemyError:
        return None


def _newer(latest: str | None, than: datetime) -> bool:
    if not latest:
        return False
    try:
        moment = datetime.fromisoformat(latest.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment > than


def restore(db: str, backup_file: str | Path, force: bool = False) -> dict:
    """Put a backup in place of the town's database: {"ratings", "kiosks", "aside"}.

    Refused without ``force`` when the database is in use (a server runs on
    it) or holds ratings received after the backup was taken (newer). What it
    replaces is kept: a SQLite town.db renamed ``town.db.replaced-STAMP``, a
    PostgreSQL database dumped beside the backup first. Verified after.
    """
    src = backupfiles.regular_file(backup_file)
    path = sqlite_path(db)
    if path is not None:
        return _restore_sqlite(path, src, force)
    url = db_url(db)
    if not url.startswith("postgresql"):
        raise BackupError(_("không khôi phục được vào {db}", db=make_url(url).render_as_string(hide_password=True)))
    return _restore_pg(url, src, force)


def _restore_sqlite(path: Path, src: Path, force: bool) -> dict:
    if not path.parent.is_dir():
        raise BackupError(_("không có thư mục {folder}", folder=path.parent))
    tmp = backupfiles.copy_beside(src, path)
    try:
        found = _check_sqlite_town(tmp)
        backupfiles.single_file(tmp)
        if path.exists():
            if backupfiles.in_use(path) and not force:
                raise BackupError(_("{path} đang được dùng (máy chủ đang chạy?): dừng máy chủ trước, hoặc thêm "
                                    "--force", path=path))
            engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    latest = _latest_received(conn)
            finally:
                engine.dispose()
            if _newer(latest, _stamp_of(src)) and not force:
                raise BackupError(_("{path} mới hơn bản sao lưu (có đánh giá nhận lúc {latest}, sau bản sao lưu): "
                                    "thêm --force nếu thật sự muốn thay nó", path=path, latest=latest))
        aside = backupfiles.swap_in(tmp, path)
    except BaseException:
        backupfiles.discard(tmp)
        raise
    again = _check_sqlite_town(path)
    return {**again, "aside": aside, "before": found}


def _restore_pg(url: str, src: Path, force: bool) -> dict:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            major = server_major(conn)
            others = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()")).scalar()
            has_town = "alembic_version" in inspect(conn).get_table_names()
            latest = _latest_received(conn) if has_town else None
        pg_dump, pg_restore = pg_tool("pg_dump", major), pg_tool("pg_restore", major)
        check_dump(src, pg_restore)
        if others and not force:
            raise BackupError(_("cơ sở dữ liệu đang được dùng ({n} kết nối khác: máy chủ đang chạy?): dừng máy chủ "
                                "trước, hoặc thêm --force", n=others))
        if _newer(latest, _stamp_of(src)) and not force:
            raise BackupError(_("cơ sở dữ liệu mới hơn bản sao lưu (có đánh giá nhận lúc {latest}, sau bản sao lưu): "
                                "thêm --force nếu thật sự muốn thay nó", latest=latest))
        aside = None
        if has_town:
            stamp = datetime.now(timezone.utc).strftime(backupfiles.STAMP_FORMAT)
            aside = src.parent / f"replaced-{stamp}{PG_EXT}"
            tmp = backupfiles.new_private_file(src.parent, f".{aside.name}.part")
            try:
                _dump_to(engine, pg_dump, tmp)
                os.replace(tmp, aside)
            except BaseException:
                backupfiles.discard(tmp)
                raise
        with engine.begin() as conn:
            if others and force:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                  "datname = current_database() AND pid <> pg_backend_pid()"))
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        args, env = _libpq(engine)
        _run([pg_restore, "--no-owner", "--single-transaction", "--exit-on-error", *args, str(src)], env,
             "pg_restore")
        with engine.connect() as conn:
            found = check_chains(conn)
    except SQLAlchemyError as exc:
        raise BackupError(_("lỗi cơ sở dữ liệu: {why}", why=str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                            if str(exc).strip() else exc.__class__.__name__)) from None
    finally:
        engine.dispose()
    return {**found, "aside": aside}
