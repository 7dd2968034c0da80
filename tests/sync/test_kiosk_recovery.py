"""A kiosk that lost kiosk.db says so and recovers (issue 9), against a real town server.

The kiosk syncs ratings, its kiosk.db is deleted and `hailong kiosk init`
makes a new one: its ratings start again at seq 1 and the server refuses
them ("seq already held"). The heartbeat's reply says what the server holds
(chain_tail), so the staff panel and `hailong kiosk verify` say the kiosk is
behind and the server holds a kiosk_reset alert; `hailong kiosk init
--recover` continues the chain from the server's tail, and from then on
every rating (those refused meanwhile too) is accepted and the server's
chain of the kiosk verifies across the recovery.
"""
import subprocess
import sys

import pytest
from faultproxy import demo_town, open_alerts, server_ratings, write_config
from helpers import ROOT

from kiosk.config import load
from kiosk.staff import StaffPanel
from kiosk.store import KioskStore
from sync import protocol
from sync.agent import agent_from_config


@pytest.fixture
def town(tmp_path):
    server = demo_town(tmp_path)
    yield server
    server.stop()


def hailong(*args):
    return subprocess.run([sys.executable, "-m", "hailong", *args], cwd=ROOT, capture_output=True, text=True)


def rate(store, n):
    return [store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=1 + i % 3)
            for i in range(n)]


def sync(cfg, store):
    agent = agent_from_config(cfg, store, min_backoff=0.01, max_backoff=0.1)
    result = agent.drain()
    agent.heartbeat()
    return result


def test_lost_kiosk_db_is_told_alerted_and_recovered(town, tmp_path):
    folder = tmp_path / "kiosk"
    folder.mkdir()
    path = write_config(folder, "K1", town.k1["key"], town.url, town.k1["token"])
    cfg = load(path)
    assert hailong("kiosk", "init", "--config", str(path)).returncode == 0
    store = KioskStore.from_config(cfg)
    rate(store, 6)
    assert sync(cfg, store).synced == 6
    assert store.server_tail()["seq"] == 6 and store.chain_behind() is None
    assert StaffPanel(cfg, store).status()["chain"] is None
    store.close()

    # kiosk.db lost; the installer runs `hailong kiosk init` again
    for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm"):
        (folder / name).unlink(missing_ok=True)
    assert hailong("kiosk", "init", "--config", str(path)).returncode == 0
    store = KioskStore.from_config(cfg)
    refused = rate(store, 2)
    assert [r["seq"] for r in refused] == [1, 2]
    result = sync(cfg, store)
    assert (result.synced, result.rejected) == (0, 2)          # "seq already held": quarantined

    # the kiosk says so: staff panel (both languages) and `hailong kiosk verify`
    chain = StaffPanel(cfg, store).status()["chain"]
    assert chain and (chain["own_seq"], chain["server_seq"]) == (2, 6)
    assert "6" in chain["message_vi"] and "Ki-ốt đã mất dữ liệu" in chain["message_vi"]
    assert "--recover" in chain["message_en"]
    verify = hailong("kiosk", "verify", "--config", str(path))
    assert verify.returncode == 1 and "BEHIND the server at seq 6" in verify.stderr, verify.stderr

    # the server raised an alert naming what was lost
    resets = [a for a in open_alerts(town.engine, "K1") if a["kind"] == "kiosk_reset"]
    assert len(resets) == 1
    assert "Ki-ốt K1 báo phiếu cuối là số 2 nhưng máy chủ đã giữ đến phiếu số 6" in resets[0]["message"]
    sync(cfg, store)                                           # a heartbeat more: still one alert, once
    resets = [a for a in open_alerts(town.engine, "K1") if a["kind"] == "kiosk_reset"]
    assert len(resets) == 1 and resets[0]["count"] == 1
    store.close()

    # the documented recovery
    out = hailong("kiosk", "init", "--recover", "--config", str(path))
    assert out.returncode == 0, out.stderr
    assert "continues from the server's seq 6" in out.stdout and "the next rating is seq 9" in out.stdout
    store = KioskStore.from_config(cfg)
    assert [r["seq"] for r in store.records()] == [7, 8]       # the refused two, sealed again after the tail
    assert store.sync_counts()["quarantined"] == 0
    new = rate(store, 1)[0]
    assert new["seq"] == 9
    assert store.verify() == (None, None) and store.chain_behind() is None
    result = sync(cfg, store)
    assert (result.synced, result.rejected) == (3, 0)
    assert store.sync_counts()["pending"] == 0
    assert StaffPanel(cfg, store).status()["chain"] is None
    store.close()

    held = server_ratings(town.engine, "K1")
    assert [h["seq"] for h in held] == list(range(1, 10))
    assert held[6]["prev_hash"] == held[5]["hash"]             # the recovered chain links to the tail
    assert protocol.verify_chain([{k: v for k, v in h.items() if k in protocol.RECORD_FIELDS} for h in held],
                                 town.k1["key"]) == (None, None)
    assert not [a for a in open_alerts(town.engine, "K1") if a["kind"] in ("chain", "gap")]
    ok = hailong("kiosk", "verify", "--config", str(path))
    assert ok.returncode == 0 and "continuing the server's chain after seq 6" in ok.stdout, ok.stderr
    again = hailong("kiosk", "init", "--recover", "--config", str(path))
    assert again.returncode == 0 and "nothing to recover" in again.stdout


def test_replaced_kiosk_db_same_seq_other_hash_is_behind(tmp_path):
    key = "5c" * 32
    store = KioskStore(tmp_path / "kiosk.db", "K1", key)
    store.init()
    rec = rate(store, 3)[-1]
    store.set_server_tail({"seq": 3, "hash": rec["hash"]})
    assert store.chain_behind() is None
    store.set_server_tail({"seq": 3, "hash": "ab" * 32})
    assert "seq 3 is not the rating the server holds" in store.chain_behind()["why"]
    store.set_server_tail({"seq": 2, "hash": "ab" * 32})
    assert store.chain_behind() is not None


def test_recovered_empty_kiosk_starts_at_tail(tmp_path):
    key = "5c" * 32
    store = KioskStore(tmp_path / "kiosk.db", "K1", key)
    store.init()
    tail = {"seq": 4072, "hash": "cd" * 32}
    assert store.chain_behind(tail)["own_seq"] == 0
    assert store.recover(tail) == {"base_seq": 4072, "resealed": 0, "next_seq": 4073}
    first = rate(store, 2)
    assert [r["seq"] for r in first] == [4073, 4074] and first[0]["prev_hash"] == "cd" * 32
    assert store.last_seq() == 4074 and store.sync_counts()["last_seq"] == 4074
    assert store.verify() == (None, None)
    store.conn.execute("UPDATE ratings SET prev_hash=? WHERE seq=4073", ("ee" * 32,))
    assert store.verify()[0] == 4073
