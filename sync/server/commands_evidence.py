"""`hailong admin` sub-commands of the evidence feature (issue 11); sync/server/admin_cli.py adds COMMANDS to the group.

``hailong admin --db town.db evidence-pack --period 2026-Q4 --out hoso-2026-Q4.zip``
writes the period's evidence pack (sync/server/reports/evidence_pack.py; the
format and its check: sync/evidence.py, ``hailong verify-pack``).
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from sync.cli_i18n import _
from sync.server.commands import Refused, _engine


@click.command("evidence-pack", help=_("Ghi hồ sơ kiểm chứng của một kỳ (tệp .zip ký số): các đánh giá (CSV, JSON "
                                       "Lines), báo cáo Word, cảnh báo, vụ việc, thư đã gửi, đầu chuỗi từng ki-ốt; "
                                       "kiểm tra bằng hailong verify-pack."))
@click.option("--period", required=True, metavar="KỲ",
              help=_("kỳ báo cáo: 2026, 2026-11, 2026-Q4, 2026-H2 hoặc 2026-11-01..2026-11-28"))
@click.option("--out", "out", required=True, type=click.Path(), metavar="TỆP.zip",
              help=_("tệp hồ sơ sẽ ghi (chỉ chủ sở hữu đọc được: hồ sơ chứa ý kiến của người dân)"))
@click.pass_obj
def evidence_pack(db, period, out):
    from sync.evidence import key_text
    from sync.server.core import tlog_store
    from sync.server.core.db import make_reader
    from sync.server.core.signing import ensure_signing_key
    from sync.server.reports import periods
    from sync.server.reports.evidence_pack import write_pack
    from sync.server.web.base import report_issuer

    try:
        chosen = periods.parse(period)
    except periods.PeriodError as exc:
        raise Refused(f"--period: {exc}", 2) from None     # periods.py words it (Vietnamese, as the pages)
    target = Path(out).expanduser()
    if target.is_dir():
        raise Refused(_("--out: {path} là một thư mục; hãy cho tên tệp, ví dụ {path}/hoso-{period}.zip",
                        path=target, period=chosen.key.replace("..", "_")), 2)
    if not target.parent.is_dir():
        raise Refused(_("--out: không có thư mục {folder} (hãy tạo nó trước)", folder=target.parent), 2)
    engine = _engine(db)
    reader = make_reader(engine)
    try:
        with engine.begin() as conn:
            key = ensure_signing_key(conn)
            tlog_store.sign_now(conn)   # the log's checkpoint the pack carries holds every rating so far
        with reader.connect() as conn:
            issuer = report_issuer(conn)
        began = time.monotonic()
        try:
            result = write_pack(reader, chosen, target, key, issuer)
        except PermissionError as exc:
            raise Refused(_("--out: không ghi được {path} ({why})", path=target, why=exc.strerror), 1) from None
    finally:
        reader.dispose()
        engine.dispose()
    click.echo(_("Đã ghi hồ sơ kiểm chứng {path}: {label}, {ratings} đánh giá của {kiosks} ki-ốt, {size} MB, "
                 "{seconds} giây.", path=result.path, label=chosen.label(), ratings=result.ratings,
                 kiosks=result.kiosks, size=f"{result.size / 1e6:.1f}", seconds=f"{time.monotonic() - began:.1f}"))
    click.echo(_("Khóa công khai của máy chủ: {key}", key=key_text(result.public_key)))
    click.echo(_("Kiểm tra: hailong verify-pack {path} --key {hex}", path=result.path, hex=result.public_key))


#: click commands added to `hailong admin`
COMMANDS: list = [evidence_pack]
