"""Kiosk cold start to the welcome screen, against a bare Kivy app, under Xvfb.

    .venv/bin/python benchmarks/kiosk_cold_start.py [--rounds 5]

Each round starts a fresh process (python + Kivy import + Window + first
frames) for both: the kiosk (kiosk.ui.app.run on a demo kiosk.db, until the
welcome screen has been drawn) and the baseline (a Kivy App whose root is an
empty Label, until its first frame). Measured: wall time from spawn to that
frame, and resident memory (VmRSS) then. Prints medians and the ratios.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(kind: str, config: str | None) -> None:
    """Runs in the measured process; prints one JSON line and quits."""
    t0 = float(os.environ["BENCH_T0"])
    sys.path.insert(0, str(ROOT))

    def report(app):
        from kivy.clock import Clock
        frames = {"n": 0}

        def after_frames(_dt):
            frames["n"] += 1
            if frames["n"] < 2:              # two frames: the screen is drawn and flipped
                return
            seen = app.root.sm.current if hasattr(app.root, "sm") else "label"
            print(json.dumps({"kind": kind, "seconds": time.time() - t0, "rss_mb": rss_mb(),
                              "screen": seen}), flush=True)
            app.stop()
            return False
        Clock.schedule_interval(after_frames, 0)

    if kind == "kiosk":
        from kiosk.config import load
        from kiosk.ui.app import run
        run(load(config), demo=True, extra_services=[lambda app: report(app)])
    else:
        from kivy.app import App
        from kivy.uix.label import Label

        class Bare(App):
            def build(self):
                return Label()

            def on_start(self):
                report(self)
        Bare().run()


def start_xvfb():
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                             "+extension", "GLX", "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    return proc, f":{number}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=("kiosk", "bare"))
    parser.add_argument("--config")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.config)
        return

    xvfb, display = start_xvfb()
    tmp = Path(tempfile.mkdtemp(prefix="hailong-bench-"))
    try:
        config = tmp / "config.toml"
        config.write_text('[kiosk]\nid = "BENCH"\nunit_code = "13321"\ndesk_id = "quay-1"\n'
                          f'db = "kiosk.db"\nkey = "{"ef" * 32}"\n[ui]\nfullscreen = true\n', "utf-8")
        env = dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
                   KIVY_NO_FILELOG="1", KIVY_NO_CONFIG="1", KIVY_HOME=str(tmp / "kivy"))
        runs: dict[str, list[dict]] = {"kiosk": [], "bare": []}
        for _ in range(args.rounds):
            for kind in ("bare", "kiosk"):      # interleaved: both see the same machine load
                env["BENCH_T0"] = repr(time.time())
                out = subprocess.run([sys.executable, __file__, "--child", kind, "--config", str(config)],
                                     env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
                line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
                if line is None:
                    sys.exit(f"{kind} run failed:\n{out.stderr[-2000:]}")
                rec = json.loads(line)
                if kind == "kiosk" and rec["screen"] != "welcome":
                    sys.exit(f"kiosk started on {rec['screen']!r}, not welcome")
                runs[kind].append(rec)
    finally:
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(kind, key):
        return statistics.median(r[key] for r in runs[kind])

    k_t, b_t = med("kiosk", "seconds"), med("bare", "seconds")
    k_m, b_m = med("kiosk", "rss_mb"), med("bare", "rss_mb")
    print(f"rounds: {args.rounds} (median; fresh process each, Xvfb 1280x800, fullscreen)")
    print(f"{'':28}{'kiosk':>10}{'bare Kivy':>12}{'ratio':>8}")
    print(f"{'cold start to first frame':28}{k_t:>9.2f}s{b_t:>11.2f}s{k_t / b_t:>8.2f}")
    print(f"{'resident memory (VmRSS)':28}{k_m:>8.1f}MB{b_m:>10.1f}MB{k_m / b_m:>8.2f}")
    print(f"kiosk extra: +{k_t - b_t:.2f} s, +{k_m - b_m:.1f} MB")


if __name__ == "__main__":
    main()
