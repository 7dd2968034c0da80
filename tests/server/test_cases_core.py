"""core/cases.py and core/workdays.py on a real town.db: due dates in working days over Tết and
the settings' own days, default owners, the status moves, the close's refusals, one case per
cause under concurrent openers."""
from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest

from sync.server.core import admin_ops, db, workdays
from sync.server.core import alerts as alert_rules
from sync.server.core import cases as case_rules
from sync.server.core.settings import set_setting

FRI_13_FEB_2026 = datetime(2026, 2, 13, 2, 0, tzinfo=timezone.utc)     # 09:00 in Hà Nội


@pytest.fixture
def engine(town_db, tmp_path):
    engine = db.make_engine(str(town_db))
    db.migrate(engine)
    with engine.begin() as conn:
        admin_ops.create_user(conn, "an", "admin", "mật-khẩu-quản-trị")
        admin_ops.create_user(conn, "lan", "admin", "mật-khẩu-quản-trị")
        admin_ops.enrol_kiosk(conn, "K1", "13321")
    yield engine
    engine.dispose()


def test_working_days_skip_weekends_and_tet_and_the_holidays_library_knows_them():
    assert workdays.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)      # Tết 16–20/02/2026
    assert workdays.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    assert workdays.add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 28)      # Giỗ Tổ + its day off
    assert workdays.add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)       # 30/4, 1/5, weekend
    assert workdays.add_working_days(date(2026, 8, 28), 2) == date(2026, 9, 4)       # 31/8, 1/9, 2/9 off
    assert workdays.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)      # 1/1/2027 then a weekend
    assert workdays.add_working_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert workdays.holiday_name(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert workdays.working_days_between(date(2026, 2, 13), date(2026, 2, 25)) == 3


def test_the_settings_add_days_off_and_worked_saturdays():
    cal = {"days_off": ["2026-03-02", "not a day"], "working_days": ["2026-02-14"]}
    assert workdays.add_working_days(date(2026, 2, 13), 1, cal) == date(2026, 2, 14)   # a worked Saturday
    assert workdays.add_working_days(date(2026, 2, 27), 1, cal) == date(2026, 3, 3)    # the province's day off


def test_a_case_opened_on_friday_before_tet_is_due_after_tet_and_the_rules_change_it(engine):
    with engine.begin() as conn:
        alert = alert_rules.Alert("chain", "…", "2026-02-13T09:00:00+07:00", subject="K1", kiosk_id="K1",
                                  seq_from=4, seq_to=4, params={"kiosk": "K1", "seq": 4})
        case_rules.raise_alerts(conn, [alert], FRI_13_FEB_2026)
        case = case_rules.get_case(conn, 1)
        assert (case["kind"], case["due_date"], case["unit_code"]) == ("tampering", "2026-02-24", "13321")  # 2 days
        set_setting(conn, "case_rules", {"due_days": {"manual": 3, "tampering": "x"}, "owner": "lan",
                                         "owners": {"manual": "an", "silent": "nobody"}})
        set_setting(conn, "workdays", {"days_off": ["2026-02-23"]})
        manual = case_rules.open_case(conn, "an", "Kiểm tra", kiosk_id="K1", now=FRI_13_FEB_2026)
        assert case_rules.get_case(conn, manual)["due_date"] == "2026-02-26"   # 3 days, the 23rd off too
        assert case_rules.get_case(conn, manual)["owner"] == "an"              # the kind's owner
        assert case_rules.default_owner(conn, "silent", "13321") == "lan"      # "nobody" is no user: the catch-all
        assert case_rules.case_rules(conn)["due_days"]["tampering"] == 2       # a bad value keeps the default


def test_the_status_moves_and_close_refusals(engine):
    with engine.begin() as conn:
        cid = case_rules.open_case(conn, "an", "Kiểm tra", kiosk_id="K1")
        with pytest.raises(case_rules.Refused) as refused:
            case_rules.set_status(conn, cid, "resolved", "an")
        assert refused.value.fields == ("status",)
        case_rules.set_status(conn, cid, "in_progress", "an")
        with pytest.raises(case_rules.Refused, match="Chưa ghi biện pháp"):
            case_rules.set_status(conn, cid, "resolved", "an")
        case_rules.add_action(conn, cid, "an", "chan_chinh", "Chấn chỉnh")
        case_rules.set_status(conn, cid, "resolved", "an")
        assert case_rules.get_case(conn, cid)["resolved_at"]
        case_rules.set_status(conn, cid, "in_progress", "an")                # back from resolved
        assert case_rules.get_case(conn, cid)["resolved_at"] is None
        with pytest.raises(case_rules.Refused) as refused:
            case_rules.close_case(conn, cid, "an", "  ", None)
        assert refused.value.fields == ("found_cause", "outcome")
        assert str(refused.value) == (f"Chưa đóng được vụ việc số {cid}: còn thiếu nguyên nhân tìm được, "
                                      "kết quả xử lý")
        case_rules.close_case(conn, cid, "an", "Mạng", "Đã sửa")
        case = case_rules.get_case(conn, cid)
        assert (case["status"], case["open_key"], case["closed_by"], case["watch_month"]) == ("closed", None, "an",
                                                                                              None)   # a kiosk: no watch
        assert case_rules.closed_on_time(case) is True
        with pytest.raises(case_rules.Refused, match="đã đóng"):
            case_rules.add_action(conn, cid, "an", "nhac_nho")
        with pytest.raises(case_rules.Refused, match="đã đóng"):
            case_rules.close_case(conn, cid, "an", "a", "b")
        assert [e["kind"] for e in case["events"]] == ["opened", "status", "action", "status", "status", "closed"]


def test_two_openers_of_one_cause_make_one_case(engine):
    """Two writers raise the same harassment alert for one officer and month: one case, both linked."""
    barrier = threading.Barrier(2)
    errors = []

    def raise_one(n):
        try:
            barrier.wait()
            with engine.begin() as conn:
                cause = alert_rules.Alert("nhung_nhieu", "…", f"2026-11-0{n}T09:00:00+07:00", subject="cb-002",
                                          kiosk_id="K1", rating_id=f"r{n}", seq_from=n, seq_to=n,
                                          params={"officer": "cb-002"})
                case_rules.raise_alerts(conn, [cause])
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=raise_one, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        total, rows = case_rules.list_cases(conn, status="all")
        assert total == 1
        case = case_rules.get_case(conn, rows[0]["id"])
    assert sorted(lk["rating_id"] for lk in case["links"] if lk["rating_id"]) == ["r1", "r2"]
