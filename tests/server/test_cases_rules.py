"""Cases open, link, reopen and fall overdue as their causes arrive at a real server.

A real ``hailong server`` (subprocess) receives signed batches and heartbeats over HTTP
(tests/server/test_alerts_on_arrival.py's kiosk); nobody opens a page. What is checked is what
an admin would find in town.db and through ``GET /api/v1/cases``: one case per cause, linked to
its alert (and, for nhũng nhiễu, to each rating), reopened rather than opened twice, and an
overdue case alerted once however many server processes sweep.
"""
from __future__ import annotations

import json
import dbtools
from datetime import date, datetime, timedelta, timezone

import requests
from helpers import stop, wait_until
from test_alerts_on_arrival import Kiosk, admin, serve, town  # noqa: F401 - town: the fixture

from sync import protocol
from sync.server.core import cases as case_rules
from sync.server.core import db, workdays

VN = protocol.tz_from_offset("+07:00")


def api_cases(url, town, **query) -> list[dict]:
    resp = requests.get(url + "/api/v1/cases", headers=town["api"], params=query, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["cases"]


def rows(town, sql, *args):
    with dbtools.connect(town["db"]) as con:
        return con.execute(sql, args).fetchall()


def with_core(town, fn):
    engine = db.make_engine(str(town["db"]))
    try:
        with engine.begin() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def local(dt: datetime) -> str:
    return dt.astimezone(VN).isoformat(timespec="seconds")


def test_nhung_nhieu_ratings_open_one_case_per_officer_and_month_each_rating_linked(town):
    proc, url = serve(town)
    try:
        kiosk = Kiosk(town, url)
        kiosk.send({"level": 3, "created_at": "2026-10-30T09:00:00+07:00"})
        assert api_cases(url, town) == []
        harass = {"level": 1, "reasons": ["nhung_nhieu"], "comment": "Đòi tiền bồi dưỡng"}
        kiosk.send({**harass, "created_at": "2026-10-31T09:00:00+07:00"})
        kiosk.send({**harass, "created_at": "2026-11-02T09:00:00+07:00"},
                   {**harass, "created_at": "2026-11-03T09:00:00+07:00"})
        kiosk.send({**harass, "created_at": "2026-11-04T09:00:00+07:00"},
                   {**harass, "officer": "cb-004", "created_at": "2026-11-04T10:00:00+07:00"})
        found = sorted((c["officer_id"], c["month"], c["kind"], c["status"]) for c in api_cases(url, town))
        assert found == [("cb-002", "2026-10", "nhung_nhieu", "open"), ("cb-002", "2026-11", "nhung_nhieu", "open"),
                         ("cb-004", "2026-11", "nhung_nhieu", "open")]
        nov = next(c for c in api_cases(url, town, officer="cb-002") if c["month"] == "2026-11")
        alert_ids = {lk["alert_id"] for lk in nov["links"] if lk["alert_id"]}
        rating_ids = [lk["rating_id"] for lk in nov["links"] if lk["rating_id"]]
        assert len(alert_ids) == 1 and len(rating_ids) == 3      # one alert group, three ratings
        assert rows(town, "SELECT kind, subject, month, count FROM alerts WHERE id = ?", alert_ids.pop()) == [
            ("nhung_nhieu", "cb-002", "2026-11", 3)]
        assert [e["kind"] for e in nov["events"]] == ["opened", "linked", "linked"]   # 2 ratings after the first
        opened = datetime.fromisoformat(nov["opened_at"]).astimezone(VN).date()
        assert nov["due_date"] == workdays.add_working_days(opened, 3).isoformat()   # the default: 3 working days
        assert nov["title"] == "Phản ánh nhũng nhiễu: cán bộ cb-002, tháng 11/2026"
        # the case exists as soon as its alert does: no alert of the kind without its case link
        assert rows(town, "SELECT count(*) FROM alerts a WHERE kind = 'nhung_nhieu' AND NOT EXISTS "
                          "(SELECT 1 FROM case_links l WHERE l.alert_id = a.id)") == [(0,)]
    finally:
        stop(proc)


def test_a_low_rate_opens_one_case_and_it_reopens_when_the_next_month_is_still_bad(town):
    proc, url = serve(town)
    try:
        kiosk = Kiosk(town, url)
        now = datetime.now(timezone.utc)
        first_of_month = now.astimezone(VN).replace(day=1, hour=8, minute=0, second=0, microsecond=0)
        last_month = first_of_month - timedelta(days=20)          # somewhere in the previous month
        bad = [{"level": 1, "officer": "cb-004", "created_at": local(last_month + timedelta(minutes=i))}
               for i in range(12)]
        kiosk.send(*bad[:6])
        assert api_cases(url, town, kind="low_rate") == []       # 6 ratings: not enough to judge
        kiosk.send(*bad[6:])
        (case,) = api_cases(url, town, kind="low_rate")
        assert case["officer_id"] == "cb-004" and case["month"] == last_month.strftime("%Y-%m")
        assert [lk["alert_id"] is not None for lk in case["links"]] == [True]
        # the officer was corrected and the case closed during that month
        closed_at = last_month + timedelta(days=2)

        def close(conn):
            case_rules.add_action(conn, case["id"], "an", "nhac_nho", "Nhắc nhở thái độ", now=closed_at)
            case_rules.close_case(conn, case["id"], "an", "Thái độ chưa tốt", "Đã nhắc nhở", now=closed_at)
        with_core(town, close)
        (case,) = api_cases(url, town, kind="low_rate")
        assert case["status"] == "closed" and case["watch_month"] == now.astimezone(VN).strftime("%Y-%m")
        assert rows(town, "SELECT note FROM alerts WHERE kind = 'low_rate'") == [
            (f"Đã xử lý trong vụ việc số {case['id']}",)]
        # the next month: good ratings at first, then bad ones under the threshold
        start = max(first_of_month, now.astimezone(VN) - timedelta(hours=3))
        kiosk.send(*[{"level": 3, "officer": "cb-004", "created_at": local(start + timedelta(seconds=i))}
                     for i in range(3)])
        assert api_cases(url, town, kind="low_rate")[0]["status"] == "closed"
        kiosk.send(*[{"level": 1, "officer": "cb-004", "created_at": local(start + timedelta(seconds=10 + i))}
                     for i in range(9)])
        (case,) = api_cases(url, town, kind="low_rate")              # reopened, not a second case
        assert case["status"] == "open" and case["reopened"] == 1 and case["closed_at"] is None
        reopened, linked = case["events"][-2:]
        assert reopened["kind"] == "reopened" and reopened["by"] is None
        assert "vẫn dưới ngưỡng" in reopened["text"] and "25% (3/12)" in reopened["text"]
        assert linked["kind"] == "linked"   # this month's low-rate alert joins the reopened case
        assert len(case["links"]) == 2
    finally:
        stop(proc)


def test_a_new_nhung_nhieu_rating_reopens_the_officers_closed_case(town):
    proc, url = serve(town)
    try:
        kiosk = Kiosk(town, url)
        harass = {"level": 1, "reasons": ["nhung_nhieu"], "created_at": "2026-11-05T09:00:00+07:00"}
        kiosk.send(harass)
        (case,) = api_cases(url, town)

        def refuse_then_close(conn):
            for found, outcome in (("", ""), ("Nhận tiền", ""), ("", "Đã kiểm điểm")):
                try:
                    case_rules.close_case(conn, case["id"], "an", found, outcome)
                except case_rules.Refused as exc:
                    assert "action" in exc.fields and "Chưa đóng được" in str(exc)
                else:
                    raise AssertionError("closed without an action")
            case_rules.add_action(conn, case["id"], "an", "kiem_diem", "Họp kiểm điểm")
            case_rules.close_case(conn, case["id"], "an", "Nhận tiền của công dân", "Đã kiểm điểm, trả lại tiền")
        with_core(town, refuse_then_close)
        assert api_cases(url, town)[0]["status"] == "closed"
        assert rows(town, "SELECT resolved_at IS NOT NULL FROM alerts WHERE kind = 'nhung_nhieu'") == [(1,)]
        kiosk.send({**harass, "created_at": "2026-11-20T09:00:00+07:00", "comment": "Lại đòi tiền"})
        (case,) = api_cases(url, town)
        assert case["status"] == "open" and case["reopened"] == 1
        assert [e["kind"] for e in case["events"]][-2:] == ["closed", "reopened"]
        assert "Lại đòi tiền" in case["events"][-1]["text"]
        assert len([lk for lk in case["links"] if lk["rating_id"]]) == 2
        # the new rating's alert (a new group: the first one was resolved) is linked to the case
        assert len({lk["alert_id"] for lk in case["links"] if lk["alert_id"]}) == 2
        # a later month opens that month's case, naming the earlier one
        kiosk.send({**harass, "created_at": "2026-12-01T09:00:00+07:00"})
        cases = {c["month"]: c for c in api_cases(url, town)}
        assert set(cases) == {"2026-11", "2026-12"}
        assert rows(town, "SELECT params FROM cases WHERE month = '2026-12'")[0][0].count(
            f'"follows":{case["id"]}') == 1
    finally:
        stop(proc)


def test_tampering_and_a_silent_kiosk_open_kiosk_cases(town):
    with dbtools.connect(town["db"]) as con:
        con.execute("INSERT INTO settings(key, value) VALUES ('alert_rules', ?)",
                    (json.dumps({"officer_rate_below": 80, "officer_min_ratings": 10, "kiosk_silent_hours": 0.0005}),))
    proc, url = serve(town, "--sweep-seconds", "0.1")
    try:
        kid = town["kiosk"]["kiosk_id"]
        found = wait_until(lambda: api_cases(url, town, kind="silent"), timeout=60, what="silent case")
        assert [(c["kiosk_id"], c["status"], c["unit_code"]) for c in found] == [(kid, "open", "13321")]
        kiosk = Kiosk(town, url)
        kiosk.send({"level": 3}, {"level": 3}, {"level": 2})
        # the kiosk lost its kiosk.db: its heartbeat says it is at seq 1 while the server holds 3
        beat = {"last_seq": 1, "pending": 0, "quarantined": 0,
                "kiosk_time": datetime.now(timezone.utc).isoformat(), "version": "t"}
        for _ in range(3):
            resp = requests.post(url + protocol.PATH_HEARTBEAT.format(kiosk_id=kid), json=beat, timeout=10,
                                 headers=kiosk.headers)
            assert resp.status_code == 200, resp.text
        (case,) = api_cases(url, town, kind="tampering")
        assert case["kiosk_id"] == kid and case["officer_id"] is None
        assert rows(town, "SELECT kind FROM alerts WHERE id IN (SELECT alert_id FROM case_links WHERE case_id = ?)",
                    case["id"]) == [("kiosk_reset",)]
        assert "ki-ốt " + kid in case["title"]
    finally:
        stop(proc)


def test_an_overdue_case_is_alerted_once_across_rounds_and_processes_and_closing_resolves_it(town):
    proc, url = serve(town)
    stop(proc)     # the roster's and kiosk's town.db, migrated

    def overdue_case(conn):
        case_id = case_rules.open_case(conn, "an", "Kiểm tra ki-ốt", kiosk_id=town["kiosk"]["kiosk_id"])
        case_rules.set_due(conn, case_id, (date.today() - timedelta(days=3)).isoformat(), "an")
        return case_id
    case_id = with_core(town, overdue_case)
    first, url = serve(town, "--sweep-seconds", "0.1")
    second, url2 = serve(town, "--sweep-seconds", "0.1")
    try:
        def sweeps(u):
            return requests.get(u + "/healthz", timeout=10).json()["background"]["sweeps"]
        wait_until(lambda: rows(town, "SELECT count(*) FROM alerts WHERE kind = 'case_overdue'") == [(1,)],
                   timeout=60, what="the overdue alert")
        start = {u: sweeps(u) for u in (url, url2)}
        wait_until(lambda: all(sweeps(u) >= start[u] + 5 for u in start), timeout=30, what="five more rounds each")
        assert rows(town, "SELECT subject, open_key, params FROM alerts WHERE kind = 'case_overdue'") == [
            (str(case_id), f"case_overdue|{case_id}", json.dumps(
                {"case_id": case_id, "officer_id": None, "kiosk_id": town["kiosk"]["kiosk_id"],
                 "due_date": (date.today() - timedelta(days=3)).isoformat(), "kind": "manual"},
                separators=(",", ":")))]
        assert rows(town, "SELECT count(*) FROM case_events WHERE kind = 'overdue'") == [(1,)]
        (case,) = api_cases(url, town, overdue=1)
        assert case["id"] == case_id and case["overdue"] is True

        def close(conn):
            case_rules.add_action(conn, case_id, "an", "other", "Đã thay dây mạng")
            case_rules.close_case(conn, case_id, "an", "Dây mạng hỏng", "Ki-ốt gửi lại bình thường")
        with_core(town, close)
        assert rows(town, "SELECT resolved_at IS NOT NULL, note FROM alerts WHERE kind = 'case_overdue'") == [
            (1, f"Đã xử lý trong vụ việc số {case_id}")]
        assert api_cases(url, town, overdue=1) == []
    finally:
        stop(first)
        stop(second)
