"""Taking in one batch of ratings (sync protocol v1), in one transaction.

:func:`parse_batch` turns the raw body into checked records or raises
:class:`BatchError` (a 4xx: nothing is stored). :func:`ingest` then applies
the batch: every record is checked against the kiosk's key and linked to
the record before it; what is wrong is stored *and* raised as an alert
(gap, broken chain), or refused and raised (bad signature, an id or seq
already held with other content). The reply is stored under the batch's
Idempotency-Key and replayed for the same key.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zlib
from datetime import datetime, time, timedelta

from sqlalchemy import and_, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from sync import protocol
from sync.server.core import alerts as alert_rules
from sync.server.core import cases, rollup, tlog_store
from sync.server.core.alerts import Alert
from sync.server.core.clock import VN_TZ, iso, utcnow
from sync.server.core.db import alerts, batches, bulk_insert, desks, kiosks, officers, ratings
from sync.server.core.settings import custom_surveys, survey

#: Larger integers would not fit a 64-bit column (nor a JSON number read as a double).
MAX_SEQ = 2**53


class BatchError(Exception):
    """A batch refused as a whole: HTTP ``status`` with ``detail``; nothing stored."""

    def __init__(self, status: int, detail: str, errors: list | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors


def decode_body(raw: bytes, encoding: str | None, max_bytes: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(raw) > max_bytes:
            raise BatchError(413, f"body larger than {max_bytes} bytes")
        return raw
    if encoding != "gzip":
        raise BatchError(415, f"Content-Encoding {encoding!r} not supported (use gzip or none)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise BatchError(400, "body is not valid gzip") from None
    if len(data) > max_bytes:
        raise BatchError(413, f"body larger than {max_bytes} bytes once decompressed")
    if not inflater.eof:
        raise BatchError(400, "gzip body is truncated")
    return data


def parse_time(value, name: str) -> datetime:
    try:
        parsed = protocol.check_time(value, name)   # RFC 3339 exactly, as a record's created_at
    except protocol.RecordError as exc:
        raise BatchError(422, str(exc)) from None
    if not 1970 <= parsed.year <= 9000:
        raise BatchError(422, f"{name}: year out of range")
    return parsed


#: a \uD800–\uDFFF escape: the only way a lone surrogate gets into decoded JSON text
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_shape(body, deep_limit: int, check_strings: bool) -> None:
    """400 for a body nested deeper than the protocol's own shape, or holding a lone surrogate.

    An iterative walk (no recursion); strings are looked at only when the
    raw text held a surrogate escape (a valid pair decodes to one character).
    """
    stack = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > deep_limit:
            raise BatchError(400, f"body nested deeper than {deep_limit} levels")
        if isinstance(value, dict):
            items = value.values()
            if check_strings:
                for key in value:
                    _check_text(key)
        elif isinstance(value, list):
            items = value
        else:
            if check_strings and isinstance(value, str):
                _check_text(value)
            continue
        for item in items:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
            elif check_strings and isinstance(item, str):
                _check_text(item)


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BatchError(400, "body holds a string that is not valid Unicode (a lone surrogate)") from None


def _nfc_record(rec: dict) -> dict:
    """Every string of a record in NFC (DESIGN.md: "every string NFC"), at the server's entry point.

    The hash is over the NFC form, so a record sent in NFD still verifies;
    normalising here (rather than refusing) means an officer id sent in NFD
    is stored, counted and reported as the same officer as its NFC form.
    ASCII strings (nearly all) are left as they are.
    """
    out = None
    for key, value in rec.items():
        if isinstance(value, str):
            if value.isascii():
                continue
            new = unicodedata.normalize("NFC", value)
        elif isinstance(value, list):
            if all(not isinstance(x, str) or x.isascii() for x in value):
                continue
            new = [unicodedata.normalize("NFC", x) if isinstance(x, str) else x for x in value]
        elif isinstance(value, dict):
            if all(not isinstance(k, str) or k.isascii() for k in value):
                continue
            new = {unicodedata.normalize("NFC", k) if isinstance(k, str) else k: v for k, v in value.items()}
        else:
            continue
        if out is None:
            out = dict(rec)
        out[key] = new
    return rec if out is None else out


def parse_batch(data: bytes, max_records: int, surveys: dict | None = None) -> dict:
    """Decoded body → {"kiosk_id", "sent_at" (datetime), "ratings"}; BatchError when malformed.

    ``surveys``: the server's own surveys (id → document), when the caller
    has them; otherwise a record of a survey that is not built in is checked
    by :func:`ingest`, which reads them from the database.
    """
    try:
        body = json.loads(data)
    except RecursionError:
        raise BatchError(400, "body nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BatchError(400, "body is not valid JSON") from None
    if _SURROGATE_ESCAPE.search(data):
        _check_shape(body, protocol.MAX_JSON_DEPTH, True)
    try:
        return _parse_body(body, max_records, surveys)
    except BatchError as exc:
        if exc.status == 422:   # the happy path never walks the body: a deep one is a 400 before a 422
            _check_shape(body, protocol.MAX_JSON_DEPTH, False)
        raise


def _parse_body(body, max_records: int, surveys: dict | None) -> dict:
    if not isinstance(body, dict):
        raise BatchError(422, "body: must be a JSON object")
    for key in ("kiosk_id", "sent_at", "ratings"):
        if key not in body:
            raise BatchError(422, f"{key}: missing")
    extra = sorted(set(body) - {"kiosk_id", "sent_at", "ratings"})
    if extra:
        raise BatchError(422, f"{extra[0]}: unknown field")
    kiosk_id = body["kiosk_id"]
    if not isinstance(kiosk_id, str) or not kiosk_id:
        raise BatchError(422, "kiosk_id: must be a non-empty string")
    sent_at = parse_time(body["sent_at"], "sent_at")
    recs = body["ratings"]
    if not isinstance(recs, list):
        raise BatchError(422, "ratings: must be a list")
    if len(recs) > max_records:
        raise BatchError(413, f"ratings: more than {max_records} in one batch")
    errors = []
    later = []   # indexes of records on a survey of the server's own, checked by ingest
    for i, rec in enumerate(recs):
        try:
            if isinstance(rec, dict):
                sid = rec.get("survey")
                if surveys is None and sid is not None and sid not in protocol.BUILTIN_SURVEYS:
                    later.append(i)
                    rec = {**rec, "survey": "hl3", "level": 1, "answers": {}, "reasons": []}
            try:
                protocol.check_record(rec, surveys)
            except protocol.RecordError as exc:
                # kiosks seal NFC, so normalising is the rare path: only when check_record said so
                if "NFC" not in str(exc):
                    raise
                recs[i] = _nfc_record(recs[i])
                rec = _nfc_record(rec)
                protocol.check_record(rec, surveys)
            if rec["seq"] > MAX_SEQ:
                raise protocol.RecordError(f"seq: larger than {MAX_SEQ}")
            if rec["kiosk_id"] != kiosk_id:
                raise protocol.RecordError("kiosk_id: differs from the batch's kiosk_id")
        except protocol.RecordError as exc:
            rid = rec.get("id") if isinstance(rec, dict) and isinstance(rec.get("id"), str) else None
            errors.append({"index": i, "id": rid, "error": str(exc)})
    if errors:
        first = errors[0]
        raise BatchError(422, f"ratings[{first['index']}]: {first['error']}"
                         + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""), errors)
    seqs = [r["seq"] for r in recs]
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        raise BatchError(422, "ratings: must be in increasing seq order, each seq once")
    if len({r["id"] for r in recs}) != len(recs):
        raise BatchError(422, "ratings: the same id twice in one batch")
    return {"kiosk_id": kiosk_id, "sent_at": sent_at, "ratings": recs, "check_surveys": later}


def check_against(batch: dict, known: dict, unit_code: str) -> None:
    """What only the server's database can say about a parsed batch: its surveys, the kiosk's unit.

    422 naming the record and field, nothing stored.
    """
    errors = []
    for i in batch.get("check_surveys") or ():
        try:
            protocol.check_record(batch["ratings"][i], known)
        except protocol.RecordError as exc:
            errors.append({"index": i, "id": batch["ratings"][i]["id"], "error": str(exc)})
    for i, rec in enumerate(batch["ratings"]):
        if rec["unit_code"] != unit_code:
            errors.append({"index": i, "id": rec["id"],
                           "error": f"unit_code: {rec['unit_code']!r} is not the unit this kiosk is enrolled for"})
    if errors:
        errors.sort(key=lambda e: e["index"])
        first = errors[0]
        raise BatchError(422, f"ratings[{first['index']}]: {first['error']}"
                         + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""), errors)


def fingerprint(batch: dict) -> str:
    """What makes a replay "the same batch": kiosk and (id, hash) of each record, not sent_at."""
    h = hashlib.sha256(batch["kiosk_id"].encode("utf-8"))
    for r in batch["ratings"]:
        h.update(f"\n{r['id']}:{r['hash']}".encode("ascii", "replace"))
    return h.hexdigest()


def _in_chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _alert(kind: str, kiosk_id: str, params: dict, now: str, seq_from=None, seq_to=None, rating_id=None) -> Alert:
    """A problem ingest saw in this kiosk's records, noticed (and so happened, for us) ``now``.

    ``params``: what core/alerts.describe words it from (the kiosk is added); the
    Vietnamese ``message`` is those words."""
    params = {"kiosk": kiosk_id, **params}
    return Alert(kind, alert_rules.describe(kind, params), now, subject=kiosk_id, kiosk_id=kiosk_id,
                 rating_id=rating_id, seq_from=seq_from, seq_to=seq_to, params=params)


def check_seals(batch: dict, key_hex: str | None) -> None:
    """Hash and signature of each record of a parsed batch, before its transaction (no lock held).

    The per-record hash + HMAC is the largest piece of a batch's own work
    (py-spy: 12–18 %); done here, it runs outside SQLite's writer lock and
    PostgreSQL's ``ratings_lock``, in parallel across batches and worker
    processes. :func:`ingest` uses the results only when ``key_hex`` is still
    the kiosk's key it reads under the kiosk's lock; else it checks again.
    """
    if key_hex:
        key = bytes.fromhex(key_hex)
        batch["seals"] = (key_hex, [protocol.check_seal(rec, key) for rec in batch["ratings"]])


def seal_problem(rec: dict, key: bytes) -> str | None:
    """protocol.check_seal with the kiosk's key as bytes (converted once per batch)."""
    return protocol.check_seal(rec, key)


def _list_text(items: list) -> str:
    if not items:
        return "[]"
    return json.dumps(items if all(x.isascii() for x in items) else protocol.nfc(items), ensure_ascii=False)


_V1_FIELDS = protocol.RECORD_FIELDS_V1


def _answers_text(answers: dict) -> str:
    if not answers:
        return "{}"
    return json.dumps(answers, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _row(rec: dict, received: str, key: str, skew: float, corrected: str) -> dict:
    row = {k: rec[k] for k in _V1_FIELDS}
    if "survey" in rec:
        row["survey"] = rec["survey"]
        row["answers"] = _answers_text(rec["answers"])
        row["wire_version"] = 2
    else:   # protocol v1: read as hl3, sent back without survey and answers
        row["survey"] = protocol.V1_SURVEY
        row["answers"] = "{}"
        row["wire_version"] = 1
    row["server_flags"] = "[]"
    row["reasons"] = _list_text(rec["reasons"])
    row["flags"] = _list_text(rec["flags"])
    row["received_at"] = received
    row["batch_key"] = key
    row["skew_seconds"] = skew
    row["corrected_at"] = corrected
    return row


def acked_through(conn: Connection, kiosk_id: str, start: int) -> int:
    """Highest seq such that every seq 1..it is held, searching upward from ``start``."""
    if start < 1:
        if conn.execute(select(ratings.c.seq).where(
                and_(ratings.c.kiosk_id == kiosk_id, ratings.c.seq == 1))).first() is None:
            return 0
        start = 1
    found = conn.execute(text(
        "SELECT min(r.seq) FROM ratings r WHERE r.kiosk_id = :k AND r.seq >= :a AND NOT EXISTS "
        "(SELECT 1 FROM ratings r2 WHERE r2.kiosk_id = :k AND r2.seq = r.seq + 1)"),
        {"k": kiosk_id, "a": start}).scalar()
    return found if found is not None else start


def _acked_through(conn: Connection, kiosk_id: str, start: int, held: dict, recs: list) -> int:
    """:func:`acked_through`, answered from what the batch already read when it can (no query).

    ``held``: every seq of the kiosk the database holds in the batch's window
    (its first seq − 1 .. its last + 1, read under the kiosk's lock) plus the
    ones this batch inserted. Walking up from ``start`` (held, or 0) inside
    the window gives the same answer as the query; the query runs only from
    where the walk leaves the window (a batch after a gap, a backfill).
    """
    if not recs:
        return acked_through(conn, kiosk_id, start)
    lo, hi = recs[0]["seq"] - 1, recs[-1]["seq"] + 1
    if not (start == 0 and lo <= 1) and not (lo <= start <= hi and start in held):
        return acked_through(conn, kiosk_id, start)
    s = start
    while True:
        if s + 1 > hi:
            return acked_through(conn, kiosk_id, s)
        if s + 1 not in held:
            return s
        s += 1


def _held_in(column, *fields) -> dict[bool, object]:
    """``SELECT fields WHERE column IN :ids``, by "is the connection PostgreSQL's": there ``= ANY(:ids)``,
    one array parameter, not one per value."""
    return {False: select(*fields).where(column.in_(bindparam("ids", expanding=True))),
            True: select(*fields).where(column == any_(bindparam("ids", type_=ARRAY(column.type))))}


class _Q:
    """The statements every batch runs, built once with bound parameters.

    Building a SQLAlchemy statement (its clauses, then its cache key) cost
    more than SQLite's running it: a batch of one rating (a kiosk in service
    sends each rating as it is stored) ran ~30 of them, ~8 ms of CPU in all.
    """
    stored_batch = select(batches.c.request_hash, batches.c.response).where(
        batches.c.kiosk_id == bindparam("kid"), batches.c.idempotency_key == bindparam("key"))
    window = select(ratings.c.seq, ratings.c.id, ratings.c.hash, ratings.c.prev_hash, ratings.c.created_at,
                    ratings.c.corrected_at).where(ratings.c.kiosk_id == bindparam("kid"),
                                                  ratings.c.seq.between(bindparam("lo"), bindparam("hi")))
    kiosk_seen = kiosks.update().where(kiosks.c.id == bindparam("b_kid"))
    batch_kept = batches.insert()
    unit_desks = select(desks.c.id).where(desks.c.unit_code == bindparam("unit"))
    unit_officers = select(officers.c.id).where(officers.c.desk_id.in_(unit_desks.scalar_subquery()))
    open_alerts = select(alerts).where(alerts.c.kiosk_id == bindparam("kid"), alerts.c.kind == bindparam("kind"),
                                       alerts.c.resolved_at.is_(None))
    ids_held = _held_in(ratings.c.id, ratings.c.id, ratings.c.kiosk_id, ratings.c.seq, ratings.c.hash)
    receipts_held = _held_in(ratings.c.receipt_id, ratings.c.receipt_id)


def ingest(conn: Connection, kiosk: dict, batch: dict, idem_key: str, *,
           skew_threshold: float = 600, now: datetime | None = None) -> dict:
    """Apply a parsed batch for ``kiosk`` (its kiosks row) inside the caller's transaction."""
    kid = kiosk["id"]
    if batch["kiosk_id"] != kid:
        raise BatchError(403, "this token belongs to another kiosk")
    fp = fingerprint(batch)
    stored = conn.execute(_Q.stored_batch, {"kid": kid, "key": idem_key}).first()
    if stored is not None:
        if stored.request_hash != fp:
            raise BatchError(422, "Idempotency-Key already used for a different batch")
        return json.loads(stored.response)

    known = {**custom_surveys(conn), **protocol.BUILTIN_SURVEYS} if batch.get("check_surveys") else None
    check_against(batch, known or protocol.BUILTIN_SURVEYS, kiosk["unit_code"])

    now = now or utcnow()
    now_s = iso(now)
    skew = (now - batch["sent_at"]).total_seconds()
    clock_off = abs(skew) > skew_threshold
    key_bytes = bytes.fromhex(kiosk["key_hex"])
    recs = batch["ratings"]
    results, to_insert, new_alerts = [], [], []

    existing = {}
    ids = [r["id"] for r in recs]
    for part in _in_chunks(ids):
        for row in conn.execute(_Q.ids_held[conn.dialect.name == "postgresql"], {"ids": part}):
            existing[row.id] = row
    held = {}  # seq -> (id, hash, prev_hash), around this batch's seqs
    times = {}  # seq -> (created_at, corrected_at): the previous seq's, for the clock rules
    if recs:
        lo, hi = recs[0]["seq"], recs[-1]["seq"]
        for row in conn.execute(_Q.window, {"kid": kid, "lo": lo - 1, "hi": hi + 1}):
            held[row.seq] = (row.id, row.hash, row.prev_hash)
            times[row.seq] = (row.created_at, row.corrected_at)
    clock = _Clock(now, skew, clock_off)
    jumped = []  # (row, clock flags) of rows whose created_at is flagged

    pre = batch.get("seals")
    seals = pre[1] if pre is not None and pre[0] == kiosk["key_hex"] and len(pre[1]) == len(recs) else None

    for i, rec in enumerate(recs):
        rid, seq = rec["id"], rec["seq"]
        why = seals[i] if seals is not None else seal_problem(rec, key_bytes)
        if rid in existing:
            ex = existing[rid]
            if why is None and ex.kiosk_id == kid and ex.seq == seq and ex.hash == rec["hash"]:
                results.append({"id": rid, "status": "duplicate", "error": None})
                continue
            results.append({"id": rid, "status": "rejected", "error": "id already held with other content"})
            new_alerts.append(_alert("conflict", kid, {"seq": seq, "case": "content", "rating": rid},
                                     now_s, seq, seq, rid))
            continue
        if why is not None:
            results.append({"id": rid, "status": "rejected", "error": why})
            cause = "hash" if why.startswith("hash") else "signature" if why.startswith("signature") else None
            new_alerts.append(_alert("signature", kid, {"seq": seq, "why": cause, "detail": why},
                                     now_s, seq, seq, rid))
            continue
        if seq in held:
            other = held[seq][0]
            results.append({"id": rid, "status": "rejected", "error": f"seq {seq} already held by another rating"})
            new_alerts.append(_alert("conflict", kid, {"seq": seq, "case": "seq", "rating": rid, "held": other},
                                     now_s, seq, seq, rid))
            continue
        prev = held.get(seq - 1)
        if seq == 1 and rec["prev_hash"] != protocol.ZERO_HASH:
            new_alerts.append(_alert("chain", kid, {"seq": 1, "first": True}, now_s, 1, 1, rid))
        elif prev is not None and prev[1] != rec["prev_hash"]:
            new_alerts.append(_alert("chain", kid, {"seq": seq}, now_s, seq, seq, rid))
        nxt = held.get(seq + 1)
        if nxt is not None and nxt[2] != rec["hash"]:
            new_alerts.append(_alert("chain", kid, {"seq": seq + 1}, now_s, seq + 1, seq + 1, nxt[0]))
        held[seq] = (rid, rec["hash"], rec["prev_hash"])
        created = rec["created_at"]
        before = times.get(seq - 1)
        corrected, found = clock.correct(created, before)
        times[seq] = (created, corrected)
        row = _row(rec, now_s, idem_key, skew, corrected)
        to_insert.append(row)
        if found:
            jumped.append((row, found))
            new_alerts.append(clock.alert(kid, seq, created, before, corrected, found, rid))
        results.append({"id": rid, "status": "accepted", "error": None})

    if to_insert:
        _server_flags(conn, kid, kiosk["unit_code"], to_insert, new_alerts)
        for row, found in jumped:   # rare: merged with what _server_flags found
            row["server_flags"] = json.dumps(json.loads(row["server_flags"]) + found)
        bulk_insert(conn, ratings, to_insert)
        tlog_store.append(conn, now)   # the public log: leaves in pk order, a signed checkpoint
    _gap_alerts(conn, kid, to_insert, held, now_s, new_alerts)
    _skew_alert(conn, kid, skew, clock_off, skew_threshold, now_s, new_alerts)
    cases.raise_alerts(conn, new_alerts, now)   # and the cases of tampering alerts
    alert_rules.heard_from(conn, kid, now)
    if to_insert:
        # the roll-up and the rating rules see this batch in the transaction that stores it:
        # no read ever folds, and an alert exists as soon as its rating does
        sv = survey(conn)
        rollup.fold_in(conn, sv["reasons"], surveys=known)
        cases.after_fold(conn, sv["scale"], now, rows=to_insert)
    through = _acked_through(conn, kid, kiosk["acked_through"], held, recs)
    conn.execute(_Q.kiosk_seen, {"b_kid": kid, "acked_through": through, "last_seen": now_s, "clock_skew": skew})
    reply = {"acked_through": through, "results": results}
    conn.execute(_Q.batch_kept, {
        "kiosk_id": kid, "idempotency_key": idem_key, "request_hash": fp, "received_at": now_s,
        "sent_at": batch["sent_at"].isoformat(), "skew_seconds": skew, "count": len(recs),
        "response": json.dumps(reply)})
    return reply


#: Before this (local) a kiosk's created_at is surely a clock that was never set.
CLOCK_EPOCH = "2020-01-01T00:00:00+07:00"
#: Server flags of a created_at the server does not believe (DESIGN.md); the rating still counts.
CLOCK_FLAGS = ("clock_back", "clock_before_2020", "clock_future")


def _before(a: str, b: str) -> bool:
    """Whether moment ``a`` is before ``b``: two RFC 3339 texts, already checked strict.

    Written with the same offset (the kiosks' "+07:00", or both "Z"), text
    order is time order (the seconds, then the fraction as digits); only
    texts with different offsets are parsed.
    """
    if a == b:
        return False
    if (a[-1] == "Z" and b[-1] == "Z") or (a[-6] in "+-" and a[-6:] == b[-6:]):
        ha, hb = a[:19], b[:19]
        if ha != hb:
            return ha < hb
        return _fraction(a) < _fraction(b)
    return datetime.fromisoformat(a) < datetime.fromisoformat(b)


def _fraction(value: str) -> str:
    body = value[19:-1] if value[-1] == "Z" else value[19:-6]
    return body[1:].ljust(9, "0")


class _Clock:
    """Corrected times for one batch (DESIGN.md "Kiosk clocks drift and jump").

    ``corrected_at`` is created_at, + the batch's skew when the skew is over
    the threshold (written in local time, as reports cut days); then never
    before the corrected time of the kiosk's previous seq and never after the
    rating's received_at (the server's now: it wins should the two disagree,
    i.e. the server's own clock went back). A created_at before the previous
    seq's, before 2020 or after the server's local tomorrow is flagged.
    Text comparisons on the common path (one offset, the kiosks' +07:00).
    """

    def __init__(self, now: datetime, skew: float, clock_off: bool):
        local = now.astimezone(VN_TZ)
        self.skew = timedelta(seconds=skew)
        self.clock_off = clock_off
        self.received = iso(local)          # now, written like the kiosks' times
        after = datetime.combine(local.date() + timedelta(days=2), time(), VN_TZ)
        self.future = after.isoformat()     # from the day after tomorrow on: flagged
        # the common case in plain text: a kiosk in step writing "YYYY-MM-DDTHH:MM:SS+07:00", from
        # 2020 to a second before now (so before tomorrow too), after the previous seq's times
        self.plain = not clock_off and self.future.endswith("+07:00")
        self.received_plain = self.received[:19] + "+07:00"

    def correct(self, created: str, before: tuple | None) -> tuple[str, tuple | list]:
        """(corrected_at, clock flags) of a created_at; ``before``: the previous seq's (created, corrected)."""
        if (self.plain and len(created) == 25 and created.endswith("+07:00")
                and CLOCK_EPOCH <= created < self.received_plain):
            if before is None:
                return created, ()
            was, was_corrected = before
            if (was <= created and was_corrected <= created and len(was) == 25 == len(was_corrected)
                    and was.endswith("+07:00") and was_corrected.endswith("+07:00")):
                return created, ()
        found = []
        if before is not None and _before(created, before[0]):
            found.append("clock_back")
        if _before(created, CLOCK_EPOCH):
            found.append("clock_before_2020")
        elif not _before(created, self.future):
            found.append("clock_future")
        corrected = created
        if self.clock_off:
            try:
                corrected = iso((datetime.fromisoformat(created) + self.skew).astimezone(VN_TZ))
            except (OverflowError, ValueError):
                pass
        if before is not None and _before(corrected, before[1]):
            corrected = before[1]
        if _before(self.received, corrected):
            corrected = self.received
        return corrected, found

    @staticmethod
    def alert(kid: str, seq: int, created: str, before: tuple | None, corrected: str, found: list,
              rating_id: str) -> Alert:
        params = {"kiosk": kid, "seq": seq, "created": created, "corrected": corrected, "found": list(found),
                  "prev_created": before[0] if before and "clock_back" in found else None}
        return Alert("clock_jump", alert_rules.describe("clock_jump", params), corrected, subject=kid,
                     kiosk_id=kid, rating_id=rating_id, seq_from=seq, seq_to=seq, params=params)


def _server_flags(conn: Connection, kid: str, unit_code: str, rows: list[dict], new_alerts: list) -> None:
    """What the server finds beside the signed record, in each row's ``server_flags`` (+ alerts).

    * ``unknown_desk`` / ``unknown_officer``: not in the server's roster of
      the kiosk's unit (a kiosk may hold an older one); stored and counted
      under its own id. A unit the server has no desks (officers) for yet
      has no roster to judge by: nothing is flagged (docs/decisions.md).
    * ``duplicate_receipt``: a receipt the town already holds a rating of
      (from any kiosk, or earlier in this batch); stored, not counted.
    Two or three indexed look-ups per batch, whatever its size.
    """
    unit_desks = set(conn.execute(_Q.unit_desks, {"unit": unit_code}).scalars())
    unit_officers = set(conn.execute(_Q.unit_officers, {"unit": unit_code}).scalars()) if unit_desks else set()
    receipts = sorted({r["receipt_id"] for r in rows if r["receipt_id"] is not None})
    held = set()
    for part in _in_chunks(receipts):
        held.update(conn.execute(_Q.receipts_held[conn.dialect.name == "postgresql"], {"ids": part}).scalars())
    roster = (("unknown_desk", "desk_id", unit_desks), ("unknown_officer", "officer_id", unit_officers))
    for row in rows:
        found = []
        for flag, field, known in roster:
            if known and row[field] not in known:
                found.append(flag)
                params = {"code": row[field], "kiosk": kid, "seq": row["seq"]}
                new_alerts.append(Alert(flag, alert_rules.describe(flag, params), row["corrected_at"],
                                        subject=row[field], kiosk_id=kid, rating_id=row["id"],
                                        seq_from=row["seq"], seq_to=row["seq"], params=params))
        rid = row["receipt_id"]
        if rid is not None:
            if rid in held:
                found.append("duplicate_receipt")
                params = {"receipt": rid, "dossier": row.get("dossier_code"), "kiosk": kid, "seq": row["seq"]}
                new_alerts.append(Alert("duplicate_receipt", alert_rules.describe("duplicate_receipt", params),
                                        row["corrected_at"], subject=kid, kiosk_id=kid, rating_id=row["id"],
                                        seq_from=row["seq"], seq_to=row["seq"], params=params))
            held.add(rid)
        if found:
            row["server_flags"] = json.dumps(found)


def _open_alerts(conn: Connection, kid: str, kind: str) -> list:
    return conn.execute(_Q.open_alerts, {"kid": kid, "kind": kind}).all()


def _gap_alerts(conn, kid, inserted, held, now_s, new_alerts) -> None:
    """Raise a gap alert for each missing run below an inserted record; close filled ones."""
    open_gaps = _open_alerts(conn, kid, "gap")
    for alert in open_gaps:
        count = conn.execute(select(func.count()).select_from(ratings).where(and_(
            ratings.c.kiosk_id == kid, ratings.c.seq.between(alert.seq_from, alert.seq_to)))).scalar()
        if count == alert.seq_to - alert.seq_from + 1:
            alert_rules.resolve(conn, alerts.c.id == alert.id, "the missing ratings arrived")
    still_open = [(a.seq_from, a.seq_to) for a in open_gaps]
    for row in inserted:
        seq = row["seq"]
        if seq == 1 or (seq - 1) in held:
            continue
        below = conn.execute(select(func.max(ratings.c.seq)).where(and_(
            ratings.c.kiosk_id == kid, ratings.c.seq < seq))).scalar() or 0
        start, end = below + 1, seq - 1
        if any(a <= end and start <= b for a, b in still_open):
            continue
        still_open.append((start, end))
        new_alerts.append(_alert("gap", kid, {"seq_from": start, "seq_to": end, "before": seq},
                                 now_s, start, end, row["id"]))


def _skew_alert(conn, kid, skew, clock_off, threshold, now_s, new_alerts) -> None:
    """One open clock alert per kiosk while its clock is off; closed once it is back in step."""
    open_alerts = _open_alerts(conn, kid, "clock_skew")
    if clock_off and not open_alerts:
        new_alerts.append(_alert("clock_skew", kid, {"seconds": round(abs(skew)), "ahead": skew < 0,
                                                     "threshold": round(threshold)}, now_s))
    elif not clock_off:
        for alert in open_alerts:
            alert_rules.resolve(conn, alerts.c.id == alert.id, "kiosk clock back in step")
