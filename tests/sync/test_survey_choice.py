"""Which survey a kiosk asks (DESIGN.md: the campaign running at its desk today, else the default),
and whether a receipt's rating came on time: rules both ends share in sync/protocol.py."""
from datetime import date

from sync import protocol

HL3 = protocol.BUILTIN_SURVEYS["hl3"]
FRONT = {"id": "mttq-2026-12", "scale": 5, "satisfied": [5, 4], "from": "2026-12-01", "to": "2026-12-31",
         "units": ["13321"], "desks": ["quay-1"]}
SURPRISE = {"id": "mttq-dot-xuat", "scale": 3, "satisfied": [3, 2], "from": "2026-12-10", "to": "2026-12-11",
            "units": [], "desks": []}
DEFAULT = {"id": "xa-mac-dinh", "scale": 4, "satisfied": [4, 3]}


def ask(day, desk="quay-1", unit="13321", default="xa-mac-dinh"):
    return protocol.survey_to_ask([DEFAULT, FRONT, SURPRISE], default, unit, desk, day)["id"]


def test_the_campaign_runs_at_its_desk_on_its_days_only():
    assert ask(date(2026, 12, 1)) == "mttq-2026-12"          # its first day, included
    assert ask(date(2026, 12, 31)) == "mttq-2026-12"         # its last day, included
    assert ask(date(2026, 11, 30)) == "xa-mac-dinh"          # before
    assert ask(date(2027, 1, 1)) == "xa-mac-dinh"            # after
    assert ask(date(2026, 12, 2), desk="quay-2") == "xa-mac-dinh"    # another desk keeps the default
    assert ask(date(2026, 12, 2), unit="99999") == "xa-mac-dinh"     # another unit too


def test_a_surprise_survey_over_a_periodic_one_wins_while_it_runs():
    assert ask(date(2026, 12, 10)) == "mttq-dot-xuat"
    assert ask(date(2026, 12, 10), desk="quay-2") == "mttq-dot-xuat"  # empty desks: everywhere
    assert ask(date(2026, 12, 12)) == "mttq-2026-12"


def test_without_the_default_among_them_a_built_in_id_still_answers():
    assert protocol.survey_to_ask([], "hl5", "u", "d", date(2026, 1, 1))["id"] == "hl5"
    assert protocol.survey_to_ask([], "unknown", "u", "d", date(2026, 1, 1)) is None
    assert protocol.survey_to_ask([HL3, "junk", {"id": 3}], "hl3", "u", "d", date(2026, 1, 1)) is HL3


def test_a_campaign_with_bad_dates_never_runs():
    for bad in ({"from": "1/12/2026"}, {"to": 20261231}, {"from": "2026-12-01", "to": "2026-12-31T00:00"}):
        assert not protocol.campaign_runs({"id": "x", **bad}, "u", "d", date(2026, 12, 5))
    assert not protocol.campaign_runs(DEFAULT, "13321", "quay-1", date(2026, 12, 5))   # not a campaign


def test_on_time_is_rated_on_or_before_the_appointment_date():
    assert protocol.timeliness_flag("2026-12-05", date(2026, 12, 5)) == protocol.ON_TIME_FLAG
    assert protocol.timeliness_flag("2026-12-05", date(2026, 12, 1)) == "on_time"
    assert protocol.timeliness_flag("2026-12-05", date(2026, 12, 6)) == "late"
    assert protocol.timeliness_flag(None, date(2026, 12, 6)) is None
    assert protocol.timeliness_flag("05/12/2026", date(2026, 12, 6)) is None
