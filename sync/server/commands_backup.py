"""`hailong admin` sub-commands of backups (issue 14); sync/server/admin_cli.py adds COMMANDS to the group.

``hailong admin --db URL backup --dir DIR [--keep N]`` and ``hailong admin --db URL restore FILE [--force]``
(sync/server/core/backup.py; the procedure: docs/backups.md).
"""
from __future__ import annotations

import click

from sync.cli_i18n import _
from sync.server.commands import Refused, _engine, shown


@click.command("backup", help=_("Sao lưu cơ sở dữ liệu của thị trấn trong khi máy chủ chạy (SQLite: API sao lưu; "
                                "PostgreSQL: pg_dump -Fc), kiểm tra bản sao lưu, chỉ chủ sở hữu đọc được, "
                                "giữ N bản mới nhất."))
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False), help=_("thư mục sao lưu"))
@click.option("--keep", type=click.IntRange(min=1), default=14, show_default=True,
              help=_("số bản sao lưu mới nhất được giữ"))
@click.pass_obj
def backup_cmd(db, folder, keep):
    from sync.server.core.backup import BackupError, backup
    engine = _engine(db)
    try:
        made = backup(engine, db, folder, keep)
    except BackupError as exc:
        raise Refused(_("Sao lưu KHÔNG thành công: {why}", why=exc), 1) from None
    finally:
        engine.dispose()
    click.echo(_("Đã sao lưu {db} vào {path}: {size} KB, {seconds} giây; đã xóa {removed} bản cũ",
                 db=shown(db), path=made.path, size=f"{made.size / 1024:.0f}", seconds=f"{made.seconds:.1f}",
                 removed=len(made.removed)))


@click.command("restore", help=_("Khôi phục cơ sở dữ liệu của thị trấn từ một bản sao lưu (dừng máy chủ trước); "
                                 "cái bị thay được giữ lại, bản khôi phục được kiểm tra lại."))
@click.argument("backup_file", metavar="TỆP", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True,
              help=_("khôi phục cả khi cơ sở dữ liệu đang được dùng hoặc mới hơn bản sao lưu"))
@click.pass_obj
def restore_cmd(db, backup_file, force):
    from sync.server.core.backup import BackupError, restore
    try:
        done = restore(db, backup_file, force=force)
    except BackupError as exc:
        raise Refused(_("Khôi phục KHÔNG thành công: {why}", why=exc), 1) from None
    if done.get("aside"):
        click.echo(_("Cái bị thay được giữ ở {path}", path=done["aside"]))
    click.echo(_("Đã khôi phục {db}: {ratings} đánh giá của {kiosks} ki-ốt; mọi chuỗi đều đúng. Khởi động lại máy chủ.",
                 db=shown(db), ratings=done["ratings"], kiosks=done["kiosks"]))


#: click commands added to `hailong admin`
COMMANDS: list = [backup_cmd, restore_cmd]
