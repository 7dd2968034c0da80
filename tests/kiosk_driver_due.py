"""tests/kiosk_driver.py with the scenarios of receipts that carry the appointment date (issue 12).

    python tests/kiosk_driver_due.py CONFIG SCENARIO OUT_DIR [--demo]

The same driver (real app, real MotionEvents, pty scanner and printer); the
scenarios live here so they stay beside their tests
(tests/kiosk/test_receipt_due_app.py, tests/kiosk/test_staff_due_app.py).
"""
from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kiosk_driver as kd


def _decoded(image) -> dict:
    """The fields of the receipt printed on ``image`` (its QR read back by zxing)."""
    import zxingcpp

    from kiosk import receipts
    from sync import protocol
    app = kd.DEVICES["app"]
    codes = zxingcpp.read_barcodes(image.convert("L"))
    fields, _rid = protocol.parse_receipt_token(codes[0].text, receipts.receipt_key(app.cfg, app.store))
    return fields


def _chooser_button(d: kd.Driver, pred):
    chooser = d.app.staff_screen.due_chooser
    return d.find(lambda w: w.__class__.__name__ in ("BigButton", "DueQuick") and pred(w), root=chooser)


def _quick(d: kd.Driver, days: int):
    yield from d.tap(_chooser_button(d, lambda w: getattr(w, "days", None) == days
                                     and w.__class__.__name__ == "DueQuick"))


def _chooser_id(d: kd.Driver, name: str):
    return d.app.staff_screen.due_chooser.ids[name]


def _open_due(d: kd.Driver):
    screen = d.app.staff_screen
    yield from d.tap(screen.ids.due_button)
    yield from d.wait_for(lambda: screen.due_chooser is not None, 3, "the appointment chooser")
    yield 0.3


def _chooser_texts(d: kd.Driver) -> list[str]:
    from kivy.uix.label import Label
    chooser = d.app.staff_screen.due_chooser
    return [w.text for w in d.walk(chooser) if isinstance(w, Label) and w.text and d._opaque(w, chooser)]


def _print_and_read(d: kd.Driver, count_before: int):
    screen = d.app.staff_screen
    fake = kd.DEVICES["fake"]
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "printing")
    yield from d.wait_for(lambda: len(fake.printed.jobs()) > count_before, 5, "the printed page")


def staff_due(d: kd.Driver):
    """Panel: the appointment date chosen with big buttons, printed on the receipt and in its QR; then none."""
    app = d.app
    kd.DEVICES["app"] = app
    notes = d.result["notes"]
    fake = kd.DEVICES["fake"]
    today = app.cfg.now().date()
    notes["today"] = today.isoformat()
    yield from d.wait_screen("welcome")
    yield from kd.pin(d, "222222")                          # cb-002
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    for key in "HS-DUE-1":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    notes["due_button_before"] = screen.ids.due_button.text
    yield from d.shot("staff_due_panel_empty")
    # the chooser, no date yet
    yield from _open_due(d)
    notes["chooser_empty_texts"] = _chooser_texts(d)
    yield from d.shot("staff_due_chooser_empty")
    notes["targets"] = kd.touch_targets_on(d)
    # one day back from nothing: yesterday, with what a past date is good for
    yield from d.tap(_chooser_id(d, "minus_button"))
    notes["after_minus"] = [str(screen.due_chooser.day), screen.due_chooser.message,
                            _chooser_id(d, "message").text]
    # +3 days from today, one on, one back
    yield from _quick(d, 3)
    notes["after_quick3"] = str(screen.due_chooser.day)
    yield from d.tap(_chooser_id(d, "plus_button"))
    notes["after_plus"] = str(screen.due_chooser.day)
    yield from d.tap(_chooser_id(d, "minus_button"))
    notes["after_plus_minus"] = str(screen.due_chooser.day)
    notes["chooser_texts"] = _chooser_texts(d)
    yield from d.shot("staff_due_chooser")
    yield from d.tap(_chooser_id(d, "done_button"))
    yield from d.wait_for(lambda: screen.due_chooser is None, 3, "the chooser closed")
    notes["appointment_on_panel"] = str(screen.appointment)
    notes["due_button_chosen"] = screen.ids.due_button.text
    yield from d.shot("staff_due_panel")
    # English: the panel, then the chooser again (it opens on the date chosen)
    yield from d.tap(app.root.ids.language_button)
    yield 0.3
    notes["due_button_en"] = screen.ids.due_button.text
    yield from d.shot("staff_due_panel_en")
    yield from _open_due(d)
    notes["chooser_texts_en"] = _chooser_texts(d)
    notes["targets_en"] = kd.touch_targets_on(d)
    yield from d.shot("staff_due_chooser_en")
    yield from d.tap(_chooser_id(d, "cancel_button"))        # cancel changes nothing
    yield from d.wait_for(lambda: screen.due_chooser is None, 3, "the chooser closed")
    notes["appointment_after_cancel"] = str(screen.appointment)
    yield from d.tap(app.root.ids.language_button)
    yield 0.3
    # print: the date is on the paper and in the QR code; the panel forgets it
    yield from _print_and_read(d, 0)
    page = fake.printed.jobs()[0]
    page.save(d.out / "staff_due_printed_0.png")
    notes["printed_fields"] = _decoded(page)
    notes["outcome_after_print"] = [screen.outcome_ok, screen.outcome_vi]
    notes["appointment_after_print"] = str(screen.appointment)
    notes["due_button_after_print"] = screen.ids.due_button.text
    # a date chosen, then "Không có ngày hẹn": the next receipt carries none
    yield from _open_due(d)
    yield from _quick(d, 7)
    notes["after_quick7"] = str(screen.due_chooser.day)
    yield from d.tap(_chooser_id(d, "no_date_button"))
    yield from d.wait_for(lambda: screen.due_chooser is None, 3, "the chooser closed")
    notes["appointment_after_no_date"] = str(screen.appointment)
    yield from _print_and_read(d, 1)
    notes["printed_fields_no_date"] = _decoded(fake.printed.jobs()[1])
    # the quick day of today, printed: on the paper too
    yield from _open_due(d)
    yield from _quick(d, 0)
    yield from d.tap(_chooser_id(d, "done_button"))
    yield from d.wait_for(lambda: screen.due_chooser is None, 3, "the chooser closed")
    yield from _print_and_read(d, 2)
    notes["printed_fields_today"] = _decoded(fake.printed.jobs()[2])
    # a date already past (the result comes late): no receipt takes it, "Đánh giá trên máy" does
    yield from _open_due(d)
    yield from _quick(d, 0)
    yield from d.tap(_chooser_id(d, "minus_button"))
    yield from d.tap(_chooser_id(d, "minus_button"))
    notes["past_day"] = str(screen.due_chooser.day)
    notes["past_texts"] = _chooser_texts(d)
    yield from d.shot("staff_due_chooser_past")
    yield from d.tap(_chooser_id(d, "done_button"))
    yield from d.wait_for(lambda: screen.due_chooser is None, 3, "the chooser closed")
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "printing")
    yield 0.3
    notes["past_print_outcome"] = [screen.outcome_ok, screen.outcome_vi, screen.outcome_en]
    notes["jobs_after_past"] = len(fake.printed.jobs())
    yield from d.shot("staff_due_past_refused")
    yield from d.tap(screen.ids.rate_here_button)
    yield from d.wait_screen("rate", timeout=5)
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 2))
    yield from d.wait_screen("thanks", timeout=10)
    yield from d.wait_for(lambda: app.store.count() > 0, 5, "the row")
    notes["rated_on_screen"] = [{k: r[k] for k in ("officer_id", "dossier_code", "receipt_id", "source",
                                                   "level", "flags")} for r in app.store.records()]
    notes["expected"] = {"plus3": (today + timedelta(days=3)).isoformat(),
                         "minus1": (today - timedelta(days=1)).isoformat(),
                         "minus2": (today - timedelta(days=2)).isoformat(),
                         "plus4": (today + timedelta(days=4)).isoformat(),
                         "plus7": (today + timedelta(days=7)).isoformat()}


def due_round_trip(d: kd.Driver):
    """Receipts printed by `hailong receipt print --due` (tokens in due_tokens.json) scanned and rated.

    Each token: scanned on the pty scanner → the rate screen for its officer →
    a level tapped → thanks. The test reads the rows' flags (on_time / late).
    """
    app = d.app
    notes = d.result["notes"]
    tokens = json.loads((Path(app.cfg.path).parent / "due_tokens.json").read_text("utf-8"))
    notes["rated"] = []
    for name, token, level in tokens:
        yield from d.wait_screen("welcome", timeout=15)
        count = app.store.count()
        kd.scan(token)
        yield from d.wait_screen("rate", timeout=5)
        notes["rated"].append([name, d.by_id("officer_name").text])
        yield from d.shot(f"due_rate_{name}")
        yield from d.tap(d.find(lambda w, lv=level: w.__class__.__name__ == "LevelButton" and w.level == lv))
        yield from d.wait_screen("thanks", timeout=10)
        yield from d.wait_for(lambda c=count: app.store.count() > c, 5, "the row")
    # a receipt past its days after the appointment date: refused with its own words
    expired = json.loads((Path(app.cfg.path).parent / "due_expired.json").read_text("utf-8"))
    yield from d.wait_screen("welcome", timeout=15)
    kd.scan(expired)
    yield from d.wait_screen("message", timeout=5)
    notes["expired_message"] = kd.message_text(d)
    yield from d.shot("due_expired_refused")


kd.SCENARIOS.update({f.__name__: f for f in (staff_due, due_round_trip)})
kd.WITH_DEVICES.update({"staff_due", "due_round_trip"})

if __name__ == "__main__":
    sys.exit(kd.main(sys.argv[1:]))
