"""Words the kiosk shares with the town server are spelled once, in sync/protocol.py
(letter kinds, the heartbeat's device-state codes); the kiosk's own words for its
devices live in kiosk/devices; one nfc for everything."""
import inspect

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner
from helpers import ROOT

from kiosk import config, i18n, letters, receipt_commands, render, telex, visit
from kiosk.devices import printer, scanner
from sync import protocol

GOOD = '[kiosk]\nid = "DT-MC-01"\nunit_code = "13321"\ndesk_id = "quay-1"\n'


@pytest.fixture(scope="module")
def catalogue():
    with open(ROOT / "assets/locale/en/LC_MESSAGES/hailong.po", "rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def test_letter_kinds_are_the_protocols():
    assert letters.KINDS is protocol.LETTER_KINDS
    assert list(letters.KINDS) == ["cam_on", "xin_loi", "chuc_mung", "chia_buon"]
    assert letters.APOLOGY == protocol.LETTER_APOLOGY == "xin_loi"
    assert letters.AFTER_RATING_TEMPLATE == "cam_on_sau_danh_gia"
    assert protocol.letter_kind("xin_loi_hen_lai") == "xin_loi" and protocol.letter_kind("x") is None


def test_the_chooser_labels_are_catalogued_msgids(catalogue):
    labels = [protocol.letter_label(k) for k in protocol.LETTER_KINDS]
    assert labels == ["Cảm ơn", "Xin lỗi và hẹn lại", "Chúc mừng", "Chia buồn"]
    assert all(catalogue.get(label) for label in labels)


@pytest.mark.parametrize("kind", ["", *protocol.LETTER_KINDS])
def test_config_takes_every_kind(tmp_path, kind):
    path = tmp_path / "config.toml"
    path.write_text(GOOD + f'[letters]\ndefault = "{kind}"\nby_procedure = {{ "1.001193" = "{kind}" }}\n', "utf-8")
    assert config.load(path).letters["default"] == kind


def test_config_refuses_other_kinds(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(GOOD + '[letters]\nby_procedure = { "1.001193" = "xin_loi_hen_lai" }\n', "utf-8")
    with pytest.raises(config.ConfigError, match="each letter must be cam_on, xin_loi, chuc_mung, chia_buon or empty"):
        config.load(path)


def test_receipt_letter_command_offers_the_kinds():
    out = CliRunner().invoke(receipt_commands.receipt, ["letter", "--help"])
    assert out.exit_code == 0
    for kind in protocol.LETTER_KINDS:
        assert kind in out.output


def test_device_states_are_the_heartbeats_codes(catalogue):
    assert set(printer.GLANCE) <= set(protocol.DEVICE_STATES)
    assert set(scanner.GLANCE) <= set(protocol.DEVICE_STATES)
    assert set(printer.GLANCE) <= set(printer.MESSAGES)
    for words in (*printer.GLANCE.values(), *scanner.GLANCE.values()):
        assert catalogue.get(words), words


def test_no_printer_says_what_the_printer_module_says():
    from kiosk.staff import StaffPanel
    state = printer.unconfigured_state()
    assert (state["message_vi"], state["message_en"]) == printer.MESSAGES["not_configured"]
    out = StaffPanel._no_printer()
    assert (out.ok, out.message_vi, out.message_en, out.extra) == (
        False, state["message_vi"], state["message_en"], {"state": "not_configured"})


def test_one_nfc():
    assert telex.nfc is protocol.nfc
    for module in (render, telex, visit, i18n, scanner, letters, config):
        source = inspect.getsource(module)
        assert 'normalize("NFC"' not in source and "def nfc" not in source, module.__name__
    assert render._printed(None) == "" and render._printed(12) == "12"
    assert render._printed("Nguye\u0302\u0303n") == "Nguyễn"
