"""The real kiosk app (Xvfb) with its real sync agent against a real town server.

The app and the agent talk through events only (kiosk.commands.sync_service):
the agent's config event makes the app take in the roster and the receipt
key at once, and the app's on_rating_stored event nudges the agent. Issue
10: a kiosk that started before its agent stored the receipt key refused
every valid receipt until it was restarted.
"""
from __future__ import annotations

import pytest
from faultproxy import demo_town, server_ratings
from kiosk_runs import BASE_UI, run_scenario, toml_value

from kiosk.store import KioskStore
from sync.server.core.settings import receipt_key


@pytest.fixture
def town(tmp_path):
    server = demo_town(tmp_path)
    with server.engine.begin() as conn:
        server.receipt_key = receipt_key(conn)
    yield server
    server.stop()


def test_the_agent_s_config_event_brings_roster_and_receipt_key_without_restart(xvfb, town, tmp_path, artifacts):
    kiosk = tmp_path / "kiosk"
    kiosk.mkdir()
    assert town.receipt_key
    (kiosk / "town_receipt_key.txt").write_text(town.receipt_key, "ascii")
    # interval 60 s: only the app's nudge can send the rating within the scenario's 10 s
    server = {"url": town.url, "token": town.k1["token"], "key": town.k1["key"], "timeout": 2,
              "interval": 60, "heartbeat_interval": 60}
    lines = ["[kiosk]", 'id = "K1"', 'unit_code = "13321"', 'desk_id = "quay-1"', 'db = "kiosk.db"',
             "[server]", *(f"{k} = {toml_value(v)}" for k, v in server.items()),
             "[ui]", *(f"{k} = {toml_value(v)}" for k, v in BASE_UI.items()),
             "[survey]", "comment = false"]
    config = kiosk / "config.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")

    result, _, _ = run_scenario(xvfb, config, artifacts("kiosk"), "config_from_agent", demo=False)
    notes = result["notes"]
    assert notes["at_start"] == {"receipt_key": False, "officers": 0}     # nothing held at start
    assert notes["officers_on_welcome"] is True
    assert "Xin mời Ông/Bà đánh giá cán bộ đã phục vụ" in result["texts"]["welcome_after_config"]
    assert notes["verifier_key"] == town.receipt_key                      # taken in, no restart
    assert notes["rate_officer"] == "Trần Văn Đức"                         # the receipt was accepted
    assert notes["config_refreshes"] == 1                                 # one config, one refresh
    assert notes["sent_after_s"] < 10

    store = KioskStore(kiosk / "kiosk.db", "K1", town.k1["key"])
    rows = store.records()
    assert [(r["officer_id"], r["source"], r["dossier_code"]) for r in rows] == [("cb-002", "receipt", "HS-EVENT-1")]
    assert store.event_counts() == {}                                     # no refusal counted
    assert [r["id"] for r in server_ratings(town.engine, "K1")] == [rows[0]["id"]]
