"""The public log end to end: real batches through the API, a real server on 127.0.0.1, both engines.

Leaves in pk order; the checkpoint's signature with /api/v1/log/key; an
inclusion proof by receipt and a consistency proof verified with this
test's own RFC 9162 code (tests/sync/test_tlog.py's, independent of
sync/tlog.py); hostile query strings; the level nowhere; ``hailong audit``
pins, passes, then fails once a leaf is rewritten in town.db.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid

import dbtools
import pytest
import requests
from faultproxy import ServerThread
from helpers import ROOT

from sync import protocol
from sync.server.core import tasks, tlog_store
from sync.server.core.admin_ops import enrol_kiosk

sys.path.insert(0, str(ROOT / "tests" / "sync"))
from test_tlog import MTH, PATH, PROOF  # noqa: E402  - the independent RFC 9162 code


def H(b):
    return hashlib.sha256(b).digest()


class Kiosk:
    def __init__(self, server, kid="K1"):
        with server.engine.begin() as conn:
            e = enrol_kiosk(conn, kid, "13321")
        self.server, self.id, self.token, self.key = server, kid, e["token"], e["key"]
        self.seq, self.prev, self.sent = 1, protocol.ZERO_HASH, []

    def send(self, n: int) -> list[dict]:
        recs = []
        for _ in range(n):
            rec = protocol.seal({
                "id": str(uuid.uuid4()), "kiosk_id": self.id, "seq": self.seq,
                "created_at": "2026-03-02T09:15:00+07:00", "unit_code": "13321", "desk_id": "quay-1",
                "officer_id": "cb-001", "dossier_code": None, "procedure_code": None,
                "receipt_id": uuid.uuid4().hex[:16], "level": 1 + self.seq % 3, "reasons": [], "comment": None,
                "source": "receipt", "flags": [], "survey": "hl3", "answers": {}}, self.prev, self.key)
            self.seq, self.prev = self.seq + 1, rec["hash"]
            recs.append(rec)
        body = gzip.compress(json.dumps({"kiosk_id": self.id, "sent_at": "2026-03-02T09:20:00+07:00",
                                         "ratings": recs}).encode())
        r = requests.post(self.server.url + protocol.PATH_BATCH, data=body, timeout=60, headers={
            "Authorization": f"Bearer {self.token}", "Idempotency-Key": str(uuid.uuid4()),
            "Content-Encoding": "gzip", "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        self.sent += recs
        # a batch signs unless a checkpoint is under a second old; the background round signs the rest
        tasks.log_round(self.server.engine, self.server.app.state.write_lock)
        return recs


@pytest.fixture
def town(town_db, tmp_path):
    server = ServerThread(town_db, media_dir=tmp_path / "media", sweep_seconds=3600)
    server.db = town_db
    yield server
    server.stop()


def get(server, path, **params):
    return requests.get(server.url + path, params=params, timeout=30)


def verifier_of(server):
    name, hexid, b64 = get(server, "/api/v1/log/key").text.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33
    assert H(name.encode() + b"\n\x01" + raw[1:])[:4].hex() == hexid
    return name, bytes.fromhex(hexid), raw[1:]


def checkpoint_of(server, verifier):
    """Independent parse and check of the C2SP checkpoint: (size, root)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    r = get(server, "/api/v1/log/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text, sig = r.text.split("\n\n")
    origin, size, root = text.split("\n")
    name, kid, pub = verifier
    assert origin == name
    assert sig.startswith("\u2014 " + name + " ") and sig.endswith("\n")
    raw = base64.b64decode(sig.strip().split(" ")[2])
    assert raw[:4] == kid
    Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], (text + "\n").encode())
    return int(size), base64.b64decode(root)


def entries_in_pk_order(db):
    return [bytes.fromhex(r["hash"]) for r in dbtools.rows(db, "SELECT hash FROM ratings ORDER BY pk")]


def verify_path(index, size, leaf, hashes, root):
    """RFC 9162 §2.1.3.2, written again here."""
    fn, sn, r = index, size - 1, leaf
    for p in hashes:
        assert sn > 0
        if fn % 2 == 1 or fn == sn:
            r = H(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = H(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0 and r == root


def test_batches_become_leaves_checkpoints_and_proofs(town):
    k = Kiosk(town)
    k.send(5)
    k.send(40)
    verifier = verifier_of(town)
    size1, root1 = checkpoint_of(town, verifier)
    entries = entries_in_pk_order(town.db)
    assert size1 == 45 == len(entries)
    assert root1 == MTH(entries)
    leaves = dbtools.rows(town.db, "SELECT l.idx, r.pk FROM log_leaves l JOIN ratings r ON r.pk = l.rating_pk "
                                   "ORDER BY l.idx")
    pks = [r["pk"] for r in leaves]
    assert pks == sorted(pks) and [r["idx"] for r in leaves] == list(range(45))
    # inclusion proof by receipt, checked with the independent code
    for i in (0, 7, 44):
        rec = k.sent[i]
        r = get(town, "/api/v1/log/proof", receipt=rec["receipt_id"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"index", "tree_size", "leaf_hash", "hashes"}
        assert body["index"] == i and body["tree_size"] == 45
        assert body["leaf_hash"] == H(b"\x00" + bytes.fromhex(rec["hash"])).hex()
        assert [bytes.fromhex(h) for h in body["hashes"]] == PATH(i, entries)
        verify_path(i, 45, bytes.fromhex(body["leaf_hash"]), [bytes.fromhex(h) for h in body["hashes"]], root1)
    # more batches: consistency between the old and the new checkpoint
    k.send(300)        # crosses a 256-leaf chunk: the node cache is used
    size2, root2 = checkpoint_of(town, verifier)
    entries = entries_in_pk_order(town.db)
    assert size2 == 345 and root2 == MTH(entries)
    r = get(town, "/api/v1/log/consistency", **{"from": "45", "to": "345"})
    assert r.status_code == 200, r.text
    assert [bytes.fromhex(h) for h in r.json()["hashes"]] == PROOF(45, entries)
    for i in (3, 200, 255, 256, 300, 344):
        body = get(town, "/api/v1/log/leaf", index=str(i)).json()
        assert [bytes.fromhex(h) for h in body["hashes"]] == PATH(i, entries)
    kept = dbtools.rows(town.db, "SELECT tree_size FROM log_checkpoints ORDER BY tree_size")
    assert [r["tree_size"] for r in kept] == [5, 45, 345]
    # the function the phone page calls
    with town.app.state.reader.connect() as conn:
        proof = tlog_store.receipt_proof(conn, k.sent[300]["receipt_id"])
    assert (proof.index, proof.tree_size) == (300, 345) and proof.signed_at and proof.note.startswith(verifier[0])


def test_hostile_queries_answer_4xx_and_never_the_level(town):
    assert get(town, "/api/v1/log/checkpoint").status_code == 404     # nothing signed yet: said so
    k = Kiosk(town)
    k.send(3)
    cases = [
        ("/api/v1/log/proof", {"receipt": "xyz"}, 422, "receipt"),
        ("/api/v1/log/proof", {"receipt": "0123456789abcdef" * 2}, 422, "receipt"),
        ("/api/v1/log/proof", {}, 422, "receipt"),
        ("/api/v1/log/proof", {"receipt": "0123456789abcdef"}, 404, "no rating of this receipt"),
        ("/api/v1/log/leaf", {"index": "-1"}, 422, "index"),
        ("/api/v1/log/leaf", {"index": "3"}, 404, "not yet in a signed checkpoint"),
        ("/api/v1/log/leaf", {"index": "9" * 40}, 422, "index"),
        ("/api/v1/log/consistency", {"from": "2", "to": "1"}, 422, "from"),
        ("/api/v1/log/consistency", {"from": "0", "to": "1"}, 422, "from"),
        ("/api/v1/log/consistency", {"from": "1", "to": "4"}, 422, "to"),
        ("/api/v1/log/consistency", {"from": "a", "to": "2"}, 422, "from"),
        ("/api/v1/log/consistency", {"from": "1"}, 422, "to"),
    ]
    for path, params, status, words in cases:
        r = get(town, path, **params)
        assert r.status_code == status, (path, params, r.status_code, r.text)
        assert words in r.json()["detail"], (path, params, r.text)
    for rec in k.sent:
        body = get(town, "/api/v1/log/proof", receipt=rec["receipt_id"]).text
        assert "level" not in body and "officer" not in body and "cb-001" not in body
    spec = get(town, "/openapi.json").json()["paths"]
    for p in ("/api/v1/log/checkpoint", "/api/v1/log/key", "/api/v1/log/proof", "/api/v1/log/consistency"):
        assert p in spec, p


def audit(server, state):
    env = {**os.environ, "LANG": "en_US.UTF-8", "LANGUAGE": "en"}
    return subprocess.run([sys.executable, "-m", "hailong.cli", "audit", "--server", server.url, "--state",
                           str(state)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def test_audit_pins_passes_then_sees_a_rewritten_leaf(town, tmp_path):
    k = Kiosk(town)
    k.send(20)
    state = tmp_path / "audit" / "state.json"
    first = audit(town, state)
    assert first.returncode == 0, first.stderr
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert json.loads(state.read_text())["size"] == 20
    k.send(30)
    second = audit(town, state)
    assert second.returncode == 0, second.stderr
    assert json.loads(state.read_text())["size"] == 50
    # behind the server's back: one rating's hash rewritten in town.db
    rewritten = "ab" * 32
    if dbtools.is_postgresql(town.db):
        dbtools.execute(town.db, f"UPDATE ratings SET hash = '{rewritten}' WHERE seq = 7")
    else:
        con = sqlite3.connect(town.db)
        con.execute("UPDATE ratings SET hash = ? WHERE seq = 7", (rewritten,))
        con.commit()
        con.close()
    k.send(5)
    third = audit(town, state)
    assert third.returncode == 1, (third.stdout, third.stderr)
    assert "rewritten" in third.stderr, third.stderr
    assert json.loads(state.read_text())["size"] == 50       # the evidence kept, not the bad checkpoint


def test_a_backfilled_log_is_built_by_the_round(town):
    """Migration 0009's backfill (leaves in pk order, no node cache) and ratings stored by another path."""
    k = Kiosk(town)
    k.send(400)
    with town.engine.begin() as conn:
        for table in ("log_checkpoints", "log_nodes", "log_leaves"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("INSERT INTO log_leaves (idx, rating_pk) "
                             "SELECT row_number() OVER (ORDER BY pk) - 1, pk FROM ratings WHERE seq <= 300")
    tasks.log_round(town.engine, town.app.state.write_lock)
    size, root = checkpoint_of(town, verifier_of(town))
    entries = entries_in_pk_order(town.db)
    assert size == 400 and root == MTH(entries)
    assert dbtools.scalar(town.db, "SELECT count(*) FROM log_nodes WHERE level = 8") == 1
    body = get(town, "/api/v1/log/leaf", index="399").json()
    assert [bytes.fromhex(h) for h in body["hashes"]] == PATH(399, entries)
