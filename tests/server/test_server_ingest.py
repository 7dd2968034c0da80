"""The town server's batch ingest (sync protocol v1) over real HTTP on 127.0.0.1."""
import gzip
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from faultproxy import ServerThread, open_alerts, sealed_ratings, server_ratings
from helpers import VECTORS
from sqlalchemy import func, select

from sync import protocol
from sync.server.core.admin_ops import enrol_kiosk, revoke_kiosk
from sync.server.core.db import batches, ratings


@pytest.fixture
def town(tmp_path, town_db):
    server = ServerThread(town_db, max_batch=50, max_body_bytes=200_000, skew_threshold=600)
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        server.k2 = enrol_kiosk(conn, "K2", "13321")
    yield server
    server.stop()


def now_iso(offset_s: float = 0) -> str:
    return (datetime.now(timezone(timedelta(hours=7))) + timedelta(seconds=offset_s)).isoformat(timespec="seconds")


def post(town, records, token=None, key=None, kiosk_id="K1", sent_at=None, raw=None, encoding="gzip",
         headers=None):
    body = raw if raw is not None else json.dumps(
        {"kiosk_id": kiosk_id, "sent_at": sent_at or now_iso(), "ratings": records}, ensure_ascii=False).encode()
    hdrs = {"Authorization": f"Bearer {token or town.k1['token']}", "Idempotency-Key": key or str(uuid.uuid4()),
            "Content-Type": "application/json"}
    if encoding == "gzip":
        body = gzip.compress(body)
        hdrs["Content-Encoding"] = "gzip"
    elif encoding == "gzip-raw":  # bytes already compressed (or broken), labelled gzip
        hdrs["Content-Encoding"] = "gzip"
    elif encoding:
        hdrs["Content-Encoding"] = encoding
    hdrs.update(headers or {})
    return requests.post(town.url + protocol.PATH_BATCH, data=body, headers={k: v for k, v in hdrs.items() if v is not None},
                         timeout=10)


def count(town, table=ratings):
    with town.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_batch_accepted_then_duplicate_and_chain_verifies(town):
    recs = sealed_ratings("K1", town.k1["key"], 10)
    r = post(town, recs)
    assert r.status_code == 200, r.text
    assert r.json()["acked_through"] == 10
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 10
    r2 = post(town, recs[5:])       # resent under a new key: duplicates, success
    assert [x["status"] for x in r2.json()["results"]] == ["duplicate"] * 5
    held = server_ratings(town.engine, "K1")
    assert [h["seq"] for h in held] == list(range(1, 11))
    assert protocol.verify_chain(held, town.k1["key"]) == (None, None)
    assert held[6]["comment"] == "Cán bộ hướng dẫn tận tình"
    assert held[0]["received_at"] and held[0]["corrected_at"] == held[0]["created_at"]
    assert open_alerts(town.engine) == []


def test_same_idempotency_key_replays_the_stored_reply(town):
    recs = sealed_ratings("K1", town.k1["key"], 3)
    key = str(uuid.uuid4())
    first = post(town, recs, key=key).json()
    again = post(town, recs, key=key, sent_at=now_iso(5))
    assert again.status_code == 200 and again.json() == first
    assert [x["status"] for x in again.json()["results"]] == ["accepted"] * 3
    assert count(town) == 3 and count(town, batches) == 1
    other = post(town, sealed_ratings("K1", town.k1["key"], 4), key=key)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


def test_same_id_other_content_is_rejected_and_alerted(town):
    recs = sealed_ratings("K1", town.k1["key"], 2)
    post(town, recs)
    forged = dict(recs[1], level=1 if recs[1]["level"] != 1 else 2)
    forged = protocol.seal(forged, forged["prev_hash"], town.k1["key"])
    r = post(town, [forged]).json()
    assert r["results"][0]["status"] == "rejected"
    assert [a["kind"] for a in open_alerts(town.engine, "K1")] == ["conflict"]
    assert server_ratings(town.engine, "K1")[1]["level"] == recs[1]["level"]


def test_bad_signature_rejected_as_tampering_rest_of_batch_kept(town):
    recs = sealed_ratings("K1", town.k1["key"], 4)
    recs[1] = dict(recs[1], sig="0" * 64)
    r = post(town, recs).json()
    assert [x["status"] for x in r["results"]] == ["accepted", "rejected", "accepted", "accepted"]
    assert "signature" in r["results"][1]["error"]
    assert r["acked_through"] == 1
    kinds = sorted(a["kind"] for a in open_alerts(town.engine, "K1"))
    assert kinds == ["gap", "signature"]


def test_gap_is_stored_and_alerted_until_the_missing_seqs_arrive(town):
    recs = sealed_ratings("K1", town.k1["key"], 8)
    r = post(town, recs[:2] + recs[5:]).json()
    assert all(x["status"] == "accepted" for x in r["results"])
    assert r["acked_through"] == 2
    gaps = open_alerts(town.engine, "K1")
    assert [(a["kind"], a["seq_from"], a["seq_to"]) for a in gaps] == [("gap", 3, 5)]
    assert "3–5" in gaps[0]["message"]
    r = post(town, recs[2:4]).json()
    assert r["acked_through"] == 4 and len(open_alerts(town.engine, "K1")) == 1
    r = post(town, recs[4:5]).json()
    assert r["acked_through"] == 8
    assert open_alerts(town.engine, "K1") == []
    assert protocol.verify_chain(server_ratings(town.engine, "K1"), town.k1["key"]) == (None, None)


def test_broken_chain_is_stored_and_alerted(town):
    recs = sealed_ratings("K1", town.k1["key"], 3)
    relinked = protocol.seal(dict(recs[2]), "ab" * 32, town.k1["key"])  # signed, but links elsewhere
    r = post(town, recs[:2] + [relinked]).json()
    assert [x["status"] for x in r["results"]] == ["accepted"] * 3
    assert r["acked_through"] == 3
    alerts = open_alerts(town.engine, "K1")
    assert [(a["kind"], a["seq_from"]) for a in alerts] == [("chain", 3)]
    assert "Phiếu số 3 của ki-ốt K1 không nối tiếp phiếu số 2" in alerts[0]["message"]
    post(town, sealed_ratings("K1", town.k1["key"], 1, start_seq=4, prev_hash=relinked["hash"]))
    assert len(open_alerts(town.engine, "K1")) == 1          # a chain alert stays until someone resolves it
    from sync.server.core.admin_ops import AdminError, resolve_alert
    with town.engine.begin() as conn:
        resolve_alert(conn, alerts[0]["id"], "chị Lan", "kiosk restored from backup")
    assert open_alerts(town.engine, "K1") == []
    with town.engine.begin() as conn, pytest.raises(AdminError, match="already resolved"):
        resolve_alert(conn, alerts[0]["id"], "an")


def test_clock_skew_corrects_times_and_alerts(town):
    recs = sealed_ratings("K1", town.k1["key"], 2, created_at="2026-03-02T09:00:00+07:00")
    r = post(town, recs, sent_at=now_iso(-3600))   # the kiosk's clock is an hour behind
    assert r.status_code == 200
    held = server_ratings(town.engine, "K1")
    assert abs(held[0]["skew_seconds"] - 3600) < 30
    corrected = datetime.fromisoformat(held[0]["corrected_at"])
    assert abs((corrected - datetime.fromisoformat(held[0]["created_at"])).total_seconds() - 3600) < 30
    assert [a["kind"] for a in open_alerts(town.engine, "K1")] == ["clock_skew"]
    post(town, sealed_ratings("K1", town.k1["key"], 1, start_seq=3, prev_hash=recs[-1]["hash"]))
    assert open_alerts(town.engine, "K1") == []     # back in step: closed by itself



@pytest.mark.parametrize("case", [
    "bad_json", "not_object", "missing_ratings", "ratings_not_list", "extra_field", "bad_sent_at",
    "record_missing_field", "record_bad_level", "record_bad_uuid", "record_other_kiosk", "out_of_order",
    "same_id_twice", "too_many", "too_big", "bad_gzip", "truncated_gzip", "encoding_br", "no_idem_key",
    "bad_idem_key", "no_token", "unknown_token", "other_kiosks_token", "seq_too_big",
])
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(town, case):
    key = town.k1["key"]
    recs = sealed_ratings("K1", key, 3)
    kwargs, expect = {}, (422, None)
    if case == "bad_json":
        kwargs, expect = {"raw": b'{"kiosk_id": "K1", '}, (400, "not valid JSON")
    elif case == "not_object":
        kwargs, expect = {"raw": b"[1, 2]"}, (422, "JSON object")
    elif case == "missing_ratings":
        kwargs, expect = {"raw": json.dumps({"kiosk_id": "K1", "sent_at": now_iso()}).encode()}, (422, "ratings: missing")
    elif case == "ratings_not_list":
        kwargs, expect = {"raw": json.dumps({"kiosk_id": "K1", "sent_at": now_iso(), "ratings": {}}).encode()}, (422, "ratings: must be a list")
    elif case == "extra_field":
        kwargs, expect = {"raw": json.dumps({"kiosk_id": "K1", "sent_at": now_iso(), "ratings": [], "x": 1}).encode()}, (422, "x: unknown field")
    elif case == "bad_sent_at":
        kwargs, expect = {"sent_at": "yesterday"}, (422, "sent_at: not RFC 3339")
    elif case == "record_missing_field":
        del recs[1]["officer_id"]
        expect = (422, "ratings[1]: officer_id: missing")
    elif case == "record_bad_level":
        recs[2]["level"] = "3"
        expect = (422, "ratings[2]: level")
    elif case == "record_bad_uuid":
        recs[0]["id"] = "not-a-uuid"
        expect = (422, "ratings[0]: id: must be a UUID")
    elif case == "record_other_kiosk":
        recs[0]["kiosk_id"] = "K2"
        expect = (422, "differs from the batch's kiosk_id")
    elif case == "out_of_order":
        recs = [recs[1], recs[0], recs[2]]
        expect = (422, "seq order")
    elif case == "same_id_twice":
        recs[1] = dict(recs[1], id=recs[0]["id"])
        expect = (422, "same id twice")
    elif case == "too_many":
        recs = sealed_ratings("K1", key, 51)
        expect = (413, "more than 50")
    elif case == "too_big":
        kwargs, expect = {"raw": b" " * 300_000 + b"{}"}, (413, "larger than 200000 bytes")
    elif case == "bad_gzip":
        kwargs, expect = {"raw": b"not gzip at all", "encoding": "gzip-raw"}, (400, "not valid gzip")
    elif case == "truncated_gzip":
        whole = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": now_iso(), "ratings": recs}).encode())
        kwargs, expect = {"raw": whole[:len(whole) // 2], "encoding": "gzip-raw"}, (400, "truncated")
    elif case == "encoding_br":
        kwargs, expect = {"encoding": "br"}, (415, "not supported")
    elif case == "no_idem_key":
        kwargs, expect = {"headers": {"Idempotency-Key": None}}, (422, "idempotency-key")
    elif case == "bad_idem_key":
        kwargs, expect = {"key": "batch-7"}, (400, "Idempotency-Key: must be a UUID")
    elif case == "no_token":
        kwargs, expect = {"headers": {"Authorization": None}}, (401, "missing bearer token")
    elif case == "unknown_token":
        kwargs, expect = {"token": "hk_nope"}, (401, "unknown kiosk token")
    elif case == "other_kiosks_token":
        kwargs, expect = {"token": town.k2["token"]}, (403, "another kiosk")
    elif case == "seq_too_big":
        recs = [protocol.seal(dict(recs[0], seq=2**60), protocol.ZERO_HASH, key)]
        expect = (422, "seq: larger than")
    r = post(town, recs, **kwargs)
    status, words = expect
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail
    if words:
        assert words.lower() in detail.lower()
    assert count(town) == 0 and count(town, batches) == 0
    assert open_alerts(town.engine) == []


def test_revoked_kiosk_is_refused(town):
    with town.engine.begin() as conn:
        revoke_kiosk(conn, "K1")
    r = post(town, sealed_ratings("K1", town.k1["key"], 1))
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    assert count(town) == 0


def test_two_kiosks_keep_separate_chains(town):
    a = post(town, sealed_ratings("K1", town.k1["key"], 5)).json()
    b = post(town, sealed_ratings("K2", town.k2["key"], 7), token=town.k2["token"], kiosk_id="K2").json()
    assert (a["acked_through"], b["acked_through"]) == (5, 7)
    assert open_alerts(town.engine) == []


def test_fast_seal_check_agrees_with_the_protocol_on_the_vectors():

    from sync.server.core.ingest import seal_problem
    vectors = json.loads((VECTORS / "chain.json").read_text("utf-8"))
    key = vectors["kiosk_key_hex"]
    for record, expected in zip(vectors["records"], vectors["expected"]):
        sealed = dict(record, **{k: expected[k] for k in ("prev_hash", "hash", "sig")})
        assert seal_problem(sealed, bytes.fromhex(key)) is None     # record 3 is NFD: the slow path
        assert protocol.check_seal(sealed, key) is None
        edited = dict(sealed, level=sealed["level"] % 3 + 1)
        assert seal_problem(edited, bytes.fromhex(key)) == protocol.check_seal(edited, key) is not None
        forged = dict(sealed, sig="0" * 64)
        assert seal_problem(forged, bytes.fromhex(key)) == protocol.check_seal(forged, key) is not None
