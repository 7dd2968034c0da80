"""The evidence pack (hồ sơ, tài liệu kiểm chứng): its format, and ``hailong verify-pack``, offline.

A pack is one zip file the town server writes for a period
(``hailong admin evidence-pack --period 2026-Q4``, or the evidence page);
an inspector checks it on a laptop with no server and no network:
``hailong verify-pack PACK.zip [--key HEX]``. This module is the one place
that knows the format; the writer is sync/server/reports/evidence_pack.py.
Standard library, ``cryptography`` (Ed25519), ``sync.protocol`` and
``sync.cli_i18n`` only: it never imports the server.

Members (every one listed in the manifest, none other allowed):

``ratings.csv``
    the period's ratings exactly as the web export writes them (UTF-8 with
    a BOM, sync/columns.py's columns, oldest first by the server's time).
``ratings.jsonl``
    the same ratings as ``hailong pull --format jsonl`` writes them: one
    record a line as the kiosk sent it (v1 records without survey and
    answers), plus ``received_at`` and ``server_flags``; grouped by kiosk
    (kiosk id order) and in seq order within a kiosk, so a chain is walked
    in one pass.
``report.docx``
    the period's Word report, the one the dashboard's download writes.
``figures.json``
    the figures printed in the report: ``overall`` and ``officers`` (id,
    name, total, misuse, valid, satisfied, rate).
``alerts.json``
    ``{"alerts": [...]}``: every alert open at some moment of the period
    (made before its end, not resolved before its start) or of a month of it.
``cases.json``
    ``{"cases", "case_links", "case_events"}``: the cases open at some
    moment of the period or of a month of it, their causes and their whole log.
``letters.json``
    ``{"letters": [...]}``: the ``letters_issued`` rows of the period (no
    applicant's name: the server never keeps one).
``surveys.json``
    ``{"surveys": {id: document}}``: every survey a rating may have
    answered, so that satisfaction is recomputed by each rating's own survey.
``chains.json``
    ``{"kiosks": [...]}``, one entry per kiosk the server knows:
    ``kiosk_id``, ``ratings`` (in the pack), ``first_seq`` and
    ``first_prev_hash`` (where the pack's part of the chain starts: a
    period starts mid-chain), ``head_seq`` and ``head_hash`` (the kiosk's
    last rating up to the period's end) and ``gaps``: runs of seqs the
    server holds whose time falls outside the period (a kiosk clock put
    right), ``{"seq_from", "seq_to", "why": "outside_period"}``.
``public_key.txt``
    the server's Ed25519 public key, 64 hex digits (as the report prints it,
    in groups of four).

``manifest.json`` (UTF-8 JSON) holds ``format`` (:data:`FORMAT`),
``version`` (:data:`VERSION`), ``period`` (``2026-Q4``), ``period_label``,
``first_day``/``last_day``, ``created_at``, ``public_key`` (hex),
``ratings``, ``kiosks`` and ``members``: ``[{"name", "sha256", "size"}]``
(size in bytes of the member as extracted). ``manifest.sig`` holds the
Ed25519 signature of the exact bytes of ``manifest.json``, 128 hex digits
and a newline. The manifest and its signature are the only members not in
the list.

What verify-pack checks, in this order, and the first problem found is
the answer (exit 1, naming the member, kiosk and seq):

1. the zip opens, no name twice; manifest.json and manifest.sig are there;
2. the signature, with the pack's own key, or with ``--key`` when given (a
   pack whose key is not the pinned one fails); without ``--key`` the
   summary says that only the pack's own key was checked and prints it, to
   be compared with the key printed on the report of the server;
3. every listed member is there, none is extra, each has its SHA-256 and size;
4. public_key.txt is the manifest's key;
5. each kiosk's ratings in ratings.jsonl: every record's hash recomputed
   with ``sync.protocol``'s canonical hashing; the first starts where
   chains.json says; each next one has seq + 1 and links its prev_hash to the
   hash before; the last is the stated head. A missing run of seqs is
   accepted only when the pack says why: a ``gap`` alert of the server in
   alerts.json covering it (the server never received those ratings), or a
   chains.json gap ``outside_period``; a prev_hash that does not link only
   when a ``chain`` alert names that seq. Accepted breaks are not hidden:
   the summary lists every one. (Kiosk signatures are HMACs under the
   kiosk's secret key, which never leaves the server: they cannot be
   checked offline.)
6. ratings.csv holds the same ratings (same count, same ids);
7. figures.json's figures are the ones the ratings give (valid, satisfied,
   rate, overall and per officer, by ``sync.protocol``'s rules: a misuse
   flag or an uncounted server flag keeps a rating out, each rating
   satisfied by its own survey), and so are the numbers printed in
   report.docx (read from word/document.xml): the overall total, valid,
   satisfied and rate and the officers' table; a public key printed in the
   report must be the pack's.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import click

from sync import protocol
from sync.cli_i18n import _

FORMAT = "hailong-evidence-pack"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RATINGS_CSV = "ratings.csv"
RATINGS_JSONL = "ratings.jsonl"
REPORT = "report.docx"
FIGURES = "figures.json"
ALERTS = "alerts.json"
CASES = "cases.json"
LETTERS = "letters.json"
SURVEYS = "surveys.json"
CHAINS = "chains.json"
PUBLIC_KEY = "public_key.txt"
#: optional (packs of servers with the public log): the period's last signed checkpoint and the log's key
LOG_CHECKPOINT = "log_checkpoint.json"
#: every member besides the manifest and its signature, in the order the writer writes them
MEMBERS = (RATINGS_CSV, RATINGS_JSONL, REPORT, FIGURES, ALERTS, CASES, LETTERS, SURVEYS, CHAINS, PUBLIC_KEY)
#: the reason chains.json gives for seqs the server holds outside the period
OUTSIDE_PERIOD = "outside_period"
#: the CSV's column of the rating's id (sync/columns.py's last column)
CSV_ID_HEADER = "Mã đánh giá"

_CHUNK = 1 << 20
_HEX = re.compile(r"^[0-9a-f]{64}$")


def key_text(key_hex: str) -> str:
    """The public key as the report prints it: groups of four hex digits."""
    return " ".join(key_hex[i:i + 4] for i in range(0, len(key_hex), 4))


def normal_key(text: str) -> str | None:
    """64 lowercase hex digits from a key typed or copied from a report (spaces and colons allowed)."""
    key = re.sub(r"[\s:]", "", text or "").lower()
    return key if _HEX.match(key) else None


def figures_of(total: int, misuse: int, satisfied: int) -> dict:
    """The figures of a group of ratings as figures.json holds them."""
    valid = total - misuse
    return {"total": total, "misuse": misuse, "valid": valid, "satisfied": satisfied,
            "rate": protocol.satisfaction_rate(satisfied, valid)}


def counted(rec: dict) -> bool:
    """Whether a rating counts in the rate (DESIGN.md): no misuse flag, no uncounted server flag."""
    return not (protocol.MISUSE_FLAGS.intersection(rec.get("flags") or ())
                or protocol.UNCOUNTED_SERVER_FLAGS.intersection(rec.get("server_flags") or ()))


class PackProblem(Exception):
    """The first thing found wrong with a pack; the message names the member, kiosk and seq."""


@dataclass
class Summary:
    """What a whole pack holds (verify's answer when nothing is wrong)."""
    period: str
    period_label: str
    ratings: int
    kiosks: int
    key: str
    pinned: bool
    #: breaks in a chain the pack accounts for (alerts, outside the period): worded, in order
    known_breaks: list[str] = field(default_factory=list)


# --- reading --------------------------------------------------------------------------------

def _member_json(zf: zipfile.ZipFile, name: str):
    try:
        return json.loads(zf.read(name).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise PackProblem(_("{member}: không phải JSON hợp lệ", member=name)) from None


def _read_member(zf: zipfile.ZipFile, name: str):
    """Yield a member's bytes in chunks; a damaged zip entry is a problem named after the member."""
    try:
        with zf.open(name) as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise PackProblem(_("{member}: tệp nén bị hỏng ({why})", member=name, why=exc)) from None


def _lines(zf: zipfile.ZipFile, name: str):
    """A member's lines as text, streamed."""
    buf = b""
    for chunk in _read_member(zf, name):
        buf += chunk
        *lines, buf = buf.split(b"\n")
        yield from lines
    if buf:
        yield buf


def _check_log_checkpoint(zf: zipfile.ZipFile) -> None:
    """The public log's checkpoint a pack carries: signed by the log key it names, of the size it says."""
    from sync import tlog
    doc = _member_json(zf, LOG_CHECKPOINT)
    try:
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("key", "note")):
            raise tlog.ProofError("not a checkpoint and its key")
        cp = tlog.open_checkpoint(doc["note"], tlog.parse_verifier_key(doc["key"]))
        if cp.size != doc.get("tree_size"):
            raise tlog.ProofError(f"the note is of size {cp.size}, the member says {doc.get('tree_size')}")
    except tlog.ProofError as exc:
        raise PackProblem(_("{member}: bản chốt của sổ công khai không đúng: {why}", member=LOG_CHECKPOINT,
                            why=exc)) from None


def _check_signature(manifest_bytes: bytes, sig_text: bytes, key_hex: str) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        sig = bytes.fromhex(sig_text.decode("ascii").strip())
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(sig, manifest_bytes)
    except (InvalidSignature, ValueError, UnicodeDecodeError):
        raise PackProblem(_("{member}: chữ ký của manifest.json không đúng với khóa {key}",
                            member=SIGNATURE, key=key_text(key_hex))) from None


def sign(manifest_bytes: bytes, private_key) -> bytes:
    """manifest.sig's content for ``manifest_bytes`` (an Ed25519PrivateKey of ``cryptography``)."""
    return private_key.sign(manifest_bytes).hex().encode("ascii") + b"\n"


def _id_digest(ids) -> int:
    """An order-free digest of a set of rating ids (the CSV is in time order, the JSON Lines by kiosk)."""
    total = 0
    for rid in ids:
        total = (total + int.from_bytes(hashlib.sha256(rid.encode("utf-8")).digest()[:16], "big")) % (1 << 128)
    return total


class _Tally:
    """The figures of the ratings, overall and per officer, recomputed with sync.protocol's rules."""

    def __init__(self, surveys: dict):
        self.surveys = surveys
        self.sat_levels: dict[str, frozenset] = {}
        self.all = [0, 0, 0]
        self.officers: dict[str, list[int]] = {}

    def add(self, rec: dict) -> None:
        sid = protocol.survey_of(rec)
        levels = self.sat_levels.get(sid)
        if levels is None:
            doc = protocol.find_survey(sid, self.surveys)
            levels = self.sat_levels[sid] = protocol.satisfied_levels(doc) if doc else frozenset()
        ok = counted(rec)
        bad = 0 if ok else 1
        good = 1 if ok and rec.get("level") in levels else 0
        for t in (self.all, self.officers.setdefault(rec.get("officer_id"), [0, 0, 0])):
            t[0] += 1
            t[1] += bad
            t[2] += good

    def figures(self, officer: str | None = None) -> dict:
        t = self.all if officer is None else self.officers.get(officer, [0, 0, 0])
        return figures_of(*t)


def _figure_words() -> dict[str, str]:
    """The figures' names in a message, figures.json's keys → words."""
    return {"total": _("tổng số lượt"), "misuse": _("số lượt nghi lạm dụng"), "valid": _("số lượt hợp lệ"),
            "satisfied": _("số lượt hài lòng"), "rate": _("tỷ lệ hài lòng")}


def _word_rate(value: float | None) -> str:
    """A rate as the Word report prints it: "75,0"; none: "–"."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _report_text(zf: zipfile.ZipFile) -> tuple[list[str], list[list[list[str]]]]:
    """(paragraphs outside tables, tables as rows of cell texts) of report.docx's word/document.xml."""
    data = b"".join(_read_member(zf, REPORT))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as docx:
            root = ElementTree.fromstring(docx.read("word/document.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, zlib.error):
        raise PackProblem(_("{member}: không đọc được văn bản Word", member=REPORT)) from None

    def text(el) -> str:
        return "".join(t.text or "" for t in el.iter(_W + "t"))

    body = root.find(_W + "body")
    paras, tables = [], []
    for el in (body if body is not None else []):
        if el.tag == _W + "p":
            paras.append(text(el))
        elif el.tag == _W + "tbl":
            tables.append([[text(tc) for tc in tr.findall(_W + "tc")] for tr in el.findall(_W + "tr")])
    return paras, tables


def _check_report(zf: zipfile.ZipFile, overall: dict, officers: list[dict], key_hex: str) -> None:
    """The numbers printed in report.docx are those of figures.json (already checked against the ratings)."""
    paras, tables = _report_text(zf)
    whole = "\n".join(paras)

    def say(what: str, printed, expected) -> None:
        if str(printed) != str(expected):
            raise PackProblem(_("{member}: {what} in báo cáo là {printed}, các đánh giá trong hồ sơ cho {expected}",
                                member=REPORT, what=what, printed=printed, expected=expected))

    found = {
        "total": re.search(r"Tổng số lượt đánh giá ghi nhận[^:]*: (\d+);", whole),
        "misuse": re.search(r"trong đó (\d+) lượt bị đánh dấu", whole),
        "valid": re.search(r"số lượt đánh giá hợp lệ: (\d+)\.", whole),
        "satisfied": re.search(r"Số lượt hài lòng[^:]*: (\d+)\.", whole),
        "rate": re.search(r"Tỷ lệ hài lòng (?:chung|của [^:]*): ([0-9]+,[0-9]|–)%", whole),
    }
    words = _figure_words()
    for k, m in found.items():
        if m is None:
            raise PackProblem(_("{member}: không thấy {what} trong báo cáo", member=REPORT, what=words[k]))
        say(words[k], m[1], _word_rate(overall[k]) if k == "rate" else overall[k])
    table = next((t for t in tables if t and len(t[0]) >= 7 and t[0][1] == "Cán bộ, công chức"), None)
    if officers and table is None:
        raise PackProblem(_("{member}: không thấy bảng kết quả theo cán bộ", member=REPORT))
    rows = {r[1]: r for r in (table or [])[1:] if len(r) >= 7}
    for o in officers:
        name = o.get("name") or o.get("id") or ""
        row = rows.get(name)
        if row is None:
            raise PackProblem(_("{member}: cán bộ {officer} không có trong bảng kết quả theo cán bộ",
                                member=REPORT, officer=name))
        say(_("số lượt hợp lệ của {officer}", officer=name), row[2], o["valid"])
        say(_("số lượt hài lòng của {officer}", officer=name), row[3], o["satisfied"])
        say(_("tỷ lệ hài lòng của {officer}", officer=name), row[6], _word_rate(o["rate"]))
    printed = re.findall(r"(?:[0-9a-f]{4} ){15}[0-9a-f]{4}", whole)
    for text in printed:
        if normal_key(text) != key_hex:
            raise PackProblem(_("{member}: khóa công khai in trong báo cáo ({printed}) không phải khóa của hồ sơ",
                                member=REPORT, printed=text))


def _gap_alerts(alerts: list) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for a in alerts:
        if isinstance(a, dict) and a.get("kind") == "gap" and a.get("seq_from") and a.get("seq_to"):
            out.setdefault(a.get("kiosk_id"), []).append((int(a["seq_from"]), int(a["seq_to"])))
    return out


def _chain_alerts(alerts: list) -> set[tuple[str, int]]:
    return {(a.get("kiosk_id"), int(a["seq_from"])) for a in alerts
            if isinstance(a, dict) and a.get("kind") == "chain" and a.get("seq_from")}


def verify(path: str | Path, key: str | None = None) -> Summary:
    """Check the pack at ``path`` (``key``: the pinned public key, hex); raise PackProblem at the first problem."""
    path = Path(path)
    if key is not None and normal_key(key) is None:
        raise PackProblem(_("--key: phải gồm 64 chữ số thập lục phân (0-9, a-f), có thể cách nhau bằng dấu cách"))
    pinned = normal_key(key) if key is not None else None
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise PackProblem(_("{path}: không có tệp này", path=path)) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackProblem(_("{path}: không phải hồ sơ kiểm chứng (không đọc được tệp zip: {why})",
                            path=path, why=exc)) from None
    with zf:
        return _verify(zf, pinned)


def _verify(zf: zipfile.ZipFile, pinned: str | None) -> Summary:
    names = zf.namelist()
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PackProblem(_("{member}: có hai lần trong hồ sơ", member=name))
        seen.add(name)
    for name in (MANIFEST, SIGNATURE):
        if name not in seen:
            raise PackProblem(_("{member}: thiếu trong hồ sơ", member=name))
    manifest_bytes = b"".join(_read_member(zf, MANIFEST))
    sig = b"".join(_read_member(zf, SIGNATURE))
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackProblem(_("{member}: không phải manifest của hồ sơ kiểm chứng hailong", member=MANIFEST))
    if manifest.get("version") != VERSION:
        raise PackProblem(_("{member}: phiên bản {version} của định dạng hồ sơ không được hỗ trợ (chỉ {supported})",
                            member=MANIFEST, version=manifest.get("version"), supported=VERSION))
    own = normal_key(str(manifest.get("public_key") or ""))
    if own is None:
        raise PackProblem(_("{member}: không có khóa công khai hợp lệ", member=MANIFEST))
    if pinned is not None and own != pinned:
        raise PackProblem(_("{member}: hồ sơ được ký bằng khóa {key}, không phải khóa đã chỉ định {pinned}",
                            member=SIGNATURE, key=key_text(own), pinned=key_text(pinned)))
    _check_signature(manifest_bytes, sig, own)

    # the members: listed = present, each with its hash and size
    listed = manifest.get("members")
    if not isinstance(listed, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str)
                                               for m in listed):
        raise PackProblem(_("{member}: danh sách thành phần không hợp lệ", member=MANIFEST))
    by_name = {m["name"]: m for m in listed}
    for name in MEMBERS:
        if name not in by_name:
            raise PackProblem(_("{member}: không có trong danh sách của manifest.json", member=name))
    for m in listed:
        if m["name"] not in seen:
            raise PackProblem(_("{member}: thiếu trong hồ sơ (manifest.json liệt kê nó)", member=m["name"]))
    for name in names:
        if name not in by_name and name not in (MANIFEST, SIGNATURE):
            raise PackProblem(_("{member}: thừa, không có trong danh sách của manifest.json", member=name))
    for m in listed:
        digest, size = hashlib.sha256(), 0
        for chunk in _read_member(zf, m["name"]):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != m.get("sha256"):
            raise PackProblem(_("{member}: SHA-256 không khớp với manifest.json (nội dung đã bị thay đổi)",
                                member=m["name"]))
        if size != m.get("size"):
            raise PackProblem(_("{member}: kích thước {size} byte, manifest.json ghi {stated}",
                                member=m["name"], size=size, stated=m.get("size")))
    if LOG_CHECKPOINT in by_name:
        _check_log_checkpoint(zf)
    if normal_key(zf.read(PUBLIC_KEY).decode("ascii", "replace")) != own:
        raise PackProblem(_("{member}: không phải khóa ghi trong manifest.json", member=PUBLIC_KEY))

    # what the ratings are checked against
    surveys = (_member_json(zf, SURVEYS) or {}).get("surveys") or {}
    alerts = (_member_json(zf, ALERTS) or {}).get("alerts") or []
    chains = {k.get("kiosk_id"): k for k in (_member_json(zf, CHAINS) or {}).get("kiosks") or []
              if isinstance(k, dict)}
    figures = _member_json(zf, FIGURES) or {}
    gaps, breaks = _gap_alerts(alerts), _chain_alerts(alerts)
    known: list[str] = []
    tally = _Tally(surveys)
    done: set[str] = set()
    counts: dict[str, int] = {}
    kiosk = last_seq = last_hash = None
    ids = []
    digest = 0

    def close(k: str) -> None:
        stated = chains.get(k) or {}
        if stated.get("head_seq") != last_seq or stated.get("head_hash") != last_hash:
            raise PackProblem(_("{member}: ki-ốt {kiosk}: đánh giá cuối trong hồ sơ là số {seq}, "
                                "chains.json ghi đầu chuỗi là số {head}",
                                member=RATINGS_JSONL, kiosk=k, seq=last_seq, head=stated.get("head_seq")))
        if stated.get("ratings") != counts[k]:
            raise PackProblem(_("{member}: ki-ốt {kiosk}: {n} đánh giá, chains.json ghi {stated}",
                                member=RATINGS_JSONL, kiosk=k, n=counts[k], stated=stated.get("ratings")))

    for number, line in enumerate(_lines(zf, RATINGS_JSONL), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not an object")
            bare = {k: v for k, v in rec.items() if k not in ("received_at", "server_flags")}
            protocol.check_record(bare, surveys)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise PackProblem(_("{member} dòng {line}: không phải một đánh giá hợp lệ ({why})",
                                member=RATINGS_JSONL, line=number, why=exc)) from None
        k, seq = rec["kiosk_id"], rec["seq"]
        if protocol.record_hash(rec["prev_hash"], rec) != rec["hash"]:
            raise PackProblem(_("{member}: ki-ốt {kiosk} số {seq}: mã băm không khớp với nội dung đánh giá",
                                member=RATINGS_JSONL, kiosk=k, seq=seq))
        if k != kiosk:
            if kiosk is not None:
                close(kiosk)
                done.add(kiosk)
            if k in done:
                raise PackProblem(_("{member} dòng {line}: các đánh giá của ki-ốt {kiosk} không liền nhau",
                                    member=RATINGS_JSONL, line=number, kiosk=k))
            stated = chains.get(k)
            if stated is None:
                raise PackProblem(_("{member}: ki-ốt {kiosk} không có trong chains.json",
                                    member=RATINGS_JSONL, kiosk=k))
            if seq != stated.get("first_seq") or rec["prev_hash"] != stated.get("first_prev_hash"):
                raise PackProblem(_("{member}: ki-ốt {kiosk} số {seq}: chuỗi không bắt đầu ở chỗ chains.json ghi "
                                    "(số {first})", member=RATINGS_JSONL, kiosk=k, seq=seq,
                                    first=stated.get("first_seq")))
            kiosk, counts[k] = k, 0
        elif seq <= last_seq:
            raise PackProblem(_("{member}: ki-ốt {kiosk} số {seq}: sai thứ tự hoặc lặp lại (sau số {before})",
                                member=RATINGS_JSONL, kiosk=k, seq=seq, before=last_seq))
        elif seq > last_seq + 1:
            a, b = last_seq + 1, seq - 1
            outside = any(g.get("seq_from") == a and g.get("seq_to") == b and g.get("why") == OUTSIDE_PERIOD
                          for g in (chains[k].get("gaps") or []) if isinstance(g, dict))
            alerted = any(lo <= a and b <= hi for lo, hi in gaps.get(k, ()))
            if not (outside or alerted):
                raise PackProblem(_("{member}: ki-ốt {kiosk}: thiếu số {a}–{b} (trước số {seq}) và không có cảnh báo "
                                    "nào của máy chủ về chỗ hở này", member=RATINGS_JSONL, kiosk=k, a=a, b=b, seq=seq))
            known.append(_("ki-ốt {kiosk}: số {a}–{b} ngoài kỳ báo cáo", kiosk=k, a=a, b=b) if outside else
                         _("ki-ốt {kiosk}: thiếu số {a}–{b}, máy chủ đã cảnh báo", kiosk=k, a=a, b=b))
        elif rec["prev_hash"] != last_hash:
            if (k, seq) not in breaks:
                raise PackProblem(_("{member}: ki-ốt {kiosk} số {seq}: prev_hash không nối với mã băm của số {before}",
                                    member=RATINGS_JSONL, kiosk=k, seq=seq, before=last_seq))
            known.append(_("ki-ốt {kiosk}: chuỗi đứt ở số {seq}, máy chủ đã cảnh báo", kiosk=k, seq=seq))
        last_seq, last_hash = seq, rec["hash"]
        counts[k] += 1
        tally.add(rec)
        ids.append(rec["id"])
        if len(ids) >= 10000:
            digest, ids = (digest + _id_digest(ids)) % (1 << 128), []
    if kiosk is not None:
        close(kiosk)
    for k, stated in chains.items():
        if stated.get("ratings") and k not in counts:
            raise PackProblem(_("{member}: ki-ốt {kiosk}: chains.json ghi {n} đánh giá, hồ sơ không có đánh giá nào",
                                member=RATINGS_JSONL, kiosk=k, n=stated.get("ratings")))
    digest = (digest + _id_digest(ids)) % (1 << 128)
    total = tally.all[0]
    if manifest.get("ratings") != total:
        raise PackProblem(_("{member}: ghi {stated} đánh giá, {ratings} có {n}", member=MANIFEST,
                            stated=manifest.get("ratings"), ratings=RATINGS_JSONL, n=total))

    _check_csv(zf, total, digest)

    # the figures: figures.json, then the report, against the ratings
    overall = figures.get("overall") if isinstance(figures, dict) else None
    officers = figures.get("officers") if isinstance(figures, dict) else None
    if not isinstance(overall, dict) or not isinstance(officers, list):
        raise PackProblem(_("{member}: thiếu số liệu chung hoặc theo cán bộ", member=FIGURES))
    _compare(_("số liệu chung"), overall, tally.figures())
    stated_ids = set()
    for o in officers:
        oid = o.get("id") if isinstance(o, dict) else None
        stated_ids.add(oid)
        _compare(_("cán bộ {officer}", officer=oid), o, tally.figures(oid))
    for oid in tally.officers:
        if oid not in stated_ids:
            raise PackProblem(_("{member}: cán bộ {officer} có đánh giá trong hồ sơ nhưng không có số liệu",
                                member=FIGURES, officer=oid))
    _check_report(zf, overall, officers, own)
    return Summary(period=str(manifest.get("period")), period_label=str(manifest.get("period_label") or ""),
                   ratings=total, kiosks=len(counts), key=own, pinned=pinned is not None, known_breaks=known)


def _compare(whose: str, stated: dict, computed: dict) -> None:
    words = _figure_words()
    for k, what in words.items():
        if stated.get(k) != computed[k]:
            raise PackProblem(_("{member}: {whose}: {what} ghi {stated}, các đánh giá trong hồ sơ cho {computed}",
                                member=FIGURES, whose=whose, what=what, stated=stated.get(k), computed=computed[k]))


def _check_csv(zf: zipfile.ZipFile, total: int, digest: int) -> None:
    """ratings.csv holds the ratings of ratings.jsonl: as many, the same ids."""
    chunks = _read_member(zf, RATINGS_CSV)

    class _Raw(io.RawIOBase):
        buf = b""

        def readable(self):
            return True

        def readinto(self, b):
            while not self.buf:
                nxt = next(chunks, None)
                if nxt is None:
                    return 0
                self.buf = nxt
            n = min(len(b), len(self.buf))
            b[:n], self.buf = self.buf[:n], self.buf[n:]
            return n

    text = io.TextIOWrapper(io.BufferedReader(_Raw(), _CHUNK), encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, [])
        if CSV_ID_HEADER not in header:
            raise PackProblem(_("{member}: không có cột {column}", member=RATINGS_CSV, column=CSV_ID_HEADER))
        at = header.index(CSV_ID_HEADER)
        n, found, ids = 0, 0, []
        for row in reader:
            n += 1
            ids.append(row[at] if len(row) > at else "")
            if len(ids) >= 10000:
                found, ids = (found + _id_digest(ids)) % (1 << 128), []
        found = (found + _id_digest(ids)) % (1 << 128)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PackProblem(_("{member}: không đọc được ({why})", member=RATINGS_CSV, why=exc)) from None
    if n != total:
        raise PackProblem(_("{member}: {n} đánh giá, {ratings} có {total}", member=RATINGS_CSV, n=n,
                            ratings=RATINGS_JSONL, total=total))
    if found != digest:
        raise PackProblem(_("{member}: không cùng các đánh giá với {ratings}", member=RATINGS_CSV,
                            ratings=RATINGS_JSONL))


@click.command("verify-pack", help=_("Kiểm tra một hồ sơ kiểm chứng (tệp .zip của máy chủ) mà không cần máy chủ: "
                                     "chữ ký, mã băm từng thành phần, chuỗi đánh giá của từng ki-ốt, số liệu báo cáo."))
@click.argument("pack", type=click.Path(dir_okay=False))
@click.option("--key", default=None, metavar="HEX",
              help=_("khóa công khai của máy chủ (64 chữ số thập lục phân, như in trên báo cáo); "
                     "khi có, hồ sơ ký bằng khóa khác bị từ chối"))
def verify_pack(pack, key):
    try:
        s = verify(pack, key)
    except PackProblem as exc:
        raise click.ClickException(_("Hồ sơ KHÔNG nguyên vẹn: {problem}", problem=exc)) from None
    click.echo(_("Hồ sơ nguyên vẹn: {period} ({label}), {ratings} đánh giá của {kiosks} ki-ốt.",
                 period=s.period, label=s.period_label, ratings=s.ratings, kiosks=s.kiosks))
    click.echo(_("Khóa công khai: {key}", key=key_text(s.key)))
    if s.pinned:
        click.echo(_("Chữ ký đúng với khóa đã chỉ định (--key)."))
    else:
        click.echo(_("Chỉ kiểm tra với khóa nằm trong chính hồ sơ: hãy so khóa trên với khóa in trên báo cáo "
                     "của máy chủ, hoặc chạy lại với --key."))
    for line in s.known_breaks:
        click.echo(_("Chỗ hở đã được giải thích: {what}", what=line))
