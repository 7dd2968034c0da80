"""The databases hailong 0.1.0 wrote (tests/fixtures/v0_1_0/, SQL dumps), rebuilt for the upgrade tests.

``build(name, path)`` makes a ``.db`` from ``name.sql``; ``dump_rows(name, table)`` reads the rows of a
table straight from a fresh build of the dump, so every comparison is against what 0.1.0 wrote, never
against the database under test.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "v0_1_0"


def build(name: str, path: Path) -> Path:
    """``path`` (a new SQLite file) holding the dump ``FIXTURES/name.sql``."""
    con = sqlite3.connect(path)
    try:
        con.executescript((FIXTURES / f"{name}.sql").read_text("utf-8"))
        con.commit()
    finally:
        con.close()
    path.chmod(0o600)
    return path


def rows(path: Path, table: str, key: str | None = None) -> dict:
    """Every row of ``table`` as a dict, by ``key`` (default: its first column)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        found = [dict(r) for r in con.execute(f"SELECT * FROM {table}")]  # noqa: S608 - our names
        return {r[key or next(iter(r))]: r for r in found}
    finally:
        con.close()


def dump_rows(name: str, table: str, key: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return rows(build(name, Path(tmp) / "ref.db"), table, key)


def tables(path: Path) -> list[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    finally:
        con.close()


def full_dump(path: Path) -> str:
    """The whole database as SQL text (schema and rows): equal dumps, nothing changed."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def same_fields(before: dict, after: dict) -> list[str]:
    """What differs between the dump's rows and the upgraded ones, column by column of the dump."""
    problems = []
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            problems.append(f"{key}: gone")
            continue
        problems += [f"{key}.{col}: {old[col]!r} -> {new.get(col, '<no column>')!r}"
                     for col in old if new.get(col, object()) != old[col]]
    problems += [f"{key}: new row" for key in after.keys() - before.keys()]
    return problems


def kiosk_site(folder: Path, name: str = "kiosk", config: str = "config.toml") -> Path:
    """A kiosk folder as 0.1.0 left it: its config.toml and kiosk.db; the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / config, folder / "config.toml")
    text = (folder / "config.toml").read_text("utf-8")
    (folder / "config.toml").write_text(text.replace('db = "kiosk-DT-MC-02.db"', 'db = "kiosk.db"'), "utf-8")
    (folder / "config.toml").chmod(0o600)
    build(name, folder / "kiosk.db")
    return folder / "config.toml"
