"""``hailong admin kiosk-bundle``: a kiosk's file for offline provisioning (sync/server/admin_cli.py adds it).

What goes in: sync/server/core/kiosk_bundle.py; the format and why it is
sealed with a passphrase: sync/bundle.py; on the kiosk: ``hailong kiosk
provision FILE`` (kiosk/provision.py).
"""
from __future__ import annotations

import sys

import click

from sync.cli_i18n import _
from sync.server.commands import _engine


@click.command("kiosk-bundle", help=_(
    "Ghi tệp cài đặt ngoại tuyến của một ki-ốt (mã, khóa, địa chỉ máy chủ, danh sách cán bộ kèm ảnh, khảo sát, "
    "khóa phiếu), mã hóa bằng một cụm mật khẩu in ra một lần. Tệp đầy đủ cấp cho ki-ốt mã truy cập mới."))
@click.option("--kiosk-id", required=True, help=_("mã ki-ốt, ví dụ DT-MC-01"))
@click.option("--desk", "desk_id", default=None, help=_("quầy của ki-ốt [mặc định: quầy duy nhất của đơn vị]"))
@click.option("--server-url", default="", help=_("địa chỉ ki-ốt dùng để đến máy chủ này, ví dụ "
                                                   "https://hailong.xa-abc.gov.vn"))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help=_("tệp được ghi"))
@click.option("--roster-only", is_flag=True, help=_(
    "chỉ danh sách, khảo sát và khóa phiếu, không có mã truy cập và khóa (cho ki-ốt đã cài): máy chủ không đổi gì"))
@click.option("--passphrase-stdin", is_flag=True, help=_(
    "đọc cụm mật khẩu từ đầu vào chuẩn thay vì để máy chủ tạo (ít nhất 12 ký tự)"))
@click.option("--media", default=None, help=_("thư mục ảnh cán bộ [mặc định: media/ cạnh town.db]"))
@click.pass_obj
def kiosk_bundle(db, kiosk_id, desk_id, server_url, out, roster_only, passphrase_stdin, media):
    from sync.filemodes import replace_private
    from sync.server.app import default_media_dir
    from sync.server.commands import Refused
    from sync.server.core.kiosk_bundle import make_bundle
    passphrase = None
    if passphrase_stdin:
        passphrase = sys.stdin.readline().strip()
        if len(passphrase) < 12:
            raise Refused(_("Cụm mật khẩu: ít nhất 12 ký tự."), 2)
    if not roster_only and not server_url:
        raise Refused(_("Thiếu --server-url: địa chỉ ki-ốt dùng để đến máy chủ này (tệp đầy đủ cần nó; "
                        "--roster-only thì không)."), 2)
    engine = _engine(db)
    try:
        with engine.begin() as conn:   # the new token is kept only once the file is written
            made = make_bundle(conn, kiosk_id, desk_id=desk_id, server_url=server_url,
                               media_dir=media or default_media_dir(db), roster_only=roster_only,
                               passphrase=passphrase)
            try:
                replace_private(out, made.data)
            except OSError as exc:
                raise Refused(_("Không ghi được {path}: {why}", path=out, why=exc.strerror or exc), 1) from None
    finally:
        engine.dispose()
    click.echo(_("Đã ghi {path}: ki-ốt {kiosk}, quầy {desk}, {officers} cán bộ, {photos} ảnh{credentials}.",
                 path=out, kiosk=made.kiosk_id, desk=made.desk_id, officers=made.officers, photos=made.photos,
                 credentials=_(", kèm mã truy cập mới (mã cũ hết hiệu lực)") if made.credentials
                 else _(", không kèm mã truy cập")), err=True)
    if passphrase is None:
        click.echo(_("Cụm mật khẩu (chỉ hiện lần này; mang riêng, không để cùng USB):"), err=True)
        click.echo(made.passphrase)
    click.echo(_("Trên ki-ốt: hailong kiosk provision {path}", path=out), err=True)


COMMANDS = [kiosk_bundle]
