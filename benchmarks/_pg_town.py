"""A PostgreSQL for the province benchmarks: a cluster kept in the temp folder, a town loaded with COPY.

``cluster()`` starts (initdb the first time) a PostgreSQL in
``$TMPDIR/hailong-bench-pg`` on a free port of 127.0.0.1 with Debian's
binaries, as tests/pg.py does (as the ``postgres`` user when run as root;
durability off: fsync, synchronous_commit, full_page_writes), but kept
between runs so that a loaded town (``--keep``) is loaded once. Returns
None when PostgreSQL is not installed (the benchmarks then skip).

``load(url, town, n)`` migrates an empty database to the newest schema,
writes the roster, COPYs ``n`` ratings of benchmarks/generate.py into
``ratings`` (secondary indexes dropped during the COPY, rebuilt after), then
folds the roll-up with the server's own fold (core/rollup.fold, in chunks of
``FOLD_CHUNK`` instead of 50,000: the same rows, fewer transactions).
"""
from __future__ import annotations

import os
import pwd
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402

FOLDER = Path(tempfile.gettempdir()) / "hailong-bench-pg"
USER = "hailong"
FOLD_CHUNK = 1_000_000


class Server:
    def __init__(self, bindir: Path, folder: Path, port: int, run_as: list[str]):
        self.bindir, self.folder, self.port, self.run_as = bindir, folder, port, run_as
        self.admin_url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"

    def url(self, name: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=120)


def cluster() -> Server | None:
    from helpers import free_port
    from pg import _bindir
    bindir = _bindir()
    if bindir is None:
        return None
    run_as = []
    FOLDER.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(FOLDER, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = FOLDER / "data"

    def run(args):
        out = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=300)
        if out.returncode:
            raise RuntimeError(f"{args[0]} failed: {out.stdout}{out.stderr}")
    if not (data / "PG_VERSION").exists():
        run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
    subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                   capture_output=True, timeout=120)       # a server left running by an interrupted run
    port = free_port()
    options = " ".join([
        f"-p {port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={FOLDER}",
        "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=100",
        "-c shared_buffers=2GB", "-c work_mem=64MB", "-c maintenance_work_mem=1GB", "-c max_wal_size=8GB",
        "-c log_min_messages=warning", "-c timezone=UTC",
    ])
    run([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "120", "-l", str(FOLDER / "server.log"),
         "-o", options, "start"])
    return Server(bindir, FOLDER, port, run_as)


def loaded(server: Server, name: str, n: int) -> bool:
    """True when database ``name`` holds ``n`` ratings, all folded into the roll-up."""
    import psycopg
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
    try:
        with psycopg.connect(server.url(name, "postgresql")) as conn:
            count, top = conn.execute("SELECT count(*), max(pk) FROM ratings").fetchone()
            folded = conn.execute("SELECT pk FROM rollup_cursor WHERE name = 'ratings'").fetchone()
    except psycopg.Error:
        return False
    return count == n and folded is not None and folded[0] == top


def load(server: Server, name: str, town: generate.Town, n: int, fold: bool = True) -> None:
    import psycopg
    from sqlalchemy import insert

    from sync.server.core import db, rollup
    from sync.server.core.settings import survey
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = db.make_engine(server.url(name))
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(db.units), [{"code": u, "name": f"UBND xã {u}"} for u in town.units])
        conn.execute(insert(db.desks), [{"id": d, "unit_code": u, "name": d} for d, u in town.desks])
        conn.execute(insert(db.officers), [{"id": o, "name": f"Cán bộ {o}", "desk_id": d}
                                           for o, (d, _u) in town.officers])
    t0 = time.perf_counter()
    with psycopg.connect(server.url(name, "postgresql")) as conn:
        indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ratings' AND "
                               "indexname NOT IN (SELECT conname FROM pg_constraint)").fetchall()
        for index, _sql in indexes:
            conn.execute(f'DROP INDEX "{index}"')
        conn.commit()
        with conn.cursor() as cur, cur.copy(f"COPY ratings ({', '.join(generate.COLUMNS)}) FROM STDIN") as copy:
            for row in generate.ratings(town, n):
                copy.write_row(row)
                if row[2] % 200_000 == 0:
                    print(f"\r  copied {row[2]:,} ratings ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
        conn.commit()
        print(f"\r  copied {n:,} ratings in {time.perf_counter() - t0:.0f} s")
        t1 = time.perf_counter()
        for _index, sql in indexes:
            conn.execute(sql)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ratings")
        print(f"  indexes rebuilt, analysed in {time.perf_counter() - t1:.0f} s")
    if fold:
        t1 = time.perf_counter()
        with engine.connect() as conn:
            reasons = survey(conn)["reasons"]
        rollup.CHUNK = FOLD_CHUNK
        rollup.fold(engine, reasons)
        with psycopg.connect(server.url(name, "postgresql"), autocommit=True) as conn:
            for t in rollup.TABLES:
                conn.execute(f"VACUUM ANALYZE {t.name}")
        print(f"  rolled up (core/rollup.fold) in {time.perf_counter() - t1:.0f} s")
    engine.dispose()
