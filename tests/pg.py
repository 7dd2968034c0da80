"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temp folder.

``Cluster.start()`` runs ``initdb`` into a fresh folder and ``pg_ctl start``
on a free port of 127.0.0.1 (and a socket in the same folder), trust
authentication for the loopback only, durability switched off (fsync,
synchronous_commit: a test database dies with the run anyway). PostgreSQL
refuses to run as root, so when the tests run as root the cluster runs as
the ``postgres`` system user Debian's package creates (as the Makefile
installs it), and the folder is handed to that user.

``new_database()`` gives each test its own empty database
(``postgresql+psycopg://hailong@127.0.0.1:PORT/t_…``): the same thing a
SQLite test gets from a new town.db in its tmp_path.

Set ``HAILONG_TEST_PG_ADMIN_URL`` (e.g. ``postgresql://me@127.0.0.1:5432/postgres``)
to use a server of your own instead; each test still gets its own database.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

from helpers import free_port

USER = "hailong"


def _bindir() -> Path | None:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    except OSError:
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class Cluster:
    """One PostgreSQL server for the whole test session."""

    def __init__(self):
        self.folder: Path | None = None
        self.port: int | None = None
        self.admin_url: str | None = os.environ.get("HAILONG_TEST_PG_ADMIN_URL")
        self._as: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> "Cluster":
        if self.admin_url:
            return self
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; "
                               "`make system-packages` installs it)")
        self.folder = Path(tempfile.mkdtemp(prefix="hailong-pg-"))
        data = self.folder / "data"
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root and there is no 'postgres' user to run PostgreSQL as "
                                   "(install Debian's postgresql package)") from exc
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self._run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        options = " ".join([
            f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.folder}",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c max_connections=400", "-c shared_buffers=128MB", "-c max_locks_per_transaction=256",
            "-c log_min_messages=warning", "-c timezone=UTC",
        ])
        self._run([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l",
                   str(self.folder / "server.log"), "-o", options, "start"])
        self._bindir = bindir
        self.admin_url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        return self

    def _run(self, args: list[str]) -> None:
        out = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {out.stdout}{out.stderr}")

    def new_database(self, prefix: str = "t") -> str:
        """CREATE DATABASE <prefix>_<random>; its SQLAlchemy URL (psycopg 3)."""
        import psycopg
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._lock, psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = self.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}/{name}"

    def stop(self) -> None:
        if self.folder is None:
            return
        subprocess.run([*self._as, str(self._bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m",
                        "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
