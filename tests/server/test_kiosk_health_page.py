"""A kiosk's health summary (issue 14): the agent sends it in its heartbeat, the server keeps the last
one on the kiosk's row, and the kiosks page says it in the admin's words, with a problem tag for a clock
not synchronised, a disk nearly full, no recent backup and an overheating machine."""
from datetime import datetime, timedelta, timezone

import pytest
import requests
from faultproxy import ServerThread, fill_kiosk
from sqlalchemy import select
from town import session_for

from sync import protocol
from sync.agent import SyncAgent
from sync.server.core.admin_ops import create_user, enrol_kiosk
from sync.server.core.db import kiosks

NOW = datetime.now(timezone(timedelta(hours=7)))
GOOD = {"disk_free_mb": 12_595, "db_bytes": 4_300_000, "last_backup": (NOW - timedelta(hours=3)).isoformat(),
        "uptime_s": 3 * 86400 + 500, "temperature_c": 52.4, "clock_synced": True, "taps_outside_hours": 5}


@pytest.fixture
def town(tmp_path, town_db):
    server = ServerThread(town_db, media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        server.k2 = enrol_kiosk(conn, "K2", "13321")
        create_user(conn, "an", "admin", "mật-khẩu-quản-trị")
    yield server
    server.stop()


def beat(town, tmp_path, kiosk, health):
    """The real agent's heartbeat, its device state carrying ``health`` (as kiosk/ui/app.py gives it)."""
    store = fill_kiosk(tmp_path / kiosk / "kiosk.db", kiosk, getattr(town, kiosk.lower())["key"], 2)
    agent = SyncAgent(store, town.url, getattr(town, kiosk.lower())["token"], kiosk,
                      device_state=lambda: {"printer": "ok", "scanner": "ok", "health": health})
    agent.heartbeat()


def row_of(cells, kiosk):
    return cells.split(f'data-kiosk="{kiosk}"', 1)[1].split("</tr>", 1)[0]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_kiosks_page_shows_each_kiosks_health(town, tmp_path, lang):
    beat(town, tmp_path, "K1", GOOD)
    bad = {**GOOD, "disk_free_mb": 300, "last_backup": None, "temperature_c": 83.0, "clock_synced": False,
           "taps_outside_hours": 0}
    beat(town, tmp_path, "K2", bad)
    with town.engine.connect() as conn:
        stored = conn.execute(select(kiosks.c.id, kiosks.c.health).order_by(kiosks.c.id)).all()
    assert all(h for _, h in stored)

    s = session_for(town, "an", "mật-khẩu-quản-trị")
    if lang == "en":
        s.get(town.url + "/lang/en?next=/admin/kiosks", timeout=10)
    page = s.get(town.url + "/admin/kiosks", timeout=10)
    assert page.status_code == 200
    good, worse = row_of(page.text, "K1"), row_of(page.text, "K2")
    if lang == "vi":
        assert "Đĩa trống 12,3 GB" in good and "kiosk.db 4,1 MB" in good and "Chạy liên tục 3 ngày" in good
        assert "52 °C" in good and "5 lần chạm ngoài giờ làm việc" in good and "Sao lưu gần nhất" in good
        assert "Bình thường" in good
        for tag in ("Đồng hồ chưa đồng bộ (NTP)", "Sắp hết chỗ trên đĩa", "Chưa sao lưu gần đây", "Máy quá nóng"):
            assert tag in worse and tag not in good
        assert "Chưa có bản sao lưu" in worse and "ngoài giờ" not in worse
    else:
        assert "Disk free 12.3 GB" in good and "Up for 3 days" in good and "5 taps outside opening hours" in good
        for tag in ("Clock not synchronised (NTP)", "Disk nearly full", "No recent backup", "Overheating"):
            assert tag in worse and tag not in good
        s.get(town.url + "/lang/vi?next=/admin/kiosks", timeout=10)


def test_a_kiosk_without_health_and_an_old_backup(town, tmp_path):
    beat(town, tmp_path, "K1", {**GOOD, "last_backup": (NOW - timedelta(days=3)).isoformat()})
    page = session_for(town, "an", "mật-khẩu-quản-trị").get(town.url + "/admin/kiosks", timeout=10).text
    assert "Chưa sao lưu gần đây" in row_of(page, "K1")
    # K2 never sent a heartbeat, and an old kiosk's heartbeat has no health: no health line, no health tag
    assert 'data-testid="health"' not in row_of(page, "K2")
    url = town.url + protocol.PATH_HEARTBEAT.format(kiosk_id="K2")
    # the kiosk's clock read now, not at import (a module collected minutes before it runs: a clock skew)
    old = {"last_seq": 0, "pending": 0, "kiosk_time": datetime.now(NOW.tzinfo).isoformat(), "version": "0.1.0"}
    assert requests.post(url, json=old, headers={"Authorization": f"Bearer {town.k2['token']}"},
                         timeout=5).status_code == 200
    page = session_for(town, "an", "mật-khẩu-quản-trị").get(town.url + "/admin/kiosks", timeout=10).text
    assert 'data-testid="health"' not in row_of(page, "K2") and "Bình thường" in row_of(page, "K2")


@pytest.mark.parametrize("field, value", [("temperature_c", 900), ("disk_free_mb", -1), ("last_backup", "yesterday"),
                                          ("last_backup", "2026-12-01T02:00:00"), ("clock_synced", "maybe"),
                                          ("taps_outside_hours", 1.5)])
def test_a_hostile_health_summary_is_refused_naming_the_field(town, field, value):
    url = town.url + protocol.PATH_HEARTBEAT.format(kiosk_id="K1")
    body = {"last_seq": 0, "pending": 0, "kiosk_time": datetime.now(NOW.tzinfo).isoformat(),
            "health": {**GOOD, field: value}}
    r = requests.post(url, json=body, headers={"Authorization": f"Bearer {town.k1['token']}"}, timeout=5)
    assert r.status_code == 422 and field in str(r.json()["detail"])
    with town.engine.connect() as conn:
        assert conn.execute(select(kiosks.c.health).where(kiosks.c.id == "K1")).scalar() is None
