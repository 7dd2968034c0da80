"""`hailong receipt ...` as a desk officer runs it."""
import pytest
import zxingcpp
from click.testing import CliRunner
from helpers import wait_until
from PIL import Image
from ptys import RECEIPT_KEY, FakePrinter, PtyPort, write_kiosk

from hailong.cli import main
from sync import protocol

OFFICER = ["--officer", "cb-001", "--dossier", "000.00.21.H31-261128-0042", "--procedure", "1.001193"]


def run(*args):
    return CliRunner().invoke(main, ["receipt", *args], catch_exceptions=False)


@pytest.fixture
def printer_port(tmp_path):
    port = PtyPort(tmp_path / "ttyPRN")
    fake = FakePrinter(port)
    yield port, fake
    fake.stop()
    port.close()


def config(tmp_path, **sections):
    cfg, store = write_kiosk(tmp_path, **sections)
    store.close()
    return str(cfg.path)


def test_preview_writes_a_png_whose_qr_verifies(tmp_path):
    conf = config(tmp_path)
    out = tmp_path / "out" / "receipt.png"
    result = run("preview", "--config", conf, *OFFICER, "--out", str(out))
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    img = Image.open(out)
    assert img.width == 384
    assert zxingcpp.read_barcodes(img.convert("L"))[0].text == token
    fields, _rid = protocol.parse_receipt_token(token, RECEIPT_KEY)
    assert fields["o"] == "cb-001" and fields["p"] == "1.001193"


def test_unknown_officer_is_a_clear_error(tmp_path):
    result = run("preview", "--config", config(tmp_path), "--officer", "cb-999", "--dossier", "HS-1",
                 "--out", str(tmp_path / "r.png"))
    assert result.exit_code == 2
    assert "cb-999" in result.output and "not in the roster" in result.output
    assert not (tmp_path / "r.png").exists()


def test_bad_config_exits_2(tmp_path):
    conf = tmp_path / "config.toml"
    conf.write_text('[kiosk]\nid = "k"\nunit_code = "1"\n', "utf-8")
    result = run("preview", "--config", str(conf), *OFFICER)
    assert result.exit_code == 2 and "desk_id" in result.output


def test_print_to_a_serial_printer(tmp_path, printer_port):
    port, fake = printer_port
    conf = config(tmp_path, printer={"port": port.path, "baudrate": 921600, "timeout": 0.5})
    result = run("print", "--config", conf, *OFFICER)
    assert result.exit_code == 0, result.output
    printed = wait_until(lambda: fake.printed.jobs())[0]
    token = zxingcpp.read_barcodes(printed)[0].text
    assert protocol.parse_receipt_token(token, RECEIPT_KEY)[0]["h"] == "000.00.21.H31-261128-0042"
    assert fake.errors == []


def test_printer_fault_exits_1_and_reprint_prints_the_same_receipt(tmp_path, printer_port):
    port, fake = printer_port
    conf = config(tmp_path, printer={"port": port.path, "baudrate": 921600, "timeout": 0.5})
    fake.paper = "out"
    result = run("print", "--config", conf, *OFFICER, "--out", str(tmp_path / "r.png"))
    assert result.exit_code == 1
    assert "hết giấy" in result.output and "out of paper" in result.output
    assert "hailong receipt reprint" in result.output
    status = run("status", "--config", conf)
    assert status.exit_code == 1 and status.output.startswith("paper_out")
    fake.paper = "ok"
    result = run("reprint", "--config", conf)
    assert result.exit_code == 0, result.output
    printed = wait_until(lambda: fake.printed.jobs())[0]
    saved = zxingcpp.read_barcodes(Image.open(tmp_path / "r.png").convert("L"))[0].text
    assert zxingcpp.read_barcodes(printed)[0].text == saved


def test_reprint_with_nothing_printed(tmp_path):
    result = run("reprint", "--config", config(tmp_path))
    assert result.exit_code == 2 and "nothing to reprint" in result.output


def test_letter_to_png_and_printer(tmp_path, printer_port):
    port, fake = printer_port
    conf = config(tmp_path, printer={"port": port.path, "baudrate": 921600, "timeout": 0.5})
    out = tmp_path / "thu.png"
    result = run("letter", "--config", conf, "--kind", "xin_loi", "--officer", "cb-002",
                 "--dossier", "HS-7", "--new-date", "05/12/2026", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert Image.open(out).width == 384
    assert fake.printed.rasters == []  # --out alone does not print
    missing = run("letter", "--config", conf, "--kind", "xin_loi", "--officer", "cb-002", "--dossier", "HS-7")
    assert missing.exit_code == 2 and "new date" in missing.output
    result = run("letter", "--config", conf, "--kind", "cam_on", "--officer", "cb-002", "--dossier", "HS-7")
    assert result.exit_code == 0, result.output
    assert wait_until(lambda: fake.printed.jobs())


def test_letter_follows_receipt_when_configured(tmp_path, printer_port):
    port, fake = printer_port
    conf = config(tmp_path, printer={"port": port.path, "baudrate": 921600, "timeout": 0.5},
                  letters={"with_receipt": True})
    result = run("print", "--config", conf, *OFFICER)  # 1.001193 birth registration: chuc_mung
    assert result.exit_code == 0, result.output
    assert "printed letter chuc_mung" in result.output
    jobs = wait_until(lambda: len(fake.printed.jobs()) == 2 and fake.printed.jobs())
    assert zxingcpp.read_barcodes(jobs[0]) and not zxingcpp.read_barcodes(jobs[1])


def test_preview_says_until_when_at_the_kiosk_time(tmp_path, monkeypatch):
    """Issue 10: 18:30 UTC on 08/12 in a New York machine is 01:30 on 09/12 at the kiosk; valid 30 days."""
    import time
    from datetime import datetime, timezone

    from kiosk import config as kiosk_config
    monkeypatch.setattr(kiosk_config, "wall_clock",
                        lambda: datetime(2026, 12, 8, 18, 30, tzinfo=timezone.utc).timestamp())
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        conf = config(tmp_path)
        out = tmp_path / "receipt.png"
        result = run("preview", "--config", conf, *OFFICER, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert "valid until 01:30 08/01/2027" in result.output
        text = " ".join(Image.open(out).text["text"].split())
        assert "01:30 - 09/12/2026" in text and "Phiếu có giá trị đến 01:30 ngày 08/01/2027" in text
    finally:
        monkeypatch.undo()          # the machine's TZ back, then taken in
        time.tzset()
