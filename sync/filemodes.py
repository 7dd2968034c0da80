"""Secrets stay secret: the files hailong creates are its user's alone.

town.db and kiosk.db hold tokens' hashes, HMAC keys, the session secret and
PIN hashes; a kiosk's config.toml holds its token and key. What hailong
creates is created 0600 (files) and 0700 (folders) through ``os.open`` /
``mkdir`` with a mode, never through the process-wide umask (the server is
threaded). SQLite creates a database's ``-wal`` and ``-shm`` files with the
database file's mode; :func:`private_sqlite` also tightens them when they
are left over from a looser run.

Files that already exist keep their mode (an installer may have chosen a
group on purpose); :func:`exposed` says what of them others can read, and
both ends warn about it at start. Stdlib only.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm")


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) 0700; an existing folder keeps its mode."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        try:
            p.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(p, DIR_MODE)   # mkdir's mode is masked by the umask
    return path


def create_private(path: str | Path) -> bool:
    """Create ``path`` empty with mode 0600 if it does not exist (an empty file is an empty SQLite db).

    Returns True when it was created here. Its folder is created 0700 when missing.
    """
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return True


def write_private(path: str | Path, text: str) -> Path:
    """Write a text file (config, enrolment) readable by its owner only, whatever it was before."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, FILE_MODE)
    return path


def replace_private(path: str | Path, data: bytes | str) -> Path:
    """Write a file readable by its owner only, atomically: a power cut leaves the old file or the new one.

    The bytes go to a 0600 temporary file beside ``path``, are synced to disk, then renamed over it.
    """
    path = Path(path)
    private_dir(path.parent)
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return path


def private_sqlite(path: str | Path) -> None:
    """When the database file is private, make its -wal and -shm files private too."""
    path = Path(path)
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            return
    except OSError:
        return
    for suffix in SQLITE_SIDE_FILES:
        side = Path(f"{path}{suffix}")
        try:
            if stat.S_IMODE(side.stat().st_mode) & 0o077:
                os.chmod(side, FILE_MODE)
        except OSError:
            continue


def exposed(path: str | Path) -> list[str]:
    """What of a database others can get at: the file (or its -wal/-shm) readable by group or
    others, or its folder writable by them (they could delete or replace it). Empty when private."""
    path = Path(path)
    found = []
    for p in (path, *(Path(f"{path}{s}") for s in SQLITE_SIDE_FILES)):
        try:
            mode = stat.S_IMODE(p.stat().st_mode)
        except OSError:
            continue
        if mode & 0o044:
            found.append(f"{p} is readable by {_who(mode, 0o040, 0o004)} (mode {mode:04o}; chmod 600 it)")
    folder = path.resolve().parent
    try:
        st = folder.stat()
    except OSError:
        return found
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022 and not mode & stat.S_ISVTX:
        found.append(f"{folder} is writable by {_who(mode, 0o020, 0o002)} (mode {mode:04o}; chmod 700 it)")
    return found


def _who(mode: int, group_bit: int, other_bit: int) -> str:
    return " and ".join(w for w, bit in (("its group", group_bit), ("others", other_bit)) if mode & bit)
