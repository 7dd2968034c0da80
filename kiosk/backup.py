"""``hailong kiosk backup`` / ``restore``: kiosk.db copied while the kiosk runs, checked, and put back.

A backup is ``kiosk-YYYYmmddTHHMMSSffffffZ.db`` in ``--dir`` (default
``backups/`` beside kiosk.db), 0600: it holds the kiosk's key. It counts only
once ``PRAGMA integrity_check`` and the chain verify (``KioskStore.verify``,
the code of ``hailong kiosk verify``) pass on the copy. The last backup's
time and size are kept in ``kiosk.db.last-backup.json`` beside kiosk.db
(:func:`last_backup`, for the health summary). The file half (snapshot,
fsync, atomic rename, rotation) is sync/backupfiles.py, shared with the
town server. Procedure: docs/backups.md.
"""
from __future__ import annotations

from pathlib import Path

from sync import backupfiles
from sync.backupfiles import BackupError, Made
from sync.cli_i18n import _

PREFIX = "kiosk"
EXT = ".db"
DEFAULT_KEEP = 14


def state_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".last-backup.json")


def last_backup(db_path: str | Path) -> dict | None:
    """The last backup made of this kiosk.db: {"path", "size", "at" (UTC), "seconds", "ratings"}, or None."""
    return backupfiles.read_state(state_path(db_path))


def default_dir(db_path: str | Path) -> Path:
    return Path(db_path).parent / "backups"


def check_copy(path: Path, key_hex: str) -> int:
    """integrity_check and the chain verify of a kiosk.db file; its number of ratings. BackupError when not sound."""
    from kiosk.store import KioskStore, StoreError
    bad = backupfiles.integrity(path)
    if bad is not None:
        raise BackupError(_("{path}: kiểm tra toàn vẹn SQLite không đạt: {why}", path=path, why=bad))
    import sqlite3
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise BackupError(_("{path}: không đọc được: {why}", path=path, why=exc)) from None
    if "ratings" not in tables or "meta" not in tables:
        raise BackupError(_("{path}: không phải kiosk.db (không có bảng ratings)", path=path))
    store = KioskStore(path)
    try:
        try:
            bad_seq, why = store.verify(key_hex)
        except StoreError as exc:
            raise BackupError(str(exc)) from None
        if bad_seq is not None:
            raise BackupError(_("{path}: chuỗi HỎNG ở số {seq}: {why}", path=path, seq=bad_seq, why=why))
        return store.count()
    finally:
        store.close()
        backupfiles.single_file(path)


def backup(db_path: str | Path, key_hex: str, folder: str | Path | None = None,
           keep: int = DEFAULT_KEEP) -> Made:
    """One backup of the kiosk.db at ``db_path`` (the kiosk may be running); BackupError when none was made."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise BackupError(_("Không có cơ sở dữ liệu {path} (chạy `hailong kiosk init`)", path=db_path))
    target = backupfiles.backup_folder(folder if folder is not None else default_dir(db_path))
    counted = {}

    def check(tmp: Path) -> None:
        counted["ratings"] = check_copy(tmp, key_hex)

    made = backupfiles.make_backup(target, PREFIX, EXT, keep,
                                   lambda tmp: backupfiles.snapshot_sqlite(db_path, tmp), check)
    try:
        backupfiles.write_state(state_path(db_path), {**made.as_json(), "ratings": counted.get("ratings")})
    except OSError:
        pass    # the backup is made and sound; the health summary will only not know it yet
    return made


def _last_seq(path: Path) -> int:
    import sqlite3
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COALESCE(MAX(seq), 0) FROM ratings").fetchone()[0]
    finally:
        con.close()


def restore(backup_file: str | Path, db_path: str | Path, key_hex: str, force: bool = False) -> dict:
    """Put a backup in place of kiosk.db: {"ratings", "aside", "seq"}.

    Refused (BackupError) without ``force`` when the kiosk is running (kiosk.db
    is open in another process) or kiosk.db holds a later seq than the backup
    (it is newer: restoring would lose ratings; `hailong kiosk init --recover`
    continues the chain from the server instead). The backup is checked first;
    the replaced kiosk.db is kept aside as ``kiosk.db.replaced-STAMP``; the
    restored file is verified again in place.
    """
    src = backupfiles.regular_file(backup_file)
    db_path = Path(db_path)
    tmp = backupfiles.copy_beside(src, db_path)    # checked where it will run: the backup itself is not touched
    try:
        ratings = check_copy(tmp, key_hex)
        if db_path.exists():
            if backupfiles.in_use(db_path) and not force:
                raise BackupError(_("{path} đang được dùng (ki-ốt đang chạy?): dừng ki-ốt trước, hoặc thêm "
                                    "--force", path=db_path))
            try:
                current = _last_seq(db_path)
            except Exception:   # noqa: BLE001 - an unreadable kiosk.db is what a restore replaces
                current = None
            restored = _last_seq(tmp)
            if current is not None and current > restored and not force:
                raise BackupError(_("{path} mới hơn bản sao lưu (số {current} > số {restored}): khôi phục sẽ "
                                    "mất đánh giá; thêm --force nếu thật sự muốn (chuỗi tiếp tục bằng "
                                    "`hailong kiosk init --recover`)",
                                    path=db_path, current=current, restored=restored))
        aside = backupfiles.swap_in(tmp, db_path)
    except BaseException:
        backupfiles.discard(tmp)
        raise
    check_copy(db_path, key_hex)
    return {"ratings": ratings, "aside": aside, "seq": _last_seq(db_path)}


# -- `hailong kiosk backup` / `hailong kiosk restore` (kiosk/commands.py adds COMMANDS to its group) ----------

def _config(ctx, config_path: str):
    """config.toml as `hailong kiosk` loads it (the group's --config unless the command's own is given)."""
    import sys

    import click

    from kiosk.config import ConfigError, load
    path = config_path if config_path != "config.toml" else (ctx.obj or config_path)
    try:
        cfg = load(path)
    except ConfigError as exc:
        click.echo(_("Lỗi cấu hình: {error}", error=exc), err=True)
        sys.exit(2)
    if not cfg.kiosk_key:
        click.echo(_("Lỗi cấu hình: [server] key: cần để kiểm tra chữ ký (hoặc [kiosk] key)"), err=True)
        sys.exit(2)
    return cfg


def _commands():
    import sys

    import click

    config_option = click.option("--config", "config_path", default="config.toml", show_default=True,
                                 type=click.Path(dir_okay=False), help=_("tệp config.toml của ki-ốt"))

    @click.command("backup", help=_("Sao lưu kiosk.db trong khi ki-ốt chạy: bản sao được kiểm tra (toàn vẹn, "
                                    "chuỗi và chữ ký), chỉ chủ sở hữu đọc được, giữ N bản mới nhất."))
    @config_option
    @click.option("--dir", "folder", type=click.Path(file_okay=False), default=None,
                  help=_("thư mục sao lưu [mặc định: backups/ cạnh kiosk.db]"))
    @click.option("--keep", type=click.IntRange(min=1), default=DEFAULT_KEEP, show_default=True,
                  help=_("số bản sao lưu mới nhất được giữ"))
    @click.pass_context
    def backup_cmd(ctx, config_path, folder, keep):
        cfg = _config(ctx, config_path)
        try:
            made = backup(cfg.db_path, cfg.kiosk_key, folder, keep)
        except BackupError as exc:
            click.echo(_("Sao lưu KHÔNG thành công: {why}", why=exc), err=True)
            sys.exit(1)
        state = last_backup(cfg.db_path) or {}
        click.echo(_("Đã sao lưu {path}: {ratings} lượt đánh giá, {size} KB, {seconds} giây; đã xóa {removed} "
                     "bản cũ", path=made.path, ratings=state.get("ratings"), size=f"{made.size / 1024:.0f}",
                     seconds=f"{made.seconds:.1f}", removed=len(made.removed)))

    @click.command("restore", help=_("Khôi phục kiosk.db từ một bản sao lưu (dừng ki-ốt trước); kiosk.db cũ được "
                                     "giữ lại bên cạnh, bản khôi phục được kiểm tra lại."))
    @click.argument("backup_file", metavar="TỆP", type=click.Path(dir_okay=False))
    @config_option
    @click.option("--force", is_flag=True,
                  help=_("khôi phục cả khi kiosk.db đang được dùng hoặc mới hơn bản sao lưu"))
    @click.pass_context
    def restore_cmd(ctx, backup_file, config_path, force):
        cfg = _config(ctx, config_path)
        try:
            done = restore(backup_file, cfg.db_path, cfg.kiosk_key, force=force)
        except BackupError as exc:
            click.echo(_("Khôi phục KHÔNG thành công: {why}", why=exc), err=True)
            sys.exit(1)
        if done["aside"]:
            click.echo(_("kiosk.db cũ được giữ ở {path}", path=done["aside"]))
        click.echo(_("Đã khôi phục {path}: {ratings} lượt đánh giá, số cuối {seq}; chuỗi và chữ ký đều đúng. "
                     "Chạy `hailong kiosk verify` rồi khởi động lại ki-ốt.", path=cfg.db_path,
                     ratings=done["ratings"], seq=done["seq"]))

    return [backup_cmd, restore_cmd]


#: click commands added to `hailong kiosk`
COMMANDS: list = _commands()
