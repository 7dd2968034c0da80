"""A kiosk.db of hailong 0.1 (v1 rows), upgraded, then v2 ratings: the agent sends each as sealed and
the server holds one chain that verifies; the server's surveys reach the kiosk with its config."""
import json

import pytest
from faultproxy import demo_town, server_ratings
from helpers import ROOT

from sync import protocol
from sync.agent import SyncAgent
from sync.server.core.admin_ops import add_survey, enrol_kiosk

_LABELS = {str(i): {"vi": f"Mức {i}", "en": f"Level {i}"} for i in range(1, 6)}
CAMPAIGN = {"id": "mttq-2026-q4", "title": {"vi": "Khảo sát MTTQ", "en": "Front survey"}, "by": "Ủy ban MTTQ",
            "scale": 5, "labels": _LABELS, "satisfied": [5, 4],
            "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
            "questions": [{"code": "dung_hen", "text": {"vi": "Đúng hẹn?", "en": "On time?"}, "scale": 3,
                           "labels": {k: v for k, v in _LABELS.items() if int(k) <= 3}, "satisfied": [3, 2]}]}


@pytest.fixture
def town(tmp_path):
    server = demo_town(tmp_path)
    with server.engine.begin() as conn:
        add_survey(conn, CAMPAIGN)
    yield server
    server.stop()


def test_v1_rows_then_v2_rows_reach_the_server_as_sealed(town, tmp_path):
    import sys
    sys.path.insert(0, str(ROOT / "tests" / "kiosk"))
    from test_store_v2 import KEY, _v1_kiosk_db

    from kiosk.store import KioskStore
    from sync.server.core.db import kiosks
    _v1_kiosk_db(tmp_path / "kiosk.db", n=3).close()      # kiosk DT-MC-01 of hailong 0.1, 3 v1 rows
    with town.engine.begin() as conn:                     # enrolled with the key it sealed them with
        dt = enrol_kiosk(conn, "DT-MC-01", "13321")
        conn.execute(kiosks.update().where(kiosks.c.id == "DT-MC-01").values(key_hex=KEY))
    store = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", KEY)
    assert store.init() == [3]
    agent = SyncAgent(store, town.url, dt["token"], "DT-MC-01", batch_size=2, timeout=5,
                      min_backoff=0.01, max_backoff=0.1)
    agent.pull_config()
    assert sorted(store.surveys()) == ["hl3", "mttq-2026-q4"]
    assert json.loads(store.get_meta("server_default_survey")) == "hl3"
    store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=2)
    store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-002", level=5, survey="mttq-2026-q4",
                 answers={"dung_hen": 2}, reasons=["thai_do"])
    result = agent.drain()
    assert result.synced == 5 and result.rejected == 0, result
    held = server_ratings(town.engine, "DT-MC-01")
    assert ["survey" in h for h in held] == [False, False, False, True, True]
    assert held[4]["answers"] == {"dung_hen": 2}
    assert protocol.verify_chain(held, KEY) == (None, None)
    assert store.sync_counts()["pending"] == 0
