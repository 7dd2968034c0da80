"""Letters at the desk in the real kiosk app (Xvfb) with a FakePrinter on a pty.

The staff panel's "In thư" (chooser, apology date, faults, reprint, the
letter after a receipt) and the optional thank-you after a rating, which
must be the same paper whatever the citizen rated. Printed pages are read
back from the pty and compared with kiosk.letters' rendering of the same
inputs; zxingcpp checks that a letter carries no QR code.
"""
from __future__ import annotations

from datetime import date

import pytest
import zxingcpp
from kiosk_runs import run_devices
from PIL import Image, ImageChops
from ptys import write_kiosk

from kiosk import letters
from kiosk.config import load
from kiosk.ui.screens.letter_chooser import (
    BAD_DATE,
    NEED_DATE,
    PAST_DATE,
    new_date_from,
)


def same_page(printed: Image.Image, expected: Image.Image) -> bool:
    """The printed dots are the rendered letter's (the printer may pad the width to whole bytes)."""
    a, b = printed.convert("L"), expected.convert("L")
    if a.size != b.size:
        return False
    return ImageChops.difference(a, b).getbbox() is None


def pages(out, prefix, count):
    return [Image.open(out / f"{prefix}_{i}.png") for i in range(count)]


@pytest.fixture(scope="module")
def letters_run(xvfb, artifacts, tmp_path_factory):
    out = artifacts("kiosk")
    for old in out.glob("staff_letter_printed_*.png"):
        old.unlink()
    tmp = tmp_path_factory.mktemp("letters")
    return (*run_devices(xvfb, tmp, out, "staff_letters"), out, load(tmp / "config.toml"))


@pytest.fixture(scope="module")
def after_rating_run(xvfb, artifacts, tmp_path_factory):
    out = artifacts("kiosk")
    for old in out.glob("after_rating_printed_*.png"):
        old.unlink()
    tmp = tmp_path_factory.mktemp("after_rating")
    return (*run_devices(xvfb, tmp, out, "letters_after_rating"), out, load(tmp / "config.toml"))


def test_staff_prints_the_congratulation_a_birth_registration_brings(letters_run):
    result, _rows, store, out, cfg = letters_run
    notes = result["notes"]
    ok, message, closed = notes["no_dossier"]
    assert not ok and message == "Xin nhập hoặc quét mã hồ sơ trước khi in thư." and closed
    assert notes["suggested"] == ["chuc_mung", "chuc_mung"]             # the roster's letter for 1.001193
    texts = result["texts"]["staff_letter_chooser"]
    assert "In thư cho hồ sơ KS-77" in texts and "Thủ tục này gợi ý: Chúc mừng" in texts
    assert {"Cảm ơn", "Xin lỗi và hẹn lại", "Chúc mừng", "Chia buồn"} <= set(texts)
    assert "Ngày hẹn trả kết quả mới" not in texts                       # the date only for the apology
    assert notes["congratulation_outcome"] == [True, "Đã in thư chúc mừng cho hồ sơ KS-77."]
    printed = pages(out, "staff_letter_printed", notes["jobs"])
    first = printed[0]
    assert zxingcpp.read_barcodes(first) == []                          # a letter, not a receipt
    assert first.width == 384 and 1.2 < first.height / first.width < 4
    assert same_page(first, letters.letter_image(cfg, store, "chuc_mung", "cb-002", "KS-77", "1.001193"))
    assert (out / "staff_letter_chooser.png").stat().st_size > 10_000


def test_apology_needs_a_real_new_date(letters_run):
    result, _rows, store, out, cfg = letters_run
    notes = result["notes"]
    assert notes["apology_no_date"] == [NEED_DATE, True]                # stays open, says why
    assert NEED_DATE in result["texts"]["staff_letter_apology_no_date"]
    assert "Ngày hẹn trả kết quả mới" in result["texts"]["staff_letter_apology_no_date"]
    assert notes["apology_bad_date"] == [BAD_DATE, "31/11/2030"]
    assert notes["apology_past_date"] == PAST_DATE
    new_date = date.fromisoformat(notes["apology_new_date"])
    assert notes["apology_date_shown"] == new_date.strftime("%d/%m/%Y")
    assert notes["apology_outcome"] == [True, "Đã in thư xin lỗi và hẹn lại cho hồ sơ KS-77."]
    apology = pages(out, "staff_letter_printed", notes["jobs"])[1]
    assert same_page(apology, letters.letter_image(cfg, store, "xin_loi", "cb-002", "KS-77", "1.001193",
                                                   new_date))
    # English labels on the chooser
    en = result["texts"]["staff_letter_chooser_en"]
    assert {"Letter for dossier KS-77", "Apology, new date", "Condolences", "New date for the result",
            "The apology needs the new date for the result: type day/month/year."} <= set(en)


def test_letter_on_no_paper_then_reprint_and_letter_after_receipt(letters_run):
    result, _rows, store, out, cfg = letters_run
    notes = result["notes"]
    assert notes["suggested_again"] == "chuc_mung"
    ok, message = notes["paper_out_outcome"]
    assert not ok and message.startswith("Máy in hết giấy.") and "In lại" in message
    assert notes["reprint_outcome"] == [True, "Đã in lại (KS-77)."]
    ok, message = notes["with_receipt_outcome"]
    assert ok and message == "Đã in phiếu cho hồ sơ KS-77. Đã in thư chúc mừng cho hồ sơ KS-77."
    assert notes["jobs"] == 5
    printed = pages(out, "staff_letter_printed", 5)
    assert same_page(printed[2], letters.letter_image(cfg, store, "chia_buon", "cb-002", "KS-77", "1.001193"))
    assert len(zxingcpp.read_barcodes(printed[3])) == 1                 # the receipt, then its letter
    assert zxingcpp.read_barcodes(printed[4]) == []
    assert same_page(printed[4], printed[0])


def test_thank_you_after_rating_is_the_same_for_every_level(after_rating_run):
    result, rows, store, out, cfg = after_rating_run
    notes = result["notes"]
    assert notes["threads_when_off"] == 0 and notes["jobs_when_off"] == 0   # off by default
    assert [r["level"] for r in rows] == [3, 3, 1, 2, 1, 2]
    printed = pages(out, "after_rating_printed", notes["jobs"])
    assert notes["jobs"] == 4                                           # 3 + the one after the fault
    level3, level1 = printed[0], printed[1]
    assert level3.tobytes() == level1.tobytes()                         # nothing tells the level
    walk_up = letters.after_rating_image(cfg, store, letters.AfterRating("cb-002", "—", None))
    assert same_page(level3, walk_up) and zxingcpp.read_barcodes(level3) == []
    receipt = letters.after_rating_image(cfg, store, letters.AfterRating("cb-003", "HS-2026-0310", "1.000656"))
    assert same_page(printed[2], receipt)
    # no paper: the citizen is thanked and sent back as always; nothing printed, nothing blocked
    assert "Cảm ơn Ông/Bà đã đánh giá!" in notes["thanks_texts_paper_out"]
    assert notes["thanks_seconds_paper_out"] < 4
    assert notes["jobs_after_paper_out"] == 3 and notes["printer_state_paper_out"] == "paper_out"
    after_fault = letters.after_rating_image(cfg, store, letters.AfterRating("cb-001", "—", None))
    assert same_page(printed[3], after_fault)
    assert store.verify() == (None, None)


# -- the plain logic, no Kivy ------------------------------------------------------------

def test_after_rating_decision(tmp_path):
    cfg, store = write_kiosk(tmp_path, letters={"after_rating": True})
    record = {"officer_id": "cb-001", "level": 1, "dossier_code": "HS-9", "procedure_code": None}
    assert letters.after_rating_letter(cfg, record, printer_configured=False) is None
    assert letters.after_rating_letter(cfg, None, printer_configured=True) is None
    letter = letters.after_rating_letter(cfg, record, printer_configured=True)
    assert letter == letters.after_rating_letter(cfg, dict(record, level=3, reasons=["thai_do"]), True)
    assert letter == letters.AfterRating("cb-001", "HS-9", None)
    assert letters.after_rating_letter(cfg, dict(record, dossier_code=None), True).dossier == "—"
    (tmp_path / "off").mkdir()
    off, _ = write_kiosk(tmp_path / "off")
    assert off.letters["after_rating"] is False
    assert letters.after_rating_letter(off, record, True) is None
    text = letters.letter_text("cam_on", unit="UBND xã Đồng Tâm", desk="Quầy 1", officer="Trần Văn Đức",
                               title=None, procedure=None, dossier="—", today=date(2026, 11, 28),
                               template_name=letters.AFTER_RATING_TEMPLATE)
    assert "Hồ sơ: —" in text and "Ngày 28 tháng 11 năm 2026" in text and "$" not in text
    assert "hài lòng" not in text.lower()                               # no word of any level


def test_new_date_typed_on_the_chooser():
    today = date(2026, 11, 28)
    assert new_date_from("0512", today) == (None, NEED_DATE)
    assert new_date_from("31112026", today) == (None, BAD_DATE)
    assert new_date_from("27112026", today) == (None, PAST_DATE)
    assert new_date_from("28112026", today) == (date(2026, 11, 28), "")
    assert new_date_from("05122026", today) == (date(2026, 12, 5), "")
