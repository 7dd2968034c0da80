"""Scan-to-rating latency at the real kiosk app, under Xvfb, against a bare tap.

    .venv/bin/python benchmarks/scan_to_rating.py [--rounds 20]

One kiosk process (tests/kiosk_driver.py, scenario bench_scan) with a real
pty pair on [scanner]. Each round:

* scan: a fresh receipt token written into the scanner's pty (+ CR LF) →
  reader thread → Clock hop to the UI thread → ReceiptVerifier.check →
  visit.start_from_receipt → rate screen, until the first frame drawn after
  the switch;
* baseline, same run: a tap on "Chạm vào đây để bắt đầu" (one officer on
  duty, so it goes straight to the same rate screen) until the same frame;
* and the bare verifier call on that token.

Prints medians, p90 and the ratios scan / tap and scan / verify.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
RECEIPT_KEY = "a0" * 32


def start_xvfb():
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                             "+extension", "GLX", "-nolisten", "tcp", "-noreset"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().decode().strip()
    if not number:
        proc.kill()
        sys.exit("Xvfb did not start")
    return proc, f":{number}"


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("Xvfb") is None:
        sys.exit("Xvfb is not installed (make system-packages)")
    xvfb, display = start_xvfb()
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    try:
        (work / "config.toml").write_text(
            '[kiosk]\nid = "BENCH"\nunit_code = "13321"\ndesk_id = "quay-1"\ndb = "kiosk.db"\n'
            f'key = "{"ab" * 32}"\n[receipt]\nkey = "{RECEIPT_KEY}"\n'
            "[ui]\nfullscreen = true\nidle_timeout = 60\ntouch_debounce_ms = 50\n", "utf-8")
        env = dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
                   KIVY_NO_FILELOG="1", KIVY_NO_CONFIG="1", KIVY_HOME=str(work / "kivy"),
                   SDL_AUDIODRIVER="dummy", KIOSK_BENCH_ROUNDS=str(args.rounds),
                   KIOSK_DRIVER_LIMIT=str(60 + args.rounds * 3))
        out = work / "out"
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk_driver.py"), str(work / "config.toml"),
                               "bench_scan", str(out), "--demo"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120 + args.rounds * 5)
        result_file = out / "bench_scan.json"
        if not result_file.exists():
            sys.exit(f"the kiosk wrote no result:\n{proc.stderr[-3000:]}")
        result = json.loads(result_file.read_text("utf-8"))
        if not result.get("ok"):
            sys.exit(result.get("error"))
        notes = result["notes"]
    finally:
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    scan, tap, verify = (statistics.median(notes[k]) for k in ("scan_s", "tap_s", "verify_s"))
    print(f"rounds: {args.rounds}")
    print(f"scan → rate screen drawn  median {scan * 1000:7.1f} ms   p90 {pct(notes['scan_s'], 0.9) * 1000:7.1f} ms")
    print(f"tap  → rate screen drawn  median {tap * 1000:7.1f} ms   p90 {pct(notes['tap_s'], 0.9) * 1000:7.1f} ms"
          "   (baseline)")
    print(f"bare ReceiptVerifier.check median {verify * 1000:7.2f} ms")
    print(f"ratio scan / tap:    {scan / tap:.2f}")
    print(f"ratio scan / verify: {scan / verify:.0f}")


if __name__ == "__main__":
    main()
