"""kiosk.db: the kiosk's append-only, hash-chained store of ratings.

Knows nothing of Kivy. One instance may be shared by threads (the app and the
sync agent): every statement runs under one lock on one connection. Each
rating is committed with WAL and synchronous=FULL before append() returns,
so what the thank-you screen acknowledges survives a power cut.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import sqlite_utils

from sync import protocol
from sync.filemodes import create_private, private_sqlite

SCHEMA_VERSION = 3
LIST_FIELDS = ("reasons", "flags")
#: columns holding JSON text: lists and the answers object
JSON_FIELDS = ("reasons", "flags", "answers")


def _migration_1(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE ratings (
            id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL,
            seq INTEGER NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            unit_code TEXT NOT NULL,
            desk_id TEXT NOT NULL,
            officer_id TEXT NOT NULL,
            dossier_code TEXT,
            procedure_code TEXT,
            receipt_id TEXT,
            level INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            comment TEXT,
            source TEXT NOT NULL,
            flags TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            sig TEXT NOT NULL,
            synced_at TEXT,
            sync_error TEXT
        )""")
    db.execute("CREATE INDEX ratings_unsynced ON ratings(seq) WHERE synced_at IS NULL AND sync_error IS NULL")
    db.execute("CREATE INDEX ratings_receipt ON ratings(receipt_id) WHERE receipt_id IS NOT NULL")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")


def _migration_2(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE units (code TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT)")
    db.execute("CREATE TABLE desks (id TEXT PRIMARY KEY, unit_code TEXT NOT NULL, name TEXT NOT NULL)")
    db.execute("""CREATE TABLE officers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, title TEXT, desk_id TEXT,
        photo TEXT, pin_hash TEXT, on_duty INTEGER NOT NULL DEFAULT 1)""")
    db.execute("CREATE TABLE procedures (code TEXT PRIMARY KEY, name TEXT NOT NULL, letter TEXT)")
    db.execute("""CREATE TABLE security_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT)""")


def _migration_3(db: sqlite_utils.Database) -> None:
    """Protocol v2: the survey the citizen answered and its other answers.

    Rows already held stay exactly as sealed: their survey and answers are
    NULL, which is how a protocol v1 record (hailong 0.1) is told apart; it is
    sent without the two fields, so its hash still verifies.
    """
    db.execute("ALTER TABLE ratings ADD COLUMN survey TEXT")
    db.execute("ALTER TABLE ratings ADD COLUMN answers TEXT")


MIGRATIONS = {1: _migration_1, 2: _migration_2, 3: _migration_3}


_INSERT_SQL = (f"INSERT INTO ratings({','.join(protocol.RECORD_FIELDS)}) "
               f"VALUES ({','.join('?' * len(protocol.RECORD_FIELDS))})")


class StoreError(Exception):
    """The store cannot do what was asked (e.g. no kiosk key)."""


class ReceiptUsed(StoreError):
    """The receipt is held already, by a stored rating or the visit's draft: a receipt rates once."""

    def __init__(self, receipt_id: str):
        super().__init__(f"receipt {receipt_id} was rated already")
        self.receipt_id = receipt_id


def now_local(utc_offset: str = "+07:00") -> datetime:
    """The kiosk's clock at ``utc_offset`` (Asia/Ho_Chi_Minh is +07:00, no DST), to the second."""
    return protocol.now_at_offset(utc_offset)


class KioskStore:
    """The kiosk's ratings, roster and security events.

    ``kiosk_id`` and ``key_hex`` are needed to append; reading, verifying
    with a given key and the sync helpers work without them.
    """

    def __init__(self, path: str | Path, kiosk_id: str | None = None, key_hex: str | None = None,
                 utc_offset: str = "+07:00"):
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        self.key_hex = key_hex
        self.utc_offset = utc_offset
        self._lock = threading.RLock()
        # kiosk.db holds the kiosk's key: created 0600 in a 0700 folder when new (SQLite
        # gives -wal and -shm the file's mode; leftovers of a looser run are tightened).
        if str(self.path) != ":memory:":
            create_private(self.path)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        if str(self.path) != ":memory:":
            private_sqlite(self.path)
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self._tail: tuple[int, str, str] | None = None  # (seq, hash, created_at) of the last rating
        self._sealing_draft = False   # seal_draft() is appending the draft: its own receipt is no repeat
        #: the survey append() seals a rating on when it is given none (config.toml's scale: hl3/hl4/hl5)
        self.default_survey = protocol.DEFAULT_SURVEY_ID

    @classmethod
    def from_config(cls, cfg) -> KioskStore:
        """The store a loaded config.toml names ([kiosk] db, id, key, utc_offset)."""
        store = cls(cfg.db_path, cfg.kiosk["id"], cfg.kiosk_key or None, cfg.kiosk["utc_offset"])
        try:
            store.default_survey = protocol.survey_for_scale(cfg.survey["scale"])
        except (AttributeError, KeyError, TypeError, ValueError):
            pass
        return store

    # -- schema -------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def init(self) -> list[int]:
        """Create or migrate; returns the migrations applied (empty when current)."""
        applied = []
        with self._lock:
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema version {current} is newer than this hailong ({SCHEMA_VERSION})")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                with self._tx():
                    MIGRATIONS[version](self.db)
                    self.conn.execute(f"PRAGMA user_version={version}")
                applied.append(version)
        return applied

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT: one writer at a time, committed durably."""
        with self._lock:
            if self.conn.in_transaction:    # inside an outer _tx (seal_draft): part of its commit
                yield
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- meta ---------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str | None) -> None:
        with self._tx():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
            if key == "server_surveys":
                # every survey ever sent stays known, in the same commit (see known_surveys)
                self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('known_surveys', ?)",
                                  (json.dumps(self.known_surveys(), ensure_ascii=False),))

    # -- surveys --------------------------------------------------------------

    def surveys(self) -> dict[str, dict]:
        """The surveys the server sent (id → document; the sync agent keeps them in meta)."""
        try:
            held = json.loads(self.get_meta("server_surveys") or "[]")
        except ValueError:
            return {}
        if isinstance(held, dict):
            held = list(held.values())
        return {s["id"]: s for s in held if isinstance(s, dict) and isinstance(s.get("id"), str)}

    def server_default_survey(self) -> str | None:
        """The id of the unit's default survey the server sent (``default_survey``), or None."""
        try:
            sid = json.loads(self.get_meta("server_default_survey") or "null")
        except ValueError:
            return None
        return sid if isinstance(sid, str) else None

    def survey_to_ask(self, unit_code: str, desk_id: str, day: date | None = None) -> dict | None:
        """The server's choice for this desk on ``day`` (local; today when None), or None.

        protocol.survey_to_ask over what the server sent: the campaign running
        at the desk that day (the latest started wins), else the unit's
        default. None when the server sent neither (an offline-only kiosk:
        the caller asks config.toml's survey).
        """
        if self.get_meta("server_surveys") is None and self.get_meta("server_default_survey") is None:
            return None
        day = day or now_local(self.utc_offset).date()
        return protocol.survey_to_ask(self.surveys(), self.server_default_survey(), unit_code, desk_id, day)

    def current_survey(self, unit_code: str | None = None, desk_id: str | None = None,
                       day: date | None = None) -> dict:
        """The survey to ask now: the server's choice (with a unit and desk, a campaign running there
        on ``day`` wins over the default), else :attr:`default_survey` (config.toml's scale)."""
        known = self.surveys()
        if unit_code is not None and desk_id is not None:
            doc = self.survey_to_ask(unit_code, desk_id, day)
            if doc is not None:
                return doc
        return (protocol.find_survey(self.server_default_survey(), known)
                or protocol.find_survey(self.default_survey, known)
                or protocol.BUILTIN_SURVEYS[protocol.DEFAULT_SURVEY_ID])

    def known_surveys(self) -> dict[str, dict]:
        """Every survey the server has ever sent (id → document), the current ones last.

        A rating is checked against these when it is sealed, not only against
        the surveys of the latest config: a campaign that ended (and left the
        config) while a citizen was answering it, or a draft a crash left, is
        still sealed on the survey the citizen was shown. (A survey that has
        been answered never changes on the server: editing it makes a new id.)
        """
        try:
            held = json.loads(self.get_meta("known_surveys") or "{}")
        except ValueError:
            held = {}
        held = {k: v for k, v in held.items() if isinstance(v, dict)} if isinstance(held, dict) else {}
        return {**held, **self.surveys()}

    # -- ratings --------------------------------------------------------------

    def append(self, *, unit_code: str, desk_id: str, officer_id: str, level: int,
               reasons: Iterable[str] = (), comment: str | None = None, source: str = "walk_up",
               dossier_code: str | None = None, procedure_code: str | None = None,
               receipt_id: str | None = None, flags: Iterable[str] = (),
               rapid_repeat_seconds: float = 0, now: datetime | None = None,
               survey: str | None = None, answers: dict | None = None) -> dict:
        """Seal and durably commit one rating (protocol v2); return the record as stored.

        ``survey``: the id of the survey the citizen answered (``level`` and
        ``answers`` are on its scales); None: :attr:`default_survey`. The
        record is checked (protocol.check_record, with the surveys the server
        sent) before it is sealed: a bad one raises protocol.RecordError and
        nothing is stored.

        A rating within ``rapid_repeat_seconds`` of the previous one gets the
        flag "rapid_repeat": kept and sent, not counted in the rate.

        A receipt rates once: ``receipt_id`` held by a stored rating or by the
        visit's draft raises :class:`ReceiptUsed`, checked inside the same
        write transaction (BEGIN IMMEDIATE) as the insert, so two threads or
        two processes storing the same receipt never both succeed.
        """
        if not self.kiosk_id or not self.key_hex:
            raise StoreError("the kiosk id and key are needed to store a rating")
        comment = protocol.nfc(comment.replace("\r\n", "\n").replace("\r", "\n").strip()) if comment else None
        if comment and len(comment) > protocol.COMMENT_MAX:
            raise ValueError(f"comment: longer than {protocol.COMMENT_MAX} characters")
        survey = survey or self.default_survey
        answers = dict(answers or {})
        created = now or now_local(self.utc_offset)
        flags = list(dict.fromkeys(flags))
        body = {
            "kiosk_id": self.kiosk_id, "created_at": created.isoformat(), "unit_code": unit_code,
            "desk_id": desk_id, "officer_id": officer_id, "dossier_code": dossier_code,
            "procedure_code": procedure_code, "receipt_id": receipt_id, "level": int(level),
            "reasons": list(reasons), "comment": comment, "source": source,
            "survey": survey, "answers": answers,
        }
        surveys = self.known_surveys()
        for attempt in (1, 2):
            with self._lock:
                if self._tail is None or attempt == 2:
                    self._tail = self._read_tail()
                try:
                    with self._tx():
                        if receipt_id:
                            self._check_receipt_free(receipt_id, by_draft=not self._sealing_draft)
                        record = self._insert(body, flags, created, rapid_repeat_seconds, surveys)
                except sqlite3.IntegrityError:
                    if attempt == 2:  # not a stale tail: a real constraint failure
                        raise
                    continue  # another writer appended since the tail was read
                self._tail = (record["seq"], record["hash"], record["created_at"])
                return record
        raise AssertionError("unreachable")

    def _read_tail(self) -> tuple[int, str, str]:
        row = self.conn.execute("SELECT seq, hash, created_at FROM ratings ORDER BY seq DESC LIMIT 1").fetchone()
        base = self.chain_base()
        if base and (row is None or row[0] <= base["seq"]):
            return (base["seq"], base["hash"], "")    # a recovered kiosk continues the server's chain
        return tuple(row) if row else (0, protocol.ZERO_HASH, "")

    def _insert(self, body: dict, flags: list, created: datetime, rapid_repeat_seconds: float,
                surveys: dict | None = None) -> dict:
        """Seal ``body`` onto the cached tail and insert it (inside the caller's transaction)."""
        last_seq, prev_hash, last_created = self._tail
        flags = list(flags)
        if last_seq and last_created and rapid_repeat_seconds > 0 and "rapid_repeat" not in flags:
            gap = (created - datetime.fromisoformat(last_created)).total_seconds()
            if 0 <= gap < rapid_repeat_seconds:
                flags.append("rapid_repeat")
        record = protocol.seal({**body, "id": str(uuid.uuid4()), "seq": last_seq + 1, "flags": flags},
                               prev_hash, self.key_hex)
        protocol.check_record(record, surveys)
        row = dict(record)
        for key in JSON_FIELDS:
            row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
        self.conn.execute(_INSERT_SQL, tuple(row[k] for k in protocol.RECORD_FIELDS))
        return record

    @staticmethod
    def _record(row: sqlite3.Row | dict) -> dict:
        """A row as the record it is: a v1 row (survey NULL) without survey and answers."""
        rec = dict(row)
        for key in LIST_FIELDS:
            rec[key] = json.loads(rec[key])
        if rec.get("survey") is None:
            rec.pop("survey", None)
            rec.pop("answers", None)
        elif "answers" in rec:
            rec["answers"] = json.loads(rec["answers"] or "{}")
        return rec

    def _rows(self, sql: str, params: tuple = ()) -> list[dict]:
        with self._lock:
            cur = self.conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [self._record(dict(zip(names, r))) for r in cur.fetchall()]

    def records(self, after_seq: int = 0, limit: int = 10000) -> list[dict]:
        """Ratings in seq order with their local sync state."""
        return self._rows("SELECT * FROM ratings WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))

    def iter_records(self, chunk: int = 5000) -> Iterator[dict]:
        return self.iter_records_after(0, chunk)

    def iter_records_after(self, after: int, chunk: int = 5000) -> Iterator[dict]:
        while True:
            rows = self.records(after, chunk)
            if not rows:
                return
            yield from rows
            after = rows[-1]["seq"]

    def count(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT count(*) FROM ratings").fetchone()[0]

    def last_seq(self) -> int:
        """The chain's last seq: the highest rating's, or the recovered chain's base when higher."""
        with self._lock:
            top = self.conn.execute("SELECT coalesce(max(seq), 0) FROM ratings").fetchone()[0]
        base = self.chain_base()
        return max(top, base["seq"]) if base else top

    def tail(self) -> tuple[int, str]:
        """(last seq, its hash) of the chain, honouring chain_base; (0, zeros) when empty."""
        with self._lock:
            seq, hash_, _ = self._read_tail()
        return seq, hash_

    def verify(self, key_hex: str | None = None) -> tuple[int | None, str | None]:
        """(first bad seq, why), or (None, None) when the chain and every signature hold.

        A recovered kiosk (meta ``chain_base``) holds the chain from 1 up to
        what it kept (maybe nothing), then from base seq + 1 on, linked to the
        base's hash: the ratings in between are the server's.
        """
        key = key_hex or self.key_hex
        if not key:
            raise StoreError("the kiosk key is needed to verify signatures")
        base = self.chain_base()
        if base is None:
            return protocol.verify_chain(self.iter_records(), key)
        before = self._rows("SELECT * FROM ratings WHERE seq <= ? ORDER BY seq", (base["seq"],))
        bad = protocol.verify_chain(before, key)
        if bad[0] is not None:
            return bad
        prev, expected = base["hash"], base["seq"] + 1
        for rec in self.iter_records_after(base["seq"]):
            if rec["seq"] != expected:
                return expected, f"seq {expected} missing (found {rec['seq']})"
            if rec["prev_hash"] != prev:
                return rec["seq"], ("prev_hash does not link to the chain base (the server's seq "
                                    f"{base['seq']})" if expected == base["seq"] + 1
                                    else "prev_hash does not link to the previous record")
            why = protocol.check_seal(rec, key)
            if why:
                return rec["seq"], why
            prev, expected = rec["hash"], expected + 1
        return None, None

    # -- lost kiosk.db: behind the server's chain, recovery ------------------------
    #
    # The sync agent keeps what the server holds of this kiosk, from every
    # heartbeat's reply, in meta "server_chain_tail" ({"seq", "hash"}). A kiosk
    # whose chain is behind it (kiosk.db lost or replaced) says so
    # (chain_behind: the staff panel, `hailong kiosk verify`), and recover()
    # (`hailong kiosk init --recover`) continues the chain from that tail: meta
    # "chain_base" {"seq", "hash"}, which the tail, last_seq and verify honour.

    def _meta_json(self, key: str) -> dict | None:
        try:
            value = json.loads(self.get_meta(key) or "null")
        except ValueError:
            return None
        if (isinstance(value, dict) and isinstance(value.get("seq"), int) and value["seq"] >= 0
                and isinstance(value.get("hash"), str)):
            return {"seq": value["seq"], "hash": value["hash"]}
        return None

    def chain_base(self) -> dict | None:
        """{"seq", "hash"} the chain continues from after a recovery; None for a chain from seq 1."""
        return self._meta_json("chain_base")

    def server_tail(self) -> dict | None:
        """{"seq", "hash"} of the last rating the server holds of this kiosk, as it last said."""
        return self._meta_json("server_chain_tail")

    def set_server_tail(self, tail: dict | None) -> None:
        self.set_meta("server_chain_tail", json.dumps(tail) if tail else None)

    def chain_behind(self, server: dict | None = None) -> dict | None:
        """None, or how this kiosk's chain is behind the server's (``server`` or the one last heard).

        Behind: its last seq is lower than the server's, or its rating at the
        server's last seq has another hash. Returns {"own_seq", "server_seq",
        "why"}.
        """
        server = server or self.server_tail()
        if not server or server["seq"] < 1:
            return None
        own_seq, own_hash = self.tail()
        if own_seq < server["seq"]:
            return {"own_seq": own_seq, "server_seq": server["seq"],
                    "why": f"this kiosk's chain ends at seq {own_seq} but the server holds up to seq "
                           f"{server['seq']}: kiosk.db lost or replaced"}
        base = self.chain_base()
        if base and base["seq"] == server["seq"]:
            at = base["hash"]
        elif own_seq == server["seq"]:
            at = own_hash
        else:
            with self._lock:
                row = self.conn.execute("SELECT hash FROM ratings WHERE seq=?", (server["seq"],)).fetchone()
            at = row[0] if row else None
        if at is not None and at != server["hash"]:
            return {"own_seq": own_seq, "server_seq": server["seq"],
                    "why": f"this kiosk's seq {server['seq']} is not the rating the server holds: "
                           "kiosk.db replaced"}
        return None

    def recover(self, server: dict) -> dict:
        """Continue the chain from the server's tail ``server`` ({"seq", "hash"}), in one commit.

        The ratings the server never acknowledged (pending or quarantined: taken
        since kiosk.db was lost, and refused as "seq already held") are sealed
        again onto the tail, same id and content, new seq, prev_hash, hash and
        sig, and sent again; the next new rating follows them. A rating the
        server acknowledged beyond its tail cannot be: StoreError. Returns
        {"base_seq", "resealed", "next_seq"}.
        """
        if not self.kiosk_id or not self.key_hex:
            raise StoreError("the kiosk id and key are needed to recover the chain")
        seq, hash_ = int(server["seq"]), str(server["hash"])
        with self._lock, self._tx():
            beyond = self.conn.execute("SELECT count(*) FROM ratings WHERE seq > ? AND synced_at IS NOT NULL",
                                       (seq,)).fetchone()[0]
            if beyond:
                raise StoreError(f"{beyond} rating(s) after seq {seq} were acknowledged by the server: "
                                 "its tail is stale, sync first")
            cur = self.conn.execute("SELECT * FROM ratings WHERE synced_at IS NULL ORDER BY seq")
            names = [d[0] for d in cur.description]
            moving = [self._record(dict(zip(names, r))) for r in cur.fetchall()]
            self.conn.execute("UPDATE ratings SET seq = -seq WHERE synced_at IS NULL")
            prev = hash_
            for i, rec in enumerate(moving):
                body = {k: v for k, v in rec.items()
                        if k in protocol.RECORD_FIELDS and k not in ("prev_hash", "hash", "sig")}
                body["seq"] = seq + 1 + i
                sealed = protocol.seal(body, prev, self.key_hex)
                self.conn.execute("UPDATE ratings SET seq=?, prev_hash=?, hash=?, sig=?, sync_error=NULL "
                                  "WHERE id=?", (sealed["seq"], sealed["prev_hash"], sealed["hash"],
                                                 sealed["sig"], rec["id"]))
                prev = sealed["hash"]
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('chain_base', ?)",
                              (json.dumps({"seq": seq, "hash": hash_}),))
            self._tail = None
        return {"base_seq": seq, "resealed": len(moving), "next_seq": seq + len(moving) + 1}

    def receipt_used(self, receipt_id: str) -> bool:
        """Rated already: a stored rating, or the visit's draft (a tap is a rating), holds it.

        A quick look for the scan's kind message; what makes a receipt rate
        once is the same check inside the write (append, save_draft).
        """
        with self._lock:
            return self._receipt_held(receipt_id)

    def _receipt_held(self, receipt_id: str, by_draft: bool = True) -> bool:
        if self.conn.execute(
                "SELECT 1 FROM ratings WHERE receipt_id=? LIMIT 1", (receipt_id,)).fetchone() is not None:
            return True
        if not by_draft:
            return False
        draft = self.draft()
        return bool(draft and draft.get("receipt_id") == receipt_id)

    def _check_receipt_free(self, receipt_id: str, by_draft: bool = True) -> None:
        """Inside a write transaction: ReceiptUsed when a rating (or the draft) holds ``receipt_id``."""
        if self._receipt_held(receipt_id, by_draft):
            raise ReceiptUsed(receipt_id)

    # -- what the sync agent needs -------------------------------------------

    def pending(self, limit: int = 500, after_seq: int = 0) -> list[dict]:
        """Unacknowledged, unquarantined ratings, oldest first, as sent on the wire.

        ``after_seq``: only those after it (the sync agent reads the next batch
        while the previous one is still on its way).
        """
        rows = self._rows(
            "SELECT * FROM ratings WHERE synced_at IS NULL AND sync_error IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?", (after_seq, limit))
        return [{k: r[k] for k in protocol.RECORD_FIELDS if k in r} for r in rows]

    # a v1 row (survey NULL) goes without survey and answers, as it was sealed
    _WIRE_OBJECT = "json_object(" + ", ".join(
        f"'{k}', json({k})" if k in JSON_FIELDS else f"'{k}', {k}" for k in protocol.RECORD_FIELDS) + ")"
    _WIRE_SQL = (
        f"SELECT id, seq, CASE WHEN survey IS NULL THEN json_remove({_WIRE_OBJECT}, '$.survey', '$.answers') "
        f"ELSE {_WIRE_OBJECT} END"
        " FROM ratings WHERE synced_at IS NULL AND sync_error IS NULL AND seq > ? ORDER BY seq LIMIT ?")

    def pending_wire(self, limit: int = 500, after_seq: int = 0) -> list[dict]:
        """Like pending(), but each as {"id", "seq", "wire": the record's JSON text}.

        The sync agent's fast path: SQLite writes the JSON, so a backlog of
        100,000 ratings is not turned into Python dicts and back.
        """
        with self._lock:
            rows = self.conn.execute(self._WIRE_SQL, (after_seq, limit)).fetchall()
        return [{"id": rid, "seq": seq, "wire": text} for rid, seq, text in rows]

    def mark_synced(self, ids: Iterable[str], at: str | None = None) -> int:
        at = at or now_local(self.utc_offset).isoformat()
        ids = list(ids)
        with self._tx():
            n = 0
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                n += self.conn.execute(
                    f"UPDATE ratings SET synced_at=?, sync_error=NULL WHERE id IN ({','.join('?' * len(part))})",
                    (at, *part)).rowcount
            # what the staff panel shows as "last sync", in the same commit
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_sync_at', ?)", (at,))
        return n

    def record_sync_error(self, rating_id: str, error: str) -> None:
        """Quarantine a rating the server rejected: kept, shown to staff, skipped by pending()."""
        with self._tx():
            self.conn.execute("UPDATE ratings SET sync_error=? WHERE id=?", (error or "rejected", rating_id))

    def requeue_quarantined(self) -> int:
        """Staff action: send quarantined ratings again (e.g. after the server was fixed)."""
        with self._tx():
            return self.conn.execute(
                "UPDATE ratings SET sync_error=NULL WHERE sync_error IS NOT NULL AND synced_at IS NULL").rowcount

    def sync_counts(self) -> dict:
        """Counts only, for the staff panel and the heartbeat: never what was rated."""
        with self._lock:
            total, pending, quarantined, last_seq = self.conn.execute("""
                SELECT count(*),
                       coalesce(sum(synced_at IS NULL AND sync_error IS NULL), 0),
                       coalesce(sum(sync_error IS NOT NULL AND synced_at IS NULL), 0),
                       coalesce(max(seq), 0)
                FROM ratings""").fetchone()
        base = self.chain_base()
        if base:
            last_seq = max(last_seq, base["seq"])
        return {"total": total, "pending": pending, "quarantined": quarantined, "last_seq": last_seq}

    # -- roster -------------------------------------------------------------

    def apply_roster(self, roster: dict) -> None:
        """Replace units, desks, officers and procedures with ``roster``'s.

        ``roster``: {"units": [{code, name, address}], "desks": [{id, unit_code, name}],
        "officers": [{id, name, title, desk_id, photo, pin_hash, on_duty}],
        "procedures": [{code, name, letter}]}. Officers' on-duty state is kept
        across updates when the roster does not say.
        """
        roster = protocol.nfc(roster)
        with self._tx():
            duty = dict(self.conn.execute("SELECT id, on_duty FROM officers").fetchall())
            for table in ("units", "desks", "officers", "procedures"):
                self.conn.execute(f"DELETE FROM {table}")
            for u in roster.get("units", []):
                self.conn.execute("INSERT INTO units VALUES (?,?,?)", (u["code"], u["name"], u.get("address")))
            for d in roster.get("desks", []):
                self.conn.execute("INSERT INTO desks VALUES (?,?,?)", (d["id"], d["unit_code"], d["name"]))
            for o in roster.get("officers", []):
                on_duty = o.get("on_duty", duty.get(o["id"], 1))
                self.conn.execute("INSERT INTO officers VALUES (?,?,?,?,?,?,?)", (
                    o["id"], o["name"], o.get("title"), o.get("desk_id"), o.get("photo"),
                    o.get("pin_hash"), int(bool(on_duty))))
            for p in roster.get("procedures", []):
                self.conn.execute("INSERT INTO procedures VALUES (?,?,?)", (p["code"], p["name"], p.get("letter")))

    def unit(self, code: str) -> dict | None:
        rows = self._plain("SELECT * FROM units WHERE code=?", (code,))
        return rows[0] if rows else None

    def desk(self, desk_id: str) -> dict | None:
        rows = self._plain("SELECT * FROM desks WHERE id=?", (desk_id,))
        return rows[0] if rows else None

    def officers(self, desk_id: str | None = None, on_duty_only: bool = False) -> list[dict]:
        sql, params = "SELECT * FROM officers WHERE 1=1", []
        if desk_id:
            sql += " AND desk_id=?"
            params.append(desk_id)
        if on_duty_only:
            sql += " AND on_duty=1"
        return self._plain(sql + " ORDER BY name", tuple(params))

    def officer(self, officer_id: str) -> dict | None:
        rows = self._plain("SELECT * FROM officers WHERE id=?", (officer_id,))
        return rows[0] if rows else None

    def set_on_duty(self, desk_id: str, officer_ids: Iterable[str]) -> None:
        ids = set(officer_ids)
        with self._tx():
            for (oid,) in self.conn.execute("SELECT id FROM officers WHERE desk_id=?", (desk_id,)).fetchall():
                self.conn.execute("UPDATE officers SET on_duty=? WHERE id=?", (int(oid in ids), oid))

    def procedures(self) -> list[dict]:
        return self._plain("SELECT * FROM procedures ORDER BY code")

    def _plain(self, sql: str, params: tuple = ()) -> list[dict]:
        with self._lock:
            cur = self.conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    # -- security events ------------------------------------------------------

    def record_event(self, kind: str, detail: str | None = None) -> None:
        """Count a security event (forged or expired receipt, …); never a rating."""
        with self._tx():
            self.conn.execute("INSERT INTO security_events(at, kind, detail) VALUES (?,?,?)",
                              (now_local(self.utc_offset).isoformat(), kind, detail))

    def event_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.conn.execute(
                "SELECT kind, count(*) FROM security_events GROUP BY kind").fetchall())

    # -- the visit's draft: a tap is a rating (kiosk/visit.py) -------------------
    #
    # At the tap the visit writes its rating as a draft (meta key "visit_draft",
    # committed with synchronous=FULL); the extras the citizen adds update it.
    # When the visit ends (sent, skipped, timed out) or at the next start after
    # a crash, seal_draft() appends the one rating and removes the draft in the
    # same transaction: it is sealed exactly once.

    DRAFT_KEY = "visit_draft"

    def save_draft(self, fields: dict, new: bool = False) -> None:
        """Durably hold the visit's rating so far (append()'s keyword arguments, ``now`` as ISO text).

        ``new``: the tap that starts holding this visit's rating. Checked and
        written in one write transaction (BEGIN IMMEDIATE): a receipt held by
        a stored rating, or (``new``) by the draft already there, raises
        :class:`ReceiptUsed` and nothing is written; a new draft never
        overwrites another visit's: that one is sealed first, in the same commit.
        """
        if not self.kiosk_id or not self.key_hex:
            raise StoreError("the kiosk id and key are needed to store a rating")
        text = json.dumps(fields, ensure_ascii=False)
        receipt_id = fields.get("receipt_id")
        with self._lock:
            try:
                with self._tx():
                    stored = self.draft()
                    if receipt_id:
                        self._check_receipt_free(receipt_id, by_draft=new)
                    if new and stored is not None:
                        self._seal_stored(stored)
                    self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                      (self.DRAFT_KEY, text))
            except BaseException:
                self._tail = None           # a rating sealed on the way was rolled back with it
                raise

    def _seal_stored(self, stored: dict) -> dict:
        """Inside a write transaction: append ``stored`` (a draft's fields) and drop the draft."""
        fields = dict(stored)
        now = fields.pop("now", None)
        self._sealing_draft = True
        try:
            record = self.append(**fields, now=datetime.fromisoformat(now) if now else None)
        finally:
            self._sealing_draft = False
        self.conn.execute("DELETE FROM meta WHERE key=?", (self.DRAFT_KEY,))
        return record

    def draft(self) -> dict | None:
        text = self.get_meta(self.DRAFT_KEY)
        return json.loads(text) if text else None

    def seal_draft(self, fields: dict | None = None) -> dict | None:
        """Append the draft (``fields`` when given: the visit's latest) as one rating, drop it; one commit.

        None when there is no draft. A draft that can never be sealed (refused
        by the record checks, or its receipt rated already: ReceiptUsed) is
        kept aside under "visit_draft_refused" and counted as a security
        event, so it never blocks the next visit.
        """
        with self._lock:
            stored = None
            try:
                with self._tx():        # read inside the write: another process may seal it first
                    stored = self.draft()
                    if stored is None:
                        return None
                    record = self._seal_stored(fields if fields is not None else stored)
            except (ValueError, TypeError, ReceiptUsed) as exc:
                self._tail = None
                with self._tx():
                    self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                      ("visit_draft_refused", json.dumps(stored, ensure_ascii=False)))
                    self.conn.execute("DELETE FROM meta WHERE key=?", (self.DRAFT_KEY,))
                self.record_event("draft_refused", str(exc)[:200])
                raise
            except BaseException:
                self._tail = None           # the insert was rolled back with the transaction
                raise
            return record
