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
from sync.protocol import LETTER_APOLOGY, LETTER_KINDS


def _store(cfg):
    if not cfg.db_path.exists():
        click.echo(f"{cfg.db_path}: no such database (run `hailong kiosk init` and load a roster)", err=True)
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
        click.echo(f"printer: {exc.message_vi}\n         {exc.message_en}", err=True)
        click.echo("The job is kept: run `hailong receipt reprint` once the printer is fixed.", err=True)
        sys.exit(1)


def _save(image, out: str) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    click.echo(f"wrote {path} ({image.width}x{image.height} dots)")


RECEIPT_OPTIONS = [
    CONFIG_OPTION,
    click.option("--officer", required=True, help="officer id, as in the roster (e.g. cb-001)"),
    click.option("--dossier", required=True, help="dossier code (mã hồ sơ)"),
    click.option("--procedure", default=None, help="procedure code (mã thủ tục), e.g. 1.001193"),
]


def receipt_options(fn):
    for opt in reversed(RECEIPT_OPTIONS):
        fn = opt(fn)
    return fn


def _issue(config_path, officer, dossier, procedure):
    from kiosk import receipts
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    try:
        issued = receipts.issue(cfg, store, officer, dossier, procedure)
    except receipts.ReceiptIssueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    return cfg, store, issued, receipts.receipt_image(cfg, store, issued)


@click.group()
def receipt():
    """QR receipts and letters for the citizen (printed on the desk's thermal printer)."""


@receipt.command()
@receipt_options
@click.option("--out", default=None, help="also save the receipt image (PNG)")
def print(config_path, officer, dossier, procedure, out):  # noqa: A001 - the command's name
    """Issue and print a QR receipt for a dossier just handled."""
    cfg, store, issued, image = _issue(config_path, officer, dossier, procedure)
    if out:
        _save(image, out)
    _print(cfg, store, image, "receipt", issued.receipt_id, issued.token)
    click.echo(f"printed receipt {issued.receipt_id} for dossier {issued.fields['h']}")
    _letter_after(cfg, store, issued)


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
        click.echo(f"printed letter {kind}")


@receipt.command()
@receipt_options
@click.option("--out", default="receipt.png", show_default=True, help="where to save the image (PNG)")
def preview(config_path, officer, dossier, procedure, out):
    """Issue a QR receipt and save it as an image, without printing."""
    _cfg, _store_, issued, image = _issue(config_path, officer, dossier, procedure)
    _save(image, out)
    click.echo(issued.token)


@receipt.command()
@CONFIG_OPTION
def reprint(config_path):
    """Print the last receipt or letter again (after a printer fault)."""
    from kiosk.devices.printer import PrinterError
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    try:
        job = _printer(cfg, store).reprint_last()
    except PrinterError as exc:
        click.echo(f"printer: {exc.message_vi}\n         {exc.message_en}", err=True)
        sys.exit(2 if exc.state == "no_job" else 1)
    click.echo(f"reprinted {job.kind} {job.ref or ''}".rstrip())


@receipt.command()
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="print the state as JSON")
def status(config_path, as_json):
    """The printer's state: ok, paper_low, paper_out, offline, absent, ..."""
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


@receipt.command()
@CONFIG_OPTION
@click.option("--kind", required=True, type=click.Choice(list(LETTER_KINDS)),
              help=", ".join(f"{kind} {en.lower()}" for kind, (_vi, en) in LETTER_KINDS.items()))
@click.option("--officer", required=True, help="officer id, as in the roster")
@click.option("--dossier", required=True, help="dossier code (mã hồ sơ)")
@click.option("--procedure", default=None, help="procedure code (mã thủ tục)")
@click.option("--new-date", default=None, help=f"{LETTER_APOLOGY}: the new date for the result (2026-12-05)")
@click.option("--out", default=None, help="save the letter image (PNG) instead of printing")
@click.option("--print", "do_print", is_flag=True, help="print it (also with --out)")
def letter(config_path, kind, officer, dossier, procedure, new_date, out, do_print):
    """Make a letter for the citizen; saved with --out, printed with --print."""
    from kiosk import letters
    from kiosk.receipts import ReceiptIssueError
    cfg = load_or_exit(config_path)
    store = _store(cfg)
    try:
        when = letters.parse_new_date(new_date) if new_date else None
        image = letters.letter_image(cfg, store, kind, officer, dossier, procedure, when)
    except (letters.LetterError, ReceiptIssueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if out:
        _save(image, out)
    if do_print or not out:
        _print(cfg, store, image, f"letter:{kind}", dossier)
        click.echo(f"printed letter {kind}")
