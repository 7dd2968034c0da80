"""A PostgreSQL for the province benchmarks: a cluster kept in the temp folder, a town loaded with COPY.

``cluster()`` starts (initdb the first time) a PostgreSQL in
``$TMPDIR/hailong-bench-pg`` (or finds it running there) on a free port of 127.0.0.1 with Debian's
binaries, as tests/pg.py does (as the ``postgres`` user when run as root;
durability off: fsync, synchronous_commit, full_page_writes), but kept
between runs so that a loaded town (``--keep``) is loaded once. Returns
None when PostgreSQL is not installed (the benchmarks then skip).

``load(url, town, n)`` migrates an empty database to the newest schema,
writes the roster, COPYs ``n`` ratings of benchmarks/generate.py into
``ratings`` (secondary indexes dropped during the COPY, rebuilt after), then
folds the roll-up with the server's own fold (core/rollup.fold, in chunks of
``FOLD_CHUNK`` instead of 50,000: the same rows, fewer transactions) or,
with ``fold="sql"``, with ``fold_sql``: the same fold as a few INSERT …
SELECT … GROUP BY in the database (what makes tens of millions loadable in
minutes; ``python benchmarks/_pg_town.py`` checks that it gives the same rows
as the server's fold).
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

import generate

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
                        "-w", "stop"], capture_output=True, timeout=120, check=False)


def cluster() -> Server | None:
    from helpers import free_port
    from pg import _bindir
    bindir = _bindir()
    if bindir is None:
        return None
    run_as = []
    FOLDER.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:     # root, and no user to run PostgreSQL as (Debian's package makes it)
            return None
        os.chown(FOLDER, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = FOLDER / "data"

    def run(args):
        out = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=300, check=False)
        if out.returncode:
            raise RuntimeError(f"{args[0]} failed: {out.stdout}{out.stderr}")
    if not (data / "PG_VERSION").exists():
        run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
    status = subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "status"], capture_output=True,
                            timeout=60, check=False)
    if status.returncode == 0:     # running (another benchmark's, or left by --keep): use it
        port = int((data / "postmaster.pid").read_text().splitlines()[3])
        return Server(bindir, FOLDER, port, run_as)
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


def load(server: Server, name: str, town: generate.Town, n: int, fold: bool | str = True) -> None:
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
        for index, _def in indexes:
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
        if fold == "sql":
            fold_sql(engine, reasons)
        else:
            rollup.CHUNK = FOLD_CHUNK
            rollup.fold(engine, reasons)
        with psycopg.connect(server.url(name, "postgresql"), autocommit=True) as conn:
            for t in rollup.TABLES:
                conn.execute(f"VACUUM ANALYZE {t.name}")
        how = "set-based fold_sql" if fold == "sql" else "core/rollup.fold"
        print(f"  rolled up ({how}) in {time.perf_counter() - t1:.0f} s")
    engine.dispose()


def fold_sql(engine, reasons: list[str]) -> None:
    """Fold every rating at once, set-based: the rows core/rollup.fold would write (check: ``__main__``).

    For the generator's ratings, which answer no extra question (``answers`` {}: asserted, the answer
    tables stay empty as the fold leaves them).
    """
    from sqlalchemy import and_, case, func, literal, not_, select, text

    from sync.protocol import LATE_FLAG, ON_TIME_FLAG
    from sync.server.core import db, rollup
    from sync.server.core.settings import known_surveys
    from sync.server.core.sql import (
        LocalDay,
        contains_code,
        misuse_expr,
        satisfied_expr,
    )
    r = db.ratings
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM ratings WHERE answers <> '{}'")).scalar() == 0
        assert conn.execute(select(func.count()).select_from(rollup.rollup_day)).scalar() == 0
        surveys = known_surveys(conn)
        bad = misuse_expr(r)
        ok = not_(bad)
        pleased = and_(ok, satisfied_expr(r, surveys))
        on_time = and_(ok, contains_code(r.c.flags, ON_TIME_FLAG))
        late = and_(ok, not_(contains_code(r.c.flags, ON_TIME_FLAG)), contains_code(r.c.flags, LATE_FLAG))
        said = and_(r.c.comment.is_not(None), r.c.comment != "")
        one = literal(1)
        key = [LocalDay(r.c.corrected_at), r.c.unit_code, r.c.desk_id, r.c.officer_id,
               func.coalesce(r.c.procedure_code, ""), r.c.survey]
        sums = {"total": func.count(), "misuse": func.sum(case((bad, one), else_=0)),
                **{f"l{lv}": func.sum(case((and_(ok, r.c.level == lv), one), else_=0)) for lv in rollup.LEVELS},
                "satisfied": func.sum(case((pleased, one), else_=0)), "on_time": func.sum(case((on_time, one), else_=0)),
                "late": func.sum(case((late, one), else_=0)), "comments": func.sum(case((said, one), else_=0))}
        day = rollup.rollup_day
        conn.execute(day.insert().from_select([*rollup.KEY, *sums],
                                              select(*key, *sums.values()).group_by(*[text(str(i)) for i in range(1, 7)])))
        # reasons: each code once per valid rating (the fold takes the set of its list), the wanted ones
        bad_sql, pleased_sql = _sql(conn, bad, pleased)
        wanted = ", ".join("'" + c.replace("'", "''") + "'" for c in reasons) or "NULL"
        conn.execute(text(f"""
            INSERT INTO rollup_reason_day ({', '.join(rollup.KEY)}, code, n, satisfied)
            SELECT k0, k1, k2, k3, k4, k5, code, count(*), sum(CASE WHEN pleased THEN 1 ELSE 0 END)
            FROM (SELECT DISTINCT ratings.pk, {', '.join(f'{c} AS k{i}' for i, c in enumerate(_sql(conn, *key)))},
                         codes.code, ({pleased_sql}) AS pleased
                  FROM ratings CROSS JOIN LATERAL jsonb_array_elements_text(CAST(ratings.reasons AS jsonb)) AS codes(code)
                  WHERE ratings.reasons <> '[]' AND NOT ({bad_sql}) AND codes.code IN ({wanted})) AS each
            GROUP BY k0, k1, k2, k3, k4, k5, code"""))
        keys = ", ".join(rollup.KEY[1:])
        conn.execute(text(f"""
            INSERT INTO rollup_month (at, {keys}, {', '.join(sums)})
            SELECT substr(at, 1, 7), {keys}, {', '.join(f'sum({c})' for c in sums)}
            FROM rollup_day GROUP BY substr(at, 1, 7), {keys}"""))
        conn.execute(text(f"""
            INSERT INTO rollup_reason_month (at, {keys}, code, n, satisfied)
            SELECT substr(at, 1, 7), {keys}, code, sum(n), sum(satisfied)
            FROM rollup_reason_day GROUP BY substr(at, 1, 7), {keys}, code"""))
        conn.execute(rollup.cursor_table.delete().where(rollup.cursor_table.c.name == "ratings"))
        conn.execute(text("INSERT INTO rollup_cursor (name, pk) SELECT 'ratings', coalesce(max(pk), 0) FROM ratings"))


def _sql(conn, *clauses) -> list[str]:
    """The clauses as PostgreSQL text, their values inline (to embed in a hand-written statement)."""
    return [str(c.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})) for c in clauses]


def _same_fold(n: int = 100_000) -> None:
    """fold_sql gives the rows core/rollup.fold gives (a province of ``n`` ratings loaded twice)."""
    import psycopg

    from sync.server.core import rollup
    server = cluster()
    if server is None:
        print("skipped: PostgreSQL is not installed")
        return
    town = generate.Town.province()
    load(server, "fold_server", town, n, fold=True)
    load(server, "fold_sql", town, n, fold="sql")
    for t in rollup.TABLES + (rollup.cursor_table,):
        got = []
        for name in ("fold_server", "fold_sql"):
            with psycopg.connect(server.url(name, "postgresql")) as conn:
                got.append(sorted(conn.execute(f"SELECT * FROM {t.name}").fetchall()))
        assert got[0] == got[1], (t.name, len(got[0]), len(got[1]))
        print(f"  {t.name}: {len(got[0]):,} rows, the same")
    print("fold_sql == core/rollup.fold")


if __name__ == "__main__":
    _same_fold(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
