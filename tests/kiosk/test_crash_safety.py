"""A writer killed with SIGKILL at random moments never loses an acknowledged rating.

The writer prints a rating's id only after KioskStore.append() returned, i.e.
after the moment the kiosk would show the thank-you screen. Each round kills
it at a random point after its first acknowledged rating; afterwards every printed id must be in kiosk.db and the
chain must verify. (SIGKILL leaves the OS page cache intact; a power cut is
covered by synchronous=FULL in WAL mode, which test_store checks is set.)
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

from helpers import ROOT

from kiosk.store import KioskStore

KEY = "5a" * 32

WRITER = r"""
import sys
from kiosk.store import KioskStore
store = KioskStore(sys.argv[1], "DT-MC-01", sys.argv[2])
store.init()
n = 0
while True:
    n += 1
    rec = store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-00%d" % (n % 3 + 1),
                       level=n % 3 + 1, reasons=["thai_do"] if n % 3 == 0 else [],
                       comment="Lần thứ %d: cán bộ hướng dẫn tận tình" % n)
    print(rec["id"], rec["seq"], flush=True)
"""


def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "kiosk.db"
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20261128")))
    acknowledged: dict[str, int] = {}
    for round_no in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), KEY], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        # the kill point is random, but only after the writer acknowledged its first rating
        # (before that there may be no schema yet, and a kill would prove nothing)
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        try:
            first = proc.stdout.readline()
        finally:
            watchdog.cancel()
        assert len(first.split()) == 2, f"round {round_no}: the writer acknowledged no rating (rc {proc.poll()})"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        out = first + out
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:  # a torn last line was never acknowledged
                acknowledged[parts[0]] = int(parts[1])
        store = KioskStore(db)
        try:
            assert store.verify(KEY) == (None, None), f"chain broken after kill {round_no}"
            held = {r["id"]: r["seq"] for r in store.iter_records()}
        finally:
            store.close()
        missing = {i: s for i, s in acknowledged.items() if held.get(i) != s}
        assert not missing, f"round {round_no}: acknowledged ratings lost: {missing}"
        assert sorted(held.values()) == list(range(1, len(held) + 1)), "seq has a gap"
    assert len(acknowledged) > 20, "the writer never got going; the test proved nothing"
