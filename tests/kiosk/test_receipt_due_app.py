"""Round trip: `hailong receipt print --due` → the paper's QR scanned on the kiosk → the rating on_time or late.

The receipts are printed by the real command onto a pty printer (FakePrinter)
and their QR codes read back from the printed dots (zxing); the real kiosk
app under Xvfb then gets each code on its pty serial scanner
(tests/kiosk_driver_due.py, scenario ``due_round_trip``) and a level is
tapped. A receipt issued earlier stands in for a dossier handed in days ago:
the command runs with the kiosk's clock (kiosk.config.wall_clock) set back.
"""
from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
import zxingcpp
from click.testing import CliRunner
from helpers import wait_until
from ptys import RECEIPT_KEY, FakePrinter, PtyPort
from test_staff_due_app import KEY, UI, run_due

from hailong.cli import main
from kiosk import config as kiosk_config
from kiosk import receipts
from kiosk.config import load
from kiosk.roster import load_roster_file
from kiosk.store import KioskStore
from sync import protocol


def kiosk_files(tmp_path):
    """config.toml as run_due writes it, and a kiosk.db with the demo roster (for the command line)."""
    ui = "\n".join(f"{k} = {v}" for k, v in UI.items())
    config = tmp_path / "config.toml"
    config.write_text(
        '[kiosk]\nid = "TEST-KIOSK"\nunit_code = "13321"\ndesk_id = "quay-1"\ndb = "kiosk.db"\n'
        f'key = "{KEY}"\n[receipt]\nkey = "{RECEIPT_KEY}"\n[ui]\n{ui}\n[survey]\ncomment = false\n', "utf-8")
    cfg = load(config)
    store = KioskStore(cfg.db_path, cfg.kiosk["id"], KEY)
    store.init()
    store.apply_roster(copy.deepcopy(load_roster_file()))
    store.close()
    return cfg


def printed_token(monkeypatch, tmp_path, cfg, fake, officer: str, dossier: str, days_ago: int,
                  due_after: int | None) -> str:
    """`hailong receipt print` as if run ``days_ago`` days ago, --due ``due_after`` days after that day."""
    real = kiosk_config.wall_clock
    issued_at = cfg.now() - timedelta(days=days_ago)
    monkeypatch.setattr(kiosk_config, "wall_clock", lambda: issued_at.timestamp())
    before = len(fake.printed.jobs())
    args = ["receipt", "print", "--config", str(cfg.path), "--officer", officer, "--dossier", dossier]
    if due_after is not None:
        args += ["--due", f"{issued_at.date() + timedelta(days=due_after):%d/%m/%Y}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    monkeypatch.setattr(kiosk_config, "wall_clock", real)
    assert result.exit_code == 0, result.output
    page = wait_until(lambda: len(fake.printed.jobs()) > before and fake.printed.jobs())[-1]
    return zxingcpp.read_barcodes(page)[0].text


@pytest.fixture(scope="module")
def round_trip(xvfb, artifacts, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("due_round_trip")
    out = artifacts("kiosk")
    mp = pytest.MonkeyPatch()
    port = PtyPort(tmp_path / "ttyPRN")
    fake = FakePrinter(port)
    try:
        cfg = kiosk_files(tmp_path)
        with cfg.path.open("a", encoding="utf-8") as fh:      # the command prints here; the app gets its own pty
            fh.write(f'[printer]\nport = "{port.path}"\nbaudrate = 921600\ntimeout = 0.5\n')
        cfg = load(cfg.path)
        tokens = {
            # handed in today, due in 3 days, the result comes today: on time
            "on_time": (printed_token(mp, tmp_path, cfg, fake, "cb-002", "HS-DUE-ON", 0, 3), 3),
            # handed in 10 days ago, due 3 days after: the citizen rates 7 days after the date
            "late": (printed_token(mp, tmp_path, cfg, fake, "cb-003", "HS-DUE-LATE", 10, 3), 1),
            # no date: no flag
            "plain": (printed_token(mp, tmp_path, cfg, fake, "cb-001", "HS-DUE-NONE", 0, None), 2),
        }
        # 80 days ago, due 10 days after: 40 days past the date, beyond its 30 days
        expired = printed_token(mp, tmp_path, cfg, fake, "cb-001", "HS-DUE-OLD", 80, 10)
    finally:
        mp.undo()
        fake.stop()
        port.close()
    (tmp_path / "due_tokens.json").write_text(
        json.dumps([[name, token, level] for name, (token, level) in tokens.items()]), "utf-8")
    (tmp_path / "due_expired.json").write_text(json.dumps(expired), "utf-8")
    result, rows, store = run_due(xvfb, tmp_path, out, "due_round_trip")
    return result["notes"], rows, store, tokens, expired


def flags_of(row) -> list:
    flags = row["flags"]
    return json.loads(flags) if isinstance(flags, str) else list(flags)


def test_each_printed_receipt_carries_its_date(round_trip):
    _notes, _rows, _store, tokens, expired = round_trip
    assert "a" in protocol.parse_receipt_token(tokens["on_time"][0], RECEIPT_KEY)[0]
    assert "a" not in protocol.parse_receipt_token(tokens["plain"][0], RECEIPT_KEY)[0]
    assert "a" in protocol.parse_receipt_token(expired, RECEIPT_KEY)[0]


def test_scanned_and_rated_on_time_or_late(round_trip):
    notes, rows, store, tokens, _expired = round_trip
    assert [name for name, _officer in notes["rated"]] == ["on_time", "late", "plain"]
    assert [officer for _name, officer in notes["rated"]] == [
        "Trần Văn Đức", "Lê Thị Ánh Tuyết", "Nguyễn Thị Hồng Nhung"]
    by_dossier = {r["dossier_code"]: r for r in rows}
    assert set(by_dossier) == {"HS-DUE-ON", "HS-DUE-LATE", "HS-DUE-NONE"}
    on, late, plain = by_dossier["HS-DUE-ON"], by_dossier["HS-DUE-LATE"], by_dossier["HS-DUE-NONE"]
    assert (on["level"], on["source"], on["officer_id"]) == (3, "receipt", "cb-002")
    assert protocol.ON_TIME_FLAG in flags_of(on) and protocol.LATE_FLAG not in flags_of(on)
    assert (late["level"], late["officer_id"]) == (1, "cb-003")
    assert protocol.LATE_FLAG in flags_of(late) and protocol.ON_TIME_FLAG not in flags_of(late)
    assert not {protocol.ON_TIME_FLAG, protocol.LATE_FLAG} & set(flags_of(plain))
    # each row is the receipt's, and the flags are signed into the chain
    for name, (token, _level) in tokens.items():
        rid = protocol.parse_receipt_token(token, RECEIPT_KEY)[1]
        assert [r["receipt_id"] for r in rows].count(rid) == 1, name
    assert store.verify() == (None, None)


def test_past_its_days_after_the_date_is_refused_in_its_own_words(round_trip):
    notes, rows, store, _tokens, _expired = round_trip
    vi = receipts.MESSAGES["expired_appointment"][0]
    assert notes["expired_message"].startswith(vi.split("(")[0])
    assert "30 ngày sau ngày hẹn trả kết quả" in notes["expired_message"]
    assert "HS-DUE-OLD" not in {r["dossier_code"] for r in rows}
    assert store.event_counts().get("expired") == 1
