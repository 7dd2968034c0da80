"""Receipt render + QR encode time, as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/receipt_render.py [--rounds N]

Baseline: qrcode.make() of the same token (the QR alone, default settings,
as any QR-printing code would pay at least). Also:
a scanned token checked by the kiosk's verifier vs the bare signature check
of sync.protocol, and the ESC/POS bytes of one job vs the image's PNG.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qrcode  # noqa: E402
from escpos.printer import Dummy  # noqa: E402

from kiosk import receipts  # noqa: E402
from kiosk.config import check  # noqa: E402
from kiosk.roster import load_roster_file  # noqa: E402
from kiosk.store import KioskStore  # noqa: E402
from sync import protocol  # noqa: E402

KEY = "a0" * 32


def timed(fn, rounds: int) -> float:
    """Median seconds of ``rounds`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    rounds = ap.parse_args().rounds
    tmp = Path(tempfile.mkdtemp())
    now = datetime(2026, 11, 28, 14, 32, tzinfo=timezone(timedelta(hours=7)))
    print(f"receipt render benchmark, median of {rounds} rounds")
    for paper_mm in (58, 80):
        cfg = check({"kiosk": {"id": "k", "unit_code": "13321", "desk_id": "quay-1", "db": f"k{paper_mm}.db"},
                     "receipt": {"key": KEY, "paper_mm": paper_mm}}, tmp / "config.toml")
        store = KioskStore(cfg.db_path, "k", "b1" * 32)
        store.init()
        store.apply_roster(load_roster_file())
        issued = receipts.issue(cfg, store, "cb-001", "000.00.21.H31-261128-0042", "1.004227", now)
        image = receipts.receipt_image(cfg, store, issued)

        render = timed(lambda: receipts.receipt_image(cfg, store, issued), rounds)
        issue_render = timed(lambda: receipts.receipt_image(
            cfg, store, receipts.issue(cfg, store, "cb-001", "HS-1", "1.004227", now)), rounds)
        bare_qr = timed(lambda: qrcode.make(issued.token), rounds)

        def escpos_bytes():
            d = Dummy()
            with contextlib.redirect_stdout(io.StringIO()):  # escpos' note on profiles without width
                d.image(image, impl="bitImageRaster")
            d.cut()
            return d.output
        to_escpos = timed(escpos_bytes, rounds)
        nbytes = len(escpos_bytes())
        print(f"\n{paper_mm} mm paper ({image.width}x{image.height} dots, token {len(issued.token)} chars)")
        print(f"  render receipt (text + QR)      {render * 1000:8.2f} ms")
        print(f"  issue + render                  {issue_render * 1000:8.2f} ms")
        print(f"  baseline qrcode.make(token)     {bare_qr * 1000:8.2f} ms   ratio render/qrcode.make = {render / bare_qr:6.2f}")
        print(f"  ESC/POS raster bytes of the job {to_escpos * 1000:8.2f} ms   {nbytes} bytes "
              f"(= {nbytes * 10 / 9600:.0f} s at 9600 baud, {nbytes * 10 / 115200:.1f} s at 115200)")
        store.close()

    verifier = receipts.ReceiptVerifier(store, KEY, "13321", clock=lambda: now.timestamp())
    store = KioskStore(tmp / "k58.db")
    verifier.store = store
    check_t = timed(lambda: verifier.check(issued.token), rounds * 10)
    parse_t = timed(lambda: protocol.parse_receipt_token(issued.token, KEY), rounds * 10)
    print(f"\nverify a scanned token            {check_t * 1e6:8.1f} us   "
          f"ratio check/parse_receipt_token = {check_t / parse_t:6.2f}")


if __name__ == "__main__":
    main()
