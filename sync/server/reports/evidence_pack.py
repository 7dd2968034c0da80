"""The evidence pack's writer: a period's ratings, report, alerts, cases, letters and chain heads, signed.

The format (member names, manifest, signature) and its offline check are
sync/evidence.py's; this module only writes it, from town.db.

It streams: the ratings are read in pages and written straight into the
zip's members (``ZipFile.open(name, "w")``), hashed as they are written, so
memory stays flat for a year of a busy town. The file is written beside its
final name, private (0600: a pack holds citizens' comments), synced, and
renamed into place only when whole; a failed pack leaves nothing behind.
Nothing secret goes in: no kiosk key, no token, no private key (the kiosks'
HMAC signatures are in the records, as pulled; they cannot be checked without
the kiosk's key).

Only reads: the caller gives the signing key (``core/signing.py``), made at
the server's start or by the command in a write transaction.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import and_, case, func, literal, or_, select

from sync import evidence, protocol
from sync.filemodes import FILE_MODE
from sync.server.core import db, tlog_store
from sync.server.core.alerts import as_record
from sync.server.core.clock import VN_TZ, iso, utcnow
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.settings import known_surveys, survey
from sync.server.core.signing import public_key_hex
from sync.server.reports import exports, report_docx
from sync.server.reports.periods import Period, today_vn
from sync.server.reports.stats import Filter, time_bound, town_stats

#: ratings read per query (by kiosk and seq)
PAGE = 5000
#: the reports' time column: a rating belongs to the period of the server's corrected time
TIME_COL = "corrected_at"

_V1 = protocol.RECORD_FIELDS_V1
_COLUMNS = ("seq", "received_at", "server_flags", "wire_version", *protocol.RECORD_FIELDS)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class PackResult:
    path: Path
    ratings: int
    kiosks: int
    size: int
    public_key: str


class _Hashing(io.RawIOBase):
    """A writable member that hashes and counts what goes through it."""

    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.sha.update(data)
        self.size += len(data)
        self.fh.write(data)
        return len(data)


def record_of(m) -> dict:
    """A stored rating as the admin pull sends it: the record as the kiosk sent it (v1 without survey
    and answers, so its hash verifies), plus received_at and server_flags."""
    rec = {k: m[k] for k in (_V1 if m["wire_version"] == 1 else protocol.RECORD_FIELDS)}
    rec["reasons"] = json.loads(rec["reasons"] or "[]")
    rec["flags"] = json.loads(rec["flags"] or "[]")
    if "answers" in rec:
        rec["answers"] = json.loads(rec["answers"] or "{}")
    rec["received_at"] = m["received_at"]
    rec["server_flags"] = json.loads(m["server_flags"] or "[]")
    return rec


def _object(fields) -> object:
    r = db.ratings
    args = []
    for k in fields:
        args += [literal(k), func.json(r.c[k]) if k in _JSON_TEXT else r.c[k]]
    return func.json_object(*args)


_JSON_TEXT = ("reasons", "flags", "answers", "server_flags")
#: SQLite: the line of a rating encoded by SQLite itself (in C), the same text as record_of's and as the
#: admin pull's pages (api/ratings.py page_sqlite); a v1 record without survey and answers
_RECORD_JSON = case((db.ratings.c.wire_version == 1, _object((*_V1, "received_at", "server_flags"))),
                    else_=_object((*protocol.RECORD_FIELDS, "received_at", "server_flags")))


def _utc(moment: datetime) -> str:
    """A period bound as the server stores its own times (RFC 3339 UTC): text order is time order."""
    return iso(moment.astimezone(timezone.utc))


def _months(period: Period) -> tuple[str, str]:
    return period.first_day.isoformat()[:7], period.last_day.isoformat()[:7]


def _rows(conn, query) -> list[dict]:
    out = []
    for row in conn.execute(query).mappings():
        d = dict(row)
        if isinstance(d.get("params"), str):
            try:
                d["params"] = json.loads(d["params"])
            except ValueError:
                pass
        out.append(d)
    return out


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def _alerts(conn, period: Period, scope: Scope) -> list[dict]:
    """Every alert open at some moment of the period (made before its end, not resolved before its
    start), and every alert of a month of the period."""
    a = db.alerts
    start, end = _utc(period.start), _utc(period.end)
    first, last = _months(period)
    during = and_(a.c.created_at < end, or_(a.c.resolved_at.is_(None), a.c.resolved_at >= start))
    q = select(a).where(or_(during, and_(a.c.month >= first, a.c.month <= last)), scope.alerts()).order_by(a.c.id)
    return [as_record(r) for r in conn.execute(q).mappings()]


def _cases(conn, period: Period, scope: Scope) -> dict:
    """The cases open at some moment of the period or of a month of it, their causes and whole log."""
    c = db.cases
    start, end = _utc(period.start), _utc(period.end)
    first, last = _months(period)
    during = and_(c.c.opened_at < end, or_(c.c.closed_at.is_(None), c.c.closed_at >= start))
    cases = _rows(conn, select(c).where(or_(during, and_(c.c.month >= first, c.c.month <= last)), scope.cases())
                  .order_by(c.c.id))
    ids = [x["id"] for x in cases]
    links, events = [], []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        links += _rows(conn, select(db.case_links).where(db.case_links.c.case_id.in_(part))
                       .order_by(db.case_links.c.id))
        events += _rows(conn, select(db.case_events).where(db.case_events.c.case_id.in_(part))
                        .order_by(db.case_events.c.id))
    return {"cases": cases, "case_links": links, "case_events": events}


def _letters(conn, period: Period, scope: Scope) -> list[dict]:
    t = db.letters_issued
    q = (select(t).where(and_(t.c.issued_at >= _utc(period.start), t.c.issued_at < _utc(period.end)),
                         scope.letters())
         .order_by(t.c.id))
    return _rows(conn, q)


def _figures(f, with_names: bool = False) -> dict:
    out = evidence.figures_of(f.total, f.misuse, f.satisfied)
    return {"id": f.key, "name": f.name, **out} if with_names else out


def _write_jsonl(conn, flt: Filter, out) -> tuple[int, list[dict]]:
    """The period's ratings, kiosk by kiosk in seq order, one record a line; returns (count, chains)."""
    r = db.ratings
    inside = flt.where(r, TIME_COL)
    spans = conn.execute(select(r.c.kiosk_id, func.min(r.c.seq), func.max(r.c.seq)).where(inside)
                         .group_by(r.c.kiosk_id).order_by(r.c.kiosk_id)).all()
    sqlite = conn.dialect.name == "sqlite"
    cols = ([r.c.seq, r.c.prev_hash, r.c.hash, _RECORD_JSON.label("line")] if sqlite else
            [r.c[k] for k in _COLUMNS]) + [case((inside, literal(1)), else_=literal(0)).label("inside")]
    total, chains = 0, []
    for kiosk, lo, hi in spans:
        chain = {"kiosk_id": kiosk, "ratings": 0, "first_seq": None, "first_prev_hash": None,
                 "head_seq": None, "head_hash": None, "gaps": []}
        last, run = lo - 1, None
        while last < hi:
            rows = conn.execute(select(*cols).where(and_(r.c.kiosk_id == kiosk, r.c.seq > last, r.c.seq <= hi))
                                .order_by(r.c.seq).limit(PAGE)).mappings().all()
            if not rows:
                break
            lines = []
            for m in rows:
                last = m["seq"]
                if not m["inside"]:       # held by the server, but its time is outside the period
                    run = [run[0], last] if run else [last, last]
                    continue
                if run:
                    chain["gaps"].append({"seq_from": run[0], "seq_to": run[1], "why": evidence.OUTSIDE_PERIOD})
                    run = None
                if chain["first_seq"] is None:
                    chain["first_seq"], chain["first_prev_hash"] = m["seq"], m["prev_hash"]
                chain["head_seq"], chain["head_hash"] = m["seq"], m["hash"]
                chain["ratings"] += 1
                lines.append(m["line"] if sqlite else _dumps(record_of(m)))
            if lines:
                out.write(("\n".join(lines) + "\n").encode("utf-8"))
        total += chain["ratings"]
        chains.append(chain)
    return total, chains


def _other_heads(conn, period: Period, known: set[str], scope: Scope) -> list[dict]:
    """The chain head at the period's end of every kiosk (of ``scope``) without a rating in the period."""
    r = db.ratings
    out = []
    end = r.c[TIME_COL] < time_bound(r.c[TIME_COL], period.end)
    for (kiosk,) in conn.execute(select(db.kiosks.c.id).where(scope.kiosks()).order_by(db.kiosks.c.id)):
        if kiosk in known:
            continue
        head = conn.execute(select(r.c.seq, r.c.hash).where(and_(r.c.kiosk_id == kiosk, end))
                            .order_by(r.c.seq.desc()).limit(1)).first()
        out.append({"kiosk_id": kiosk, "ratings": 0, "first_seq": None, "first_prev_hash": None,
                    "head_seq": head.seq if head else None, "head_hash": head.hash if head else None,
                    "gaps": []})
    return out


def _last_checkpoint(conn, period: Period) -> dict | None:
    """The period's last signed checkpoint of the public log (core/tlog_store.py) with the log's verifier
    key: {"key", "tree_size", "signed_at", "note"}; None when none was signed in or before the period.
    An inspector compares it with what `hailong audit` saw: the log of that day was never rewritten."""
    end = iso(period.end.astimezone(timezone.utc))
    row = conn.execute(select(db.log_checkpoints).where(db.log_checkpoints.c.signed_at < end)
                       .order_by(db.log_checkpoints.c.tree_size.desc()).limit(1)).first()
    key = tlog_store.verifier_key(conn)
    if row is None or key is None:
        return None
    return {"key": key, "tree_size": row.tree_size, "signed_at": row.signed_at, "note": row.note}


def _info(name: str, stamp: tuple) -> zipfile.ZipInfo:
    """A member's entry: deflated, dated (local time), private when extracted."""
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | FILE_MODE) << 16
    return info


class _OneConnection:
    """An engine-like object whose every ``connect()`` is the same connection: the exports and the
    statistics read through it, so every member of the pack comes from one snapshot of town.db."""

    def __init__(self, conn):
        self.conn, self.dialect = conn, conn.dialect

    def connect(self):
        return nullcontext(self.conn)


def write_pack(reader, period: Period, out: str | Path, key, issuer: report_docx.Issuer | None = None,
               on: date | None = None, scope: Scope = EVERY_UNIT) -> PackResult:
    """Write the evidence pack of ``period`` to ``out`` (atomically, 0600), signed with ``key``
    (an Ed25519PrivateKey). ``reader``: an engine that only reads (``make_reader``: a pack of a year
    must not hold the write lock kiosks wait on). ``issuer``: who issues the Word report (the pages'
    report_issuer). ``scope``: a commune's pack holds its unit's ratings, kiosks, alerts, cases and
    letters only (core/scope.py; the manifest names the unit)."""
    out = Path(out)
    on = on or today_vn()
    flt = Filter(period, unit=scope.unit)
    members: list[dict] = []
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
                stamp = datetime.now(VN_TZ).timetuple()[:6]

                def member(name: str, write) -> None:
                    with zf.open(_info(name, stamp), "w", force_zip64=True) as fh:
                        h = _Hashing(fh)
                        write(h)
                    members.append({"name": name, "sha256": h.sha.hexdigest(), "size": h.size})

                def blob(name: str, data: bytes) -> None:
                    member(name, lambda h: h.write(data))

                with reader.connect() as conn:
                    if conn.dialect.name == "sqlite":
                        conn.exec_driver_sql("BEGIN")     # one snapshot (pysqlite itself begins only to write)
                    else:
                        conn.execution_options(isolation_level="REPEATABLE READ")
                    engine = _OneConnection(conn)
                    sv = survey(conn)
                    surveys = known_surveys(conn)
                    rn = exports.roster_names(conn, scope)
                    member(evidence.RATINGS_CSV, lambda h: exports.write_csv(
                        h, exports.rating_rows(engine, flt, scale=sv["scale"], time_col=TIME_COL)))
                    found: dict = {}
                    member(evidence.RATINGS_JSONL, lambda h: found.update(zip(("n", "chains"),
                                                                              _write_jsonl(conn, flt, h))))
                    names = {"unit": rn["units"], "desk": rn["desks"], "officer": rn["officers"],
                             "procedure": rn["procedures"]}
                    data = report_docx.gather(town_stats(engine), flt, names)
                    blob(evidence.REPORT, report_docx.report(data, issuer, on))
                    blob(evidence.FIGURES, _json({
                        "period": period.key, "overall": _figures(data.overall),
                        "officers": [_figures(f, with_names=True) for f in data.officers]}))
                    blob(evidence.ALERTS, _json({"alerts": _alerts(conn, period, scope)}))
                    blob(evidence.CASES, _json(_cases(conn, period, scope)))
                    blob(evidence.LETTERS, _json({"letters": _letters(conn, period, scope)}))
                    blob(evidence.SURVEYS, _json({"surveys": surveys}))
                    chains = found["chains"]
                    chains += _other_heads(conn, period, {c["kiosk_id"] for c in chains}, scope)
                    blob(evidence.CHAINS, _json({"period": period.key, "kiosks": chains}))
                    last = _last_checkpoint(conn, period)
                    if last is not None:     # the public log as the period left it (none before the log)
                        blob(evidence.LOG_CHECKPOINT, _json(last))
                public = public_key_hex(key)
                blob(evidence.PUBLIC_KEY, (public + "\n").encode("ascii"))
                manifest = _json({
                    "format": evidence.FORMAT, "version": evidence.VERSION, "period": period.key,
                    "period_label": period.label(), "first_day": period.first_day.isoformat(),
                    "last_day": period.last_day.isoformat(), "created_at": iso(utcnow()),
                    "public_key": public, "ratings": found["n"],
                    "kiosks": sum(1 for c in found["chains"] if c["ratings"]), "members": members,
                    **({"unit": scope.unit} if scope.unit else {})})
                for name, data in ((evidence.MANIFEST, manifest), (evidence.SIGNATURE, evidence.sign(manifest, key))):
                    zf.writestr(_info(name, stamp), data)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return PackResult(path=out, ratings=found["n"], kiosks=sum(1 for c in found["chains"] if c["ratings"]),
                      size=out.stat().st_size, public_key=public)
