"""``hailong receipt``: print or preview a QR receipt, reprint, letters, printer status.

Exit codes: 0 done; 1 the printer failed (the job is kept: ``hailong receipt
reprint`` prints it once the fault is cleared); 2 bad input or config
(unknown officer, missing receipt key, bad option).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from kiosk.commands import CONFIG_OPTION, load_or_exit, open_store
from kiosk.receipts import APPOINTMENT_MAX_DAYS
from sync.cli_i18n import _
from sync.protocol import LETTER_APOLOGY, LETTER_KINDS


def _store(cfg):
    if not cfg.db_path.exists():
        click.echo(_("Không có cơ sở dữ liệu {path} (chạy `hailong kiosk init` và nạp danh sách cán bộ)",
                     path=cfg.db_path), err=True)
        sys.exit(2)
    store = open_store(cfg)
    store.init()
    return store


def _printer(cfg, store):
    from kiosk.devices.printer import Printer
    return Printer.from_config(cfg, store)


def _print(cfg, store, image, kind, ref=None, token=None) -> None:
    from kiosk.devices.printer import PrinterError
    try:
        _printer(cfg, store).print_image(image, kind=kind, ref=ref, token=token)
    except PrinterError as exc:
        click.echo(_("máy in: {vi}\n         {en}", vi=exc.message_vi, en=exc.message_en), err=True)
        click.echo(_("Bản in được giữ lại: chạy `hailong receipt reprint` khi máy in đã được sửa."), err=True)
        sys.exit(1)


def _save(image, out: str) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    from kiosk.render import save_png
    save_png(image, path)                 # with the paper's text in the PNG
    click.echo(_("Đã ghi {path} ({width}x{height} điểm)", path=path, width=image.width, height=image.height))


RECEIPT_OPTIONS = [
    CONFIG_OPTION,
    click.option("--officer", required=True, help=_("mã cán bộ, như trong danh sách (ví dụ cb-001)")),
    click.option("--dossier", required=True, help=_("mã hồ sơ")),
    click.option("--procedure", default=None, help=_("mã thủ tục, ví dụ 1.001193")),
    click.option("--due", default=None, metavar=_("NGÀY"),
                 help=_("ngày hẹn trả kết quả của hồ sơ: 2026-12-05 hoặc 05/12/2026 (ngày trước, như người Việt "
                        "viết; mã QR ghi dạng 2026-12-05), không trước hôm nay, tối đa {days} ngày sau. In trên "
                        "phiếu; đánh giá ghi kết quả trả đúng hẹn hay trễ hẹn; phiếu còn giá trị đến "
                        "[receipt] validity_days ngày sau ngày hẹn", days=APPOINTMENT_MAX_DAYS)),
]


def receipt_options(fn):
    for opt in reversed(RECEIPT_OPTIONS):
        fn = opt(fn)
    return fn


def _due_error(exc) -> str:
    """An appointment date the receipt cannot carry, said with --due named."""
    if exc.kind == "past":
        return _("--due {day}: ngày hẹn trả kết quả trước ngày cấp phiếu ({today}); xin kiểm tra lại",
                 day=exc.text, today=f"{exc.today:%d/%m/%Y}")
    if exc.kind == "far":
        return _("--due {day}: ngày hẹn trả kết quả quá xa (hơn {days} ngày sau ngày cấp phiếu)",
                 day=exc.text, days=APPOINTMENT_MAX_DAYS)
    return _("--due «{value}»: không phải một ngày; ghi ngày hẹn trả kết quả dạng 2026-12-05 hoặc 05/12/2026",
             value=exc.text)


def _issue(config_path, officer, dossier, procedure, due=None):
    from kiosk import receipts
    try:                               # a bad --due is said before anything is opened or signed
        due_day = receipts.parse_appointment(due)
    except receipts.AppointmentError as exc:
        click.echo(_("Lỗi: {error}", error=_due_error(exc)), err=True)
        sys.exit(2)
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    try:
        issued = receipts.issue(cfg, store, officer, dossier, procedure, appointment=due_day)
    except receipts.AppointmentError as exc:
        click.echo(_("Lỗi: {error}", error=_due_error(exc)), err=True)
        sys.exit(2)
    except receipts.ReceiptIssueError as exc:
        click.echo(_("Lỗi: {error}", error=exc), err=True)
        sys.exit(2)
    return cfg, store, issued, receipts.receipt_image(cfg, store, issued)


@click.group(help=_("Phiếu QR và thư gửi người dân (in trên máy in nhiệt của quầy)."))
def receipt():
    pass


@receipt.command(help=_("Phát hành và in phiếu QR cho một hồ sơ vừa giải quyết."))
@receipt_options
@click.option("--out", default=None, help=_("lưu cả ảnh phiếu (PNG)"))
def print(config_path, officer, dossier, procedure, due, out):  # noqa: A001 - the command's name
    cfg, store, issued, image = _issue(config_path, officer, dossier, procedure, due)
    if out:
        _save(image, out)
    _print(cfg, store, image, "receipt", issued.receipt_id, issued.token)
    click.echo(_("Đã in phiếu {receipt} cho hồ sơ {dossier}", receipt=issued.receipt_id, dossier=issued.fields["h"]))
    _say_valid_until(issued)
    _letter_after(cfg, store, issued)


def _say_valid_until(issued) -> None:
    """The appointment date if any, and until when the receipt is accepted, at the kiosk's offset (as the paper says)."""
    if issued.appointment is not None:
        click.echo(_("Ngày hẹn trả kết quả: {day}", day=f"{issued.appointment:%d/%m/%Y}"))
    click.echo(_("Phiếu có giá trị đến {until}", until=f"{issued.valid_until:%H:%M %d/%m/%Y}"))


def _letter_after(cfg, store, issued) -> None:
    """[letters] with_receipt: the procedure's letter follows its receipt."""
    from kiosk import letters
    if not cfg.letters.get("with_receipt"):
        return
    kind = letters.letter_for(cfg, store, issued.fields.get("p"))
    if kind and kind != letters.APOLOGY:  # an apology needs a new date: printed on purpose only
        image = letters.letter_image(cfg, store, kind, issued.fields["o"], issued.fields["h"],
                                     issued.fields.get("p"))
        _print(cfg, store, image, f"letter:{kind}", issued.fields["h"])
        click.echo(_("Đã in thư {kind}", kind=kind))


@receipt.command(help=_("Phát hành phiếu QR và lưu thành ảnh, không in."))
@receipt_options
@click.option("--out", default="receipt.png", show_default=True, help=_("nơi lưu ảnh (PNG)"))
def preview(config_path, officer, dossier, procedure, due, out):
    _cfg, _store_, issued, image = _issue(config_path, officer, dossier, procedure, due)
    _save(image, out)
    _say_valid_until(issued)
    click.echo(issued.token)


@receipt.command(help=_("In lại phiếu hoặc thư cuối cùng (sau khi máy in gặp sự cố)."))
@CONFIG_OPTION
def reprint(config_path):
    from kiosk.devices.printer import PrinterError
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    try:
        job = _printer(cfg, store).reprint_last()
    except PrinterError as exc:
        click.echo(_("máy in: {vi}\n         {en}", vi=exc.message_vi, en=exc.message_en), err=True)
        sys.exit(2 if exc.state == "no_job" else 1)
    click.echo(_("Đã in lại {kind} {ref}", kind=job.kind, ref=job.ref or "").rstrip())


@receipt.command(help=_("Tình trạng máy in: ok, paper_low, paper_out, offline, absent, …"))
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help=_("in tình trạng dạng JSON"))
def status(config_path, as_json):
    import json

    from kiosk.devices.printer import PRINTABLE
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    state = _printer(cfg, store).state()
    if as_json:
        click.echo(json.dumps(state, ensure_ascii=False))
    else:
        click.echo(f"{state['state']}: {state['message_vi']} / {state['message_en']}")
    sys.exit(0 if state["state"] in PRINTABLE else 1)


@receipt.command(help=_("Làm một thư cho người dân; lưu với --out, in với --print."))
@CONFIG_OPTION
@click.option("--kind", required=True, type=click.Choice(list(LETTER_KINDS)),
              help=", ".join(f"{kind} {(vi if _.language == 'vi' else en).lower()}"
                             for kind, (vi, en) in LETTER_KINDS.items()))
@click.option("--officer", required=True, help=_("mã cán bộ, như trong danh sách"))
@click.option("--dossier", required=True, help=_("mã hồ sơ"))
@click.option("--procedure", default=None, help=_("mã thủ tục"))
@click.option("--new-date", default=None, help=_("{kind}: ngày hẹn trả kết quả mới (2026-12-05)",
                                                 kind=LETTER_APOLOGY))
@click.option("--out", default=None, help=_("lưu ảnh thư (PNG) thay vì in"))
@click.option("--print", "do_print", is_flag=True, help=_("in thư (cả khi có --out)"))
def letter(config_path, kind, officer, dossier, procedure, new_date, out, do_print):
    from kiosk import letters
    from kiosk.receipts import ReceiptIssueError
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    try:
        when = letters.parse_new_date(new_date) if new_date else None
        image = letters.letter_image(cfg, store, kind, officer, dossier, procedure, when)
    except (letters.LetterError, ReceiptIssueError) as exc:
        click.echo(_("Lỗi: {error}", error=exc), err=True)
        sys.exit(2)
    if out:
        _save(image, out)
    if do_print or not out:
        _print(cfg, store, image, f"letter:{kind}", dossier)
        click.echo(_("Đã in thư {kind}", kind=kind))
