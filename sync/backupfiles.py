"""Backups that restore: the file half both machine kinds share (kiosk.db and a SQLite town.db).

One backup is made the same way on both (kiosk/backup.py, sync/server/core/backup.py):

1. an online snapshot while the kiosk or the server runs: SQLite's backup API
   (``sqlite3.Connection.backup``, in one step, under one read transaction:
   WAL lets the writer go on beside it) into a temporary name in the backup
   folder, created 0600 (a backup holds keys and tokens' hashes);
2. checked before it counts: ``PRAGMA integrity_check`` and the caller's
   check (the chains verify: the kiosk's ``KioskStore.verify``, the server's
   seals and links);
3. fsynced, renamed atomically to ``PREFIX-YYYYmmddTHHMMSSffffffZ.EXT`` and
   the folder fsynced, so a power cut leaves the old backup or the new one,
   never half of one;
4. rotated: the ``keep`` newest backups of that prefix stay; only regular
   files named like ours are removed, never a symlink, never the one just
   made.

A failure (disk full, a folder that cannot be written, a check that fails)
removes the temporary file and raises :class:`BackupError` with one clear
line; the backups already there are untouched. Stdlib + sync.filemodes +
sync.cli_i18n only: the kiosk and the server both import it.
"""
from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sync.cli_i18n import _
from sync.filemodes import DIR_MODE, FILE_MODE

STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"


class BackupError(Exception):
    """A backup or a restore that did not happen; ``str()`` is the one line to show."""


@dataclass
class Made:
    """A backup made: where, how big, when (UTC), how long it took, what was removed by rotation."""
    path: Path
    size: int
    at: str
    seconds: float
    removed: list[Path]

    def as_json(self) -> dict:
        return {"path": str(self.path), "size": self.size, "at": self.at, "seconds": round(self.seconds, 3)}


def name_pattern(prefix: str, ext: str) -> re.Pattern:
    return re.compile(re.escape(prefix) + r"-(\d{8}T\d{12}Z)" + re.escape(ext) + r"\Z")


def backups(folder: Path, prefix: str, ext: str) -> list[Path]:
    """The backups of ``prefix`` in ``folder``, newest first (regular files named like ours only)."""
    pattern = name_pattern(prefix, ext)
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m and entry.is_file(follow_symlinks=False):
            found.append((m.group(1), Path(entry.path)))
    return [p for _stamp, p in sorted(found, reverse=True)]


def why_os(exc: OSError, folder: Path) -> str:
    """An OSError as the line an operator reads: disk full and unwritable folder said plainly."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return _("không đủ chỗ trống trên đĩa cho bản sao lưu trong {folder} ({why})",
                 folder=folder, why=exc.strerror or exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return _("không ghi được vào thư mục sao lưu {folder} ({why})", folder=folder, why=exc.strerror or exc)
    return _("lỗi khi ghi bản sao lưu vào {folder}: {why}", folder=folder, why=exc.strerror or exc)


def why_sqlite(exc: sqlite3.Error, folder: Path) -> str:
    text = str(exc)
    if "full" in text.lower() or getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL":
        return _("không đủ chỗ trống trên đĩa cho bản sao lưu trong {folder} ({why})", folder=folder, why=text)
    if "disk i/o error" in text.lower():
        return _("lỗi ghi đĩa trong {folder} (đĩa đầy, vượt hạn mức hoặc thiết bị hỏng): {why}",
                 folder=folder, why=text)
    if "readonly" in text.lower() or "unable to open" in text.lower():
        return _("không ghi được vào thư mục sao lưu {folder} ({why})", folder=folder, why=text)
    return _("lỗi SQLite khi sao lưu: {why}", why=text)


def backup_folder(folder: str | Path) -> Path:
    """The --dir folder, made 0700 when missing; refused (BackupError) when it is not a folder."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise BackupError(_("--dir: {folder} không phải một thư mục", folder=folder))
    if not folder.exists():
        try:
            missing = []
            p = folder
            while not p.exists() and p != p.parent:
                missing.append(p)
                p = p.parent
            for p in reversed(missing):
                p.mkdir(mode=DIR_MODE)
                os.chmod(p, DIR_MODE)
        except OSError as exc:
            raise BackupError(why_os(exc, folder)) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(_("không ghi được vào thư mục sao lưu {folder} (không có quyền ghi)", folder=folder))
    return folder.resolve()


def new_private_file(folder: Path, name: str) -> Path:
    """An empty file ``folder/name``, 0600, that did not exist (never through a symlink)."""
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except OSError as exc:
        raise BackupError(why_os(exc, folder)) from None
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return path


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    try:
        fsync_path(folder)
    except OSError:     # a filesystem that cannot fsync a folder: the rename is still atomic
        pass


def integrity(path: Path) -> str | None:
    """None when ``PRAGMA integrity_check`` of the SQLite file says ok, else its first line."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return str(exc)
    return None if rows == ["ok"] else (rows[0] if rows else "no answer")


def snapshot_sqlite(source: Path, target: Path) -> None:
    """An online, consistent copy of the SQLite file ``source`` into the empty file ``target``.

    One backup step (pages=-1) under one read transaction: the kiosk or the
    server keeps writing beside it (WAL) and the copy is the database at one
    moment. The copy is a single file (journal mode DELETE, no -wal beside it).
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(str(target), timeout=30)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()


def make_backup(folder: Path, prefix: str, ext: str, keep: int,
                write: Callable[[Path], None], check: Callable[[Path], None]) -> Made:
    """Write (``write(tmp)``), check (``check(tmp)`` raises BackupError), fsync, rename, rotate."""
    if keep < 1:
        raise BackupError(_("--keep: ít nhất 1 (bản sao lưu tốt cuối cùng không bao giờ bị xóa)"))
    began = time.monotonic()
    now = datetime.now(timezone.utc)
    final = folder / f"{prefix}-{now.strftime(STAMP_FORMAT)}{ext}"
    tmp = new_private_file(folder, f".{final.name}.{os.getpid()}.part")
    try:
        try:
            write(tmp)
        except sqlite3.Error as exc:
            raise BackupError(why_sqlite(exc, folder)) from None
        except OSError as exc:
            raise BackupError(why_os(exc, folder)) from None
        for side in ("-journal", "-wal", "-shm"):
            Path(str(tmp) + side).unlink(missing_ok=True)
        check(tmp)
        try:
            os.chmod(tmp, FILE_MODE)
            fsync_path(tmp)
            os.replace(tmp, final)
        except OSError as exc:
            raise BackupError(why_os(exc, folder)) from None
        fsync_dir(folder)
    except BaseException:
        discard(tmp)
        raise
    size = final.stat().st_size
    removed = rotate(folder, prefix, ext, keep, final)
    return Made(final, size, now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                time.monotonic() - began, removed)


def rotate(folder: Path, prefix: str, ext: str, keep: int, newest: Path) -> list[Path]:
    """Remove all but the ``keep`` newest backups of ``prefix``; ``newest`` (just made, checked) always stays."""
    removed = []
    for old in backups(folder, prefix, ext)[max(keep, 1):]:
        if old == newest:
            continue
        try:
            old.unlink()
            removed.append(old)
        except OSError:
            pass
    return removed


def write_state(path: Path, data: dict) -> None:
    """A small JSON state file written atomically, 0600 (the kiosk's last-backup record)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.write(fd, json.dumps(data, ensure_ascii=False).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_state(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def in_use(db: Path) -> bool:
    """True when another process has the SQLite database ``db`` open (WAL: its -shm's DMS lock is held).

    Every connection to a WAL database holds a shared lock on the DMS byte of
    the -shm file while it is open; asking for an exclusive lock on it fails
    while any other process holds one. Never call it on a file this process
    has open (POSIX locks are per process: closing our descriptor would drop
    SQLite's own locks).
    """
    import fcntl
    shm = Path(str(db) + "-shm")
    try:
        fd = os.open(shm, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 128)
        return False
    finally:
        os.close(fd)


def set_aside(path: Path) -> Path | None:
    """Rename ``path`` (and its -wal/-shm) to ``path.replaced-STAMP``; the new name, or None when missing."""
    if not path.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime(STAMP_FORMAT)
    aside = path.with_name(f"{path.name}.replaced-{stamp}")
    os.replace(path, aside)
    for side in ("-wal", "-shm"):
        p = Path(str(path) + side)
        if p.exists():
            os.replace(p, Path(str(aside) + side))
    return aside


def discard(tmp: Path) -> None:
    """Remove a temporary copy and whatever SQLite left beside it."""
    for p in (tmp, *(Path(str(tmp) + s) for s in ("-journal", "-wal", "-shm"))):
        try:
            p.unlink()
        except OSError:
            pass


def single_file(path: Path) -> None:
    """Leave a SQLite file as one file (journal mode DELETE: no -wal/-shm beside it)."""
    try:
        con = sqlite3.connect(str(path), timeout=30)
        try:
            con.execute("PRAGMA journal_mode=DELETE")
        finally:
            con.close()
    except sqlite3.Error:
        pass


def copy_beside(backup: Path, target: Path) -> Path:
    """A private (0600) copy of ``backup`` in ``target``'s folder, fsynced, under a temporary name."""
    folder = target.parent
    if not folder.is_dir():
        raise BackupError(_("không có thư mục {folder}", folder=folder))
    tmp = new_private_file(folder, f".{target.name}.{os.getpid()}.restore")
    try:
        with open(backup, "rb") as src, open(tmp, "wb") as dst:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
    except OSError as exc:
        discard(tmp)
        raise BackupError(why_os(exc, folder)) from None
    return tmp


def swap_in(tmp: Path, target: Path) -> Path | None:
    """Keep ``target`` aside (``set_aside``), rename the checked ``tmp`` to it; the aside name."""
    single_file(tmp)
    try:
        fsync_path(tmp)
        aside = set_aside(target)
        os.replace(tmp, target)
    except OSError as exc:
        raise BackupError(why_os(exc, target.parent)) from None
    fsync_dir(target.parent)
    return aside


def regular_file(path: str | Path) -> Path:
    """A backup named on the command line: an existing regular file (not a folder, not a device)."""
    path = Path(path).expanduser()
    try:
        st = path.stat()
    except OSError:
        raise BackupError(_("{path}: không có tệp sao lưu này", path=path)) from None
    if not stat.S_ISREG(st.st_mode):
        raise BackupError(_("{path}: không phải một tệp sao lưu", path=path))
    return path
