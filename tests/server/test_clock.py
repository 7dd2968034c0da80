"""Kiosk clocks drift and jump (DESIGN.md): corrected times never after the rating's received_at nor
before the previous seq's; a created_at that runs backwards, lies before 2020 or after the server's
tomorrow is flagged in server_flags and raised as a clock_jump alert, and still counts.
Through the real batch API (ServerThread)."""
import gzip
import json
import random
import uuid
from datetime import datetime, time, timedelta

import pytest
import requests
from faultproxy import ServerThread, open_alerts, server_ratings

from sync import protocol
from sync.server.core.admin_ops import create_token, create_user, enrol_kiosk
from sync.server.core.clock import VN_TZ
from sync.server.core.ingest import _before


@pytest.fixture
def town(town_db, tmp_path):
    server = ServerThread(town_db, media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        create_user(conn, "chi.lan", "admin", "mật khẩu dài")
        server.admin_token = create_token(conn, "chi.lan")
    yield server
    server.stop()


def kiosk_time(dt: datetime) -> str:
    """As a kiosk writes its clock: local, to the second."""
    return dt.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def now_vn() -> datetime:
    return datetime.now(VN_TZ)


class Kiosk:
    """K1's chain, sent batch by batch with the kiosk's own sent_at."""

    def __init__(self, town):
        self.town, self.seq, self.prev = town, 0, protocol.ZERO_HASH

    def records(self, created: list[str]) -> list[dict]:
        out = []
        for at in created:
            self.seq += 1
            rec = protocol.seal({
                "id": str(uuid.uuid4()), "kiosk_id": "K1", "seq": self.seq, "created_at": at,
                "unit_code": "13321", "desk_id": "quay-1", "officer_id": "cb-001", "dossier_code": None,
                "procedure_code": None, "receipt_id": None, "level": 3, "reasons": [], "comment": None,
                "source": "walk_up", "flags": [], "survey": "hl3", "answers": {}}, self.prev, self.town.k1["key"])
            self.prev = rec["hash"]
            out.append(rec)
        return out

    def send(self, created: list[str], sent_at: str) -> dict:
        body = json.dumps({"kiosk_id": "K1", "sent_at": sent_at, "ratings": self.records(created)}).encode()
        r = requests.post(self.town.url + protocol.PATH_BATCH, data=gzip.compress(body), timeout=10, headers={
            "Authorization": f"Bearer {self.town.k1['token']}", "Idempotency-Key": str(uuid.uuid4()),
            "Content-Encoding": "gzip", "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert all(x["status"] == "accepted" for x in r.json()["results"]), r.text
        return r.json()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def clock_alerts(town) -> list[dict]:
    return [a for a in open_alerts(town.engine, "K1") if a["kind"] == "clock_jump"]


def dashboard_valid(town) -> int:
    month = now_vn().strftime("%Y-%m")
    r = requests.get(town.url + "/api/v1/reports/dashboard", params={"period": month},
                     headers={"Authorization": f"Bearer {town.admin_token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["overall"]["valid"]


def test_a_skewed_kiosk_is_corrected_but_never_after_the_rating_was_received(town):
    k = Kiosk(town)
    behind = now_vn() - timedelta(hours=1)            # the kiosk's clock runs an hour behind
    sent_at = kiosk_time(behind)
    k.send([kiosk_time(behind - timedelta(minutes=5)),   # + skew: 5 minutes ago
            kiosk_time(behind + timedelta(minutes=20))],  # + skew: 20 minutes from now: clamped
           sent_at)
    first, second = server_ratings(town.engine, "K1")
    assert first["skew_seconds"] > 3500
    assert moment(first["corrected_at"]) < moment(first["received_at"])
    assert abs((moment(first["received_at"]) - moment(first["corrected_at"])).total_seconds() - 300) < 30
    assert moment(second["corrected_at"]) == moment(second["received_at"])
    assert second["corrected_at"].endswith("+07:00")        # as reports cut days: local text
    assert first["server_flags"] == second["server_flags"] == []
    assert clock_alerts(town) == []
    assert [a["kind"] for a in open_alerts(town.engine, "K1")] == ["clock_skew"]


def test_a_backwards_jump_is_flagged_alerted_and_still_counted(town):
    k = Kiosk(town)
    t = now_vn() - timedelta(hours=2)
    k.send([kiosk_time(t), kiosk_time(t + timedelta(minutes=1))], kiosk_time(now_vn()))
    # the clock jumps three days back (seq 3, against the server's held seq 2), then once more
    # inside the batch (seq 5 against seq 4)
    back = t - timedelta(days=3)
    k.send([kiosk_time(back), kiosk_time(back + timedelta(minutes=1)), kiosk_time(back - timedelta(days=1))],
           kiosk_time(now_vn()))
    rows = server_ratings(town.engine, "K1")
    assert [r["server_flags"] for r in rows] == [[], [], ["clock_back"], [], ["clock_back"]]
    # none is corrected before its previous seq's corrected time
    assert [moment(r["corrected_at"]) for r in rows[2:]] == [moment(rows[1]["corrected_at"])] * 3
    assert rows[2]["created_at"] == kiosk_time(back)            # what the kiosk said is kept
    (alert,) = clock_alerts(town)
    assert alert["count"] == 2 and alert["subject"] == "K1"
    assert alert["happened_at"] == rows[2]["corrected_at"]
    assert alert["rating_id"] == rows[2]["id"]
    assert "phiếu số 3" in alert["message"]
    assert dashboard_valid(town) == 5                           # flagged ratings are not misuse


def test_dates_before_2020_and_after_tomorrow_are_flagged(town):
    k = Kiosk(town)
    tomorrow = now_vn().date() + timedelta(days=1)
    end_of_tomorrow = datetime.combine(tomorrow, time(23, 59, 59), VN_TZ)
    day_after = datetime.combine(tomorrow + timedelta(days=1), time(), VN_TZ)
    k.send(["2019-12-31T23:59:59+07:00", "2020-01-01T00:00:00+07:00", kiosk_time(end_of_tomorrow),
            kiosk_time(day_after), "2019-06-01T08:00:00Z"], kiosk_time(now_vn()))
    rows = server_ratings(town.engine, "K1")
    assert [r["server_flags"] for r in rows] == [
        ["clock_before_2020"], [], [], ["clock_future"], ["clock_back", "clock_before_2020"]]
    for r in rows:
        assert moment(r["corrected_at"]) <= moment(r["received_at"])
    assert moment(rows[2]["corrected_at"]) == moment(rows[2]["received_at"])   # tomorrow: clamped, not flagged
    # grouped by the month of the rating's corrected time: the 2019 one stays in 2019
    found = {a["happened_at"][:7]: a for a in clock_alerts(town)}
    assert {m: a["count"] for m, a in found.items()} == {"2019-12": 1, rows[3]["corrected_at"][:7]: 2}
    assert "trước năm 2020" in found["2019-12"]["message"]
    assert "sau ngày mai" in found[rows[3]["corrected_at"][:7]]["message"]


def test_corrected_times_are_monotone_per_kiosk(town):
    rng = random.Random(9)
    k = Kiosk(town)
    now = now_vn()
    for batch in range(12):
        offset = timedelta(seconds=rng.choice([0, 0, -7200, 5400, -86400 * 400, 30]))   # the kiosk's clock error
        kiosk_now = now + offset + timedelta(seconds=batch)
        created = [kiosk_now - timedelta(seconds=rng.randint(-900, 3600)) for _ in range(rng.randint(1, 6))]
        k.send([kiosk_time(c) for c in created], kiosk_time(kiosk_now))
    rows = server_ratings(town.engine, "K1")
    corrected = [moment(r["corrected_at"]) for r in rows]
    assert corrected == sorted(corrected)
    assert all(c <= moment(r["received_at"]) for c, r in zip(corrected, rows))
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize("a, b, expected", [
    ("2026-03-02T09:15:00+07:00", "2026-03-02T09:15:01+07:00", True),
    ("2026-03-02T09:15:01+07:00", "2026-03-02T09:15:00+07:00", False),
    ("2026-03-02T09:15:00+07:00", "2026-03-02T09:15:00+07:00", False),
    ("2026-03-02T09:15:00+07:00", "2026-03-02T09:15:00.001+07:00", True),
    ("2026-03-02T09:15:00.5+07:00", "2026-03-02T09:15:00.123+07:00", False),
    ("2026-03-02T09:15:00.5Z", "2026-03-02T09:15:00.50001Z", True),
    ("2026-03-02T09:15:00+07:00", "2026-03-02T02:15:00Z", False),          # the same moment
    ("2026-03-02T09:15:00+07:00", "2026-03-02T02:15:00.001Z", True),
    ("2026-03-02T09:15:00+08:00", "2026-03-02T09:00:00+07:00", True),
    ("2026-03-02T09:15:00-00:30", "2026-03-02T09:15:00+00:30", False),
])
def test_before_compares_moments_whatever_the_writing(a, b, expected):
    assert _before(a, b) is expected
    assert (moment(a.replace("Z", "+00:00")) < moment(b.replace("Z", "+00:00"))) is expected


def test_the_text_fast_path_agrees_with_moments():
    """_Clock.correct against the rules written with datetimes, on kiosk-written and other texts."""
    from datetime import timezone

    from sync.server.core.ingest import _Clock
    rng = random.Random(3)
    now = datetime.now(timezone.utc)
    epoch = datetime(2020, 1, 1, tzinfo=VN_TZ)
    future = datetime.combine(now.astimezone(VN_TZ).date() + timedelta(days=2), time(), VN_TZ)

    def text(dt):
        return rng.choice([kiosk_time(dt), dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
                           dt.astimezone(VN_TZ).isoformat(timespec="milliseconds")])

    spots = [now, now - timedelta(seconds=1), now + timedelta(seconds=1), epoch, epoch - timedelta(seconds=1),
             future, future - timedelta(seconds=1), now - timedelta(days=30), datetime(2019, 5, 1, tzinfo=VN_TZ)]
    for skew in (0.0, 3600.0, -7200.0):
        clock = _Clock(now, skew, abs(skew) > 600)
        for _ in range(400):
            created = text(rng.choice(spots) + timedelta(seconds=rng.choice([0, 0, 1, -1, 0.25])))
            before = None if rng.random() < 0.2 else (text(rng.choice(spots)), text(rng.choice(spots)))
            corrected, found = clock.correct(created, before)
            c = moment(created.replace("Z", "+00:00"))
            want = [f for f, bad in (("clock_back", before and c < moment(before[0].replace("Z", "+00:00"))),
                                     ("clock_before_2020", c < epoch),
                                     ("clock_future", c >= epoch and c >= future)) if bad]
            assert list(found) == want, (created, before)
            expect = c + timedelta(seconds=skew) if abs(skew) > 600 else c
            if before:
                expect = max(expect, moment(before[1].replace("Z", "+00:00")))
            expect = min(expect, now)
            got = moment(corrected.replace("Z", "+00:00"))
            assert abs((got - expect).total_seconds()) < 0.001, (created, before, corrected)
