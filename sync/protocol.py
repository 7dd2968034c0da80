"""The wire contract between kiosk and town server (DESIGN.md), stdlib only.

Both ends import this module and nothing else of each other: the rating
record's fields, canonical JSON, the hash chain and its HMAC signature, the
QR receipt's payload and signature, and the paths of sync protocol v1.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import unicodedata
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

PROTOCOL_VERSION = 2
ZERO_HASH = "0" * 64

#: The body of a protocol v1 record (hailong 0.1), in DESIGN.md's order.
BODY_FIELDS_V1 = (
    "id", "kiosk_id", "seq", "created_at", "unit_code", "desk_id", "officer_id",
    "dossier_code", "procedure_code", "receipt_id", "level", "reasons",
    "comment", "source", "flags",
)
#: What protocol v2 adds: the survey the citizen answered and its other answers.
V2_FIELDS = ("survey", "answers")
#: The body of a v2 record (what a kiosk writes): what the hash covers.
BODY_FIELDS = BODY_FIELDS_V1 + V2_FIELDS
CHAIN_FIELDS = ("prev_hash", "hash", "sig")
RECORD_FIELDS = BODY_FIELDS + CHAIN_FIELDS
RECORD_FIELDS_V1 = BODY_FIELDS_V1 + CHAIN_FIELDS
#: the survey a v1 record (without survey and answers) is read as
V1_SURVEY = "hl3"

# The limits of a record, once: check_record() enforces them and
# record_json_schema() publishes them (the server's OpenAPI document).

#: who was rated and where: codes, non-empty strings of at most CODE_MAX characters
CODE_FIELDS = ("kiosk_id", "unit_code", "desk_id", "officer_id")
#: from a scanned receipt: strings or null (procedure_code is a code, 1–CODE_MAX)
OPTIONAL_CODE_FIELDS = ("dossier_code", "procedure_code", "receipt_id")
CODE_MAX = 64
#: a dossier code (mã hồ sơ) or a receipt id: at most this long
TEXT_CODE_MAX = 200
#: seq runs 1, 2, 3…; larger than 2**53 would fit neither a 64-bit column nor a JSON number read as a double
SEQ_MIN, SEQ_MAX = 1, 2**53
#: the widest scale any survey may have (levels are 1 … its scale)
LEVEL_MIN, LEVEL_MAX = 1, 10
#: lists of codes, at most LIST_MAX items each
LIST_FIELDS = ("reasons", "flags")
LIST_MAX = 20
#: a survey's questions (answers' keys)
ANSWERS_MAX = 50
SOURCES = ("walk_up", "receipt", "phone")
COMMENT_MAX = 500
#: prev_hash, hash and sig: 64 lowercase hex digits
HEX64_PATTERN = "^[0-9a-f]{64}$"
#: RFC 3339 exactly: YYYY-MM-DDTHH:MM:SS[.fraction] and ±HH:MM or Z
RFC3339_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
#: a nesting depth no well-formed batch body exceeds (body → ratings → record → answers / lists)
MAX_JSON_DEPTH = 8

PATH_BATCH = "/api/v1/ratings:batch"
PATH_CONFIG = "/api/v1/kiosks/{kiosk_id}/config"
PATH_HEARTBEAT = "/api/v1/kiosks/{kiosk_id}/heartbeat"
PATH_RATINGS = "/api/v1/ratings"

_HEX64 = re.compile(HEX64_PATTERN)
#: an id of a kiosk, unit, desk or officer: 1-64 letters, digits, '.', '_' or '-' (the server, config.toml
#: and the kiosk bundle all hold ids to this one rule)
IDENT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def nfc(value: Any) -> Any:
    """NFC-normalise every string inside ``value`` (dicts, lists, scalars)."""
    if isinstance(value, str):
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {(k if k.isascii() else nfc(k)) if isinstance(k, str) else k: nfc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nfc(v) for v in value]
    return value


def _nfc_flat(value: Any) -> Any:
    """nfc() for a record's fields: scalars and lists of strings (the hot path of seal)."""
    if isinstance(value, str):
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_nfc_flat(v) for v in value]
    return nfc(value) if isinstance(value, (dict, tuple)) else value


def canonical_json(obj: Any) -> bytes:
    """Keys sorted, separators ``,`` ``:``, UTF-8, no ASCII escaping, NFC."""
    return _dumps(nfc(obj))


def _dumps(normalised: Any) -> bytes:
    """canonical_json of a value whose strings are already NFC."""
    return json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def body_fields(record: dict) -> tuple[str, ...]:
    """The fields a record's hash covers: v2's when it carries survey or answers, else v1's."""
    return BODY_FIELDS if ("survey" in record or "answers" in record) else BODY_FIELDS_V1


def body_of(record: dict) -> dict:
    """The hashed part of a record: every body field it carries, nulls included."""
    return {k: record.get(k) for k in body_fields(record)}


def is_v1(record: dict) -> bool:
    return "survey" not in record and "answers" not in record


def record_hash(prev_hash: str, record: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body_of(record))).hexdigest()


def record_sig(kiosk_key_hex: str, hash_hex: str) -> str:
    return hmac.new(bytes.fromhex(kiosk_key_hex), hash_hex.encode("ascii"), hashlib.sha256).hexdigest()


def seal(record: dict, prev_hash: str, kiosk_key_hex: str) -> dict:
    """Return a copy of ``record`` (normalised) with prev_hash, hash and sig set."""
    sealed = {k: _nfc_flat(record.get(k)) for k in body_fields(record)}
    body = _dumps(sealed)
    sealed["prev_hash"] = prev_hash
    sealed["hash"] = hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()
    sealed["sig"] = record_sig(kiosk_key_hex, sealed["hash"])
    return sealed


class RecordError(ValueError):
    """A record that does not match the contract; the message names the field."""


_RFC3339 = re.compile(RFC3339_PATTERN)
#: C0 and C1 control characters and DEL
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: the same, a line feed allowed (a comment)
_CONTROL_BUT_LF = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_problem(value: str, code: bool) -> str | None:
    """What is wrong with a string of a record (None when nothing): NFC, controls, format characters."""
    if value.isascii():
        if (_CONTROL if code else _CONTROL_BUT_LF).search(value):
            return "holds a control character"
        return None
    if unicodedata.normalize("NFC", value) != value:
        return "not in Unicode NFC form"
    if (_CONTROL if code else _CONTROL_BUT_LF).search(value):
        return "holds a control character"
    if code and any(unicodedata.category(c) in ("Cf", "Cs") for c in value):
        return "holds a format (e.g. bidirectional override) or surrogate character"
    if not code and any(unicodedata.category(c) == "Cs" for c in value):
        return "holds a lone surrogate"
    return None


#: the common case of a code, in one C call: printable ASCII, 1–CODE_MAX characters
_ASCII_CODE = re.compile("[\x20-\x7e]{1,%d}" % CODE_MAX)
_UUID = re.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_code(value: Any, key: str, nullable: bool = False, max_len: int = CODE_MAX) -> None:
    """A code (ids, unit, reason, procedure…): 1–max_len characters, NFC, no control or format character."""
    if value is None and nullable:
        return
    if type(value) is str and _ASCII_CODE.fullmatch(value):
        return
    if not isinstance(value, str) or not value:
        raise RecordError(f"{key}: must be a non-empty string")
    if len(value) > max_len:
        raise RecordError(f"{key}: longer than {max_len} characters")
    why = _text_problem(value, code=True)
    if why:
        raise RecordError(f"{key}: {why}")


def check_time(value: Any, key: str) -> datetime:
    """RFC 3339 exactly (DESIGN.md): ``YYYY-MM-DDTHH:MM:SS[.fraction]`` and ``±HH:MM`` or ``Z``."""
    if not isinstance(value, str):
        raise RecordError(f"{key}: must be an RFC 3339 string")
    if not _RFC3339.match(value):
        raise RecordError(f"{key}: not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fraction] and ±HH:MM or Z)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{key}: not a valid date and time") from None
    return parsed   # the pattern's ±HH:MM: fromisoformat refuses an offset of 24 h or more


_V2_KEYS = frozenset(RECORD_FIELDS)
_V1_KEYS = frozenset(RECORD_FIELDS_V1)
_OPTIONAL_CODES = (("procedure_code", CODE_MAX), ("dossier_code", TEXT_CODE_MAX), ("receipt_id", TEXT_CODE_MAX))


def check_record(rec: Any, surveys: dict | None = None) -> None:
    """Check one record as sent on the wire (not its signature): DESIGN.md's "What a valid record is".

    ``surveys``: id → survey document the caller knows besides the built-in
    ones (the server's, or those the server sent the kiosk). A v1 record
    (without survey and answers) is read as survey hl3. The limits are this
    module's constants; record_json_schema() says the same in JSON Schema.
    """
    if not isinstance(rec, dict):
        raise RecordError("record: must be a JSON object")
    keys = rec.keys()
    if keys != _V2_KEYS and keys != _V1_KEYS:   # the common shapes in one comparison each
        fields = RECORD_FIELDS if ("survey" in rec or "answers" in rec) else RECORD_FIELDS_V1
        missing = [k for k in fields if k not in rec]
        if missing:
            raise RecordError(f"{missing[0]}: missing")
        extra = sorted(set(rec) - set(fields) - {"received_at"})
        if extra:
            raise RecordError(f"{extra[0]}: unknown field")
    rid = rec["id"]
    if type(rid) is not str or not _UUID.fullmatch(rid):
        raise RecordError("id: must be a UUID string (8-4-4-4-12 hexadecimal digits)")
    fast = _ASCII_CODE.fullmatch
    for key in CODE_FIELDS:
        value = rec[key]
        if type(value) is not str or not fast(value):
            check_code(value, key)
    for key, max_len in _OPTIONAL_CODES:
        value = rec[key]
        if value is not None and (type(value) is not str or not fast(value)):
            check_code(value, key, max_len=max_len)
    seq = rec["seq"]
    if not _is_int(seq) or seq < SEQ_MIN:
        raise RecordError(f"seq: must be an integer >= {SEQ_MIN}")
    if seq > SEQ_MAX:
        raise RecordError(f"seq: larger than {SEQ_MAX}")
    check_time(rec["created_at"], "created_at")
    sid = rec.get("survey", V1_SURVEY)
    check_code(sid, "survey")
    sv = find_survey(sid, surveys)
    if sv is None:
        raise RecordError(f"survey: unknown survey {sid!r}")
    level = rec["level"]
    if not _is_int(level) or not 1 <= level <= sv["scale"]:
        raise RecordError(f"level: must be an integer from 1 to {sv['scale']} (survey {sid})")
    for key in LIST_FIELDS:
        items = rec[key]
        if not isinstance(items, list):
            raise RecordError(f"{key}: must be a list of strings")
        if len(items) > LIST_MAX:
            raise RecordError(f"{key}: too many items")
        for item in items:
            check_code(item, key)
    allowed = survey_reason_codes(sv)
    for code in rec["reasons"]:
        if code not in allowed:
            raise RecordError(f"reasons: {code!r} is not a reason of survey {sid}")
    answers = rec.get("answers", {})
    if not isinstance(answers, dict):
        raise RecordError("answers: must be an object")
    if len(answers) > ANSWERS_MAX:
        raise RecordError("answers: too many answers")
    if answers:
        questions = {q["code"]: q for q in sv.get("questions") or () if isinstance(q, dict)}
        for code, value in answers.items():
            check_code(code, "answers")
            q = questions.get(code)
            if q is None:
                raise RecordError(f"answers: {code!r} is not a question of survey {sid}")
            if value is not None and (not _is_int(value) or not 1 <= value <= int(q.get("scale", 0))):
                raise RecordError(f"answers: {code} must be null or an integer from 1 to {q.get('scale')}")
    comment = rec["comment"]
    if comment is not None:
        if not isinstance(comment, str):
            raise RecordError("comment: must be a string or null")
        if len(comment) > COMMENT_MAX:
            raise RecordError(f"comment: longer than {COMMENT_MAX} characters")
        why = _text_problem(comment, code=False)
        if why:
            raise RecordError(f"comment: {why}")
    if rec["source"] not in SOURCES:
        raise RecordError(f"source: must be one of {', '.join(SOURCES)}")
    for key in CHAIN_FIELDS:
        if not isinstance(rec[key], str) or not _HEX64.match(rec[key]):
            raise RecordError(f"{key}: must be 64 lowercase hex digits")


def record_json_schema() -> dict:
    """The JSON Schema of one record on the wire, from the limits check_record() enforces.

    A fresh dict each call (callers may embed it). What JSON Schema cannot
    say is left to check_record: created_at's calendar, NFC, control and
    format characters, the level and answers on the survey's own scale,
    survey and answers coming together (v2) or not at all (v1),
    ``received_at`` (tolerated, not published).
    """
    code = {"type": "string", "minLength": 1, "maxLength": CODE_MAX}
    text_code = {"type": "string", "minLength": 1, "maxLength": TEXT_CODE_MAX}
    hex64 = {"type": "string", "pattern": HEX64_PATTERN}
    codes = {"type": "array", "items": code, "maxItems": LIST_MAX}
    types = {
        "id": {"type": "string", "format": "uuid"},
        "seq": {"type": "integer", "minimum": SEQ_MIN, "maximum": SEQ_MAX},
        "created_at": {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN},
        "level": {"type": "integer", "minimum": LEVEL_MIN, "maximum": LEVEL_MAX},
        "comment": {"anyOf": [{"type": "string", "maxLength": COMMENT_MAX}, {"type": "null"}]},
        "source": {"type": "string", "enum": list(SOURCES)},
        "survey": code,
        "answers": {"type": "object", "maxProperties": ANSWERS_MAX,
                    "additionalProperties": {"anyOf": [{"type": "integer", "minimum": LEVEL_MIN,
                                                        "maximum": LEVEL_MAX}, {"type": "null"}]}},
        **{k: code for k in CODE_FIELDS},
        "procedure_code": {"anyOf": [code, {"type": "null"}]},
        "dossier_code": {"anyOf": [text_code, {"type": "null"}]},
        "receipt_id": {"anyOf": [text_code, {"type": "null"}]},
        **{k: codes for k in LIST_FIELDS},
        **{k: hex64 for k in CHAIN_FIELDS},
    }
    assert set(types) == set(RECORD_FIELDS)
    return {
        "type": "object",
        "required": list(RECORD_FIELDS_V1),
        "additionalProperties": False,
        "properties": {k: types[k] for k in RECORD_FIELDS},
        "dependentRequired": {"survey": ["answers"], "answers": ["survey"]},
    }


_SORTED_BODY = tuple(sorted(BODY_FIELDS))
_SORTED_BODY_V1 = tuple(sorted(BODY_FIELDS_V1))


def _body_json(rec: dict) -> bytes:
    """canonical_json(body_of(rec)), without normalising when the text is ASCII.

    NFC leaves ASCII unchanged, so when the raw body's JSON is ASCII it *is*
    the canonical JSON; otherwise canonical_json does the normalising.
    """
    body = {k: rec.get(k) for k in (_SORTED_BODY if "survey" in rec or "answers" in rec else _SORTED_BODY_V1)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("ascii") if text.isascii() else canonical_json(body)


def check_seal(rec: dict, kiosk_key: str | bytes) -> str | None:
    """None when hash and signature are right, else what is wrong.

    ``kiosk_key``: the kiosk's key as hex (as the roster and the vectors
    give it) or as bytes (the server converts it once per batch).
    """
    digest = hashlib.sha256(rec["prev_hash"].encode("ascii") + _body_json(rec)).hexdigest()
    if digest != rec["hash"]:
        return "hash does not match the record's content"
    key = kiosk_key if isinstance(kiosk_key, bytes) else bytes.fromhex(kiosk_key)
    if not hmac.compare_digest(hmac.digest(key, digest.encode("ascii"), "sha256").hex(), rec["sig"]):
        return "signature does not verify with the kiosk's key"
    return None


def verify_chain(records: Iterable[dict], kiosk_key_hex: str) -> tuple[int | None, str | None]:
    """Walk records in seq order from seq 1. Returns (first bad seq, why) or (None, None)."""
    prev = ZERO_HASH
    expected_seq = 1
    for rec in records:
        seq = rec.get("seq")
        if seq != expected_seq:
            return expected_seq, f"seq {expected_seq} missing (found {seq})"
        if rec.get("prev_hash") != prev:
            return seq, "prev_hash does not link to the previous record"
        why = check_seal(rec, kiosk_key_hex)
        if why:
            return seq, why
        prev = rec["hash"]
        expected_seq += 1
    return None, None


# --- The kiosk's clock ------------------------------------------------------

@functools.lru_cache(maxsize=8)
def tz_from_offset(utc_offset: str) -> timezone:
    """``"+07:00"`` → a fixed-offset timezone (Asia/Ho_Chi_Minh has no DST)."""
    sign = 1 if utc_offset[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(utc_offset[1:3]), minutes=int(utc_offset[4:6])))


def now_at_offset(utc_offset: str = "+07:00") -> datetime:
    """The clock at ``utc_offset``, to the second: what created_at and sent_at carry."""
    return datetime.now(tz_from_offset(utc_offset)).replace(microsecond=0)


# --- Device states in the heartbeat ---------------------------------------

#: The codes a heartbeat's ``printer`` and ``scanner`` fields carry (what
#: kiosk.devices' state() answers; anything else is shown as sent), with the
#: short words an admin reads on the town server's kiosk page (Vietnamese,
#: English). The kiosk's own texts for these states, with what to do at the
#: desk, are kiosk.devices' (printer.MESSAGES, printer.GLANCE, scanner.GLANCE).
DEVICE_STATES: dict[str, tuple[str, str]] = {
    "ok": ("Sẵn sàng", "Ready"),
    "paper_low": ("Sắp hết giấy", "Paper low"),
    "paper_out": ("Hết giấy", "Out of paper"),
    "offline": ("Mất kết nối", "Offline"),
    "timeout": ("Không phản hồi", "Not answering"),
    "absent": ("Không thấy thiết bị", "Device not found"),
    "error": ("Lỗi", "Error"),
    "not_configured": ("Chưa cấu hình", "Not configured"),
    "printing": ("Đang in", "Printing"),
    "unknown": ("Chưa rõ", "Unknown"),
}


# --- QR receipt -----------------------------------------------------------

RECEIPT_PREFIX = "HL1."


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def receipt_fields(unit: str, desk: str, officer: str, dossier: str,
                   procedure: str | None, issued: int) -> dict:
    return {"v": 1, "u": unit, "d": desk, "o": officer, "h": dossier, "p": procedure, "t": int(issued)}


def receipt_sig(receipt_key_hex: str, payload: str) -> str:
    mac = hmac.new(bytes.fromhex(receipt_key_hex), payload.encode("ascii"), hashlib.sha256).digest()
    return b64url(mac[:16])


def receipt_id(payload: str) -> str:
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:16]


def make_receipt_token(fields: dict, receipt_key_hex: str, base_url: str | None = None) -> str:
    """The QR text: ``HL1.<payload>.<sig>`` or ``<base>/r/<payload>.<sig>``."""
    payload = b64url(canonical_json(fields))
    sig = receipt_sig(receipt_key_hex, payload)
    if base_url:
        return f"{base_url.rstrip('/')}/r/{payload}.{sig}"
    return f"{RECEIPT_PREFIX}{payload}.{sig}"


class ReceiptError(ValueError):
    """Why a scanned receipt is refused. ``kind``: malformed, forged, expired, other_unit."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


#: A scanned receipt's limits: what kiosk/receipts.py issues, and a little room.
RECEIPT_TOKEN_MAX = 1024            # the whole scanned text (with a public base URL)
RECEIPT_PAYLOAD_MAX = 700           # base64url of ~520 bytes: every field at its longest
RECEIPT_CODE_MAX = 64               # u, d, o, p; and h, the dossier code (mã hồ sơ)
RECEIPT_REQUIRED = frozenset({"v", "u", "d", "o", "h", "t"})
RECEIPT_OPTIONAL = frozenset({"p", "a"})
_RECEIPT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _receipt_text(fields: dict, key: str, nullable: bool = False) -> None:
    """A receipt's string field: NFC, 1–RECEIPT_CODE_MAX characters, no control or format character."""
    value = fields.get(key)
    if value is None and nullable:
        return
    if not isinstance(value, str) or not value:
        raise ReceiptError("malformed", f"receipt field {key} missing or not a string")
    if len(value) > RECEIPT_CODE_MAX:
        raise ReceiptError("malformed", f"receipt field {key} longer than {RECEIPT_CODE_MAX} characters")
    if not unicodedata.is_normalized("NFC", value):
        raise ReceiptError("malformed", f"receipt field {key} is not NFC")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in value):
        raise ReceiptError("malformed", f"receipt field {key} holds a control or format character")


def check_receipt_fields(fields: Any) -> None:
    """Refuse what the issuer would never sign (DESIGN.md, QR receipt: the same rules as a record)."""
    if not isinstance(fields, dict) or fields.get("v") != 1 or isinstance(fields.get("v"), bool):
        raise ReceiptError("malformed", "unknown receipt version")
    missing = RECEIPT_REQUIRED - fields.keys()
    if missing:
        raise ReceiptError("malformed", f"receipt field {sorted(missing)[0]} missing")
    unknown = fields.keys() - RECEIPT_REQUIRED - RECEIPT_OPTIONAL
    if unknown:
        raise ReceiptError("malformed", "receipt has unknown fields")
    for key in ("u", "d", "o", "h"):
        _receipt_text(fields, key)
    _receipt_text(fields, "p", nullable=True)
    t = fields.get("t")
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < 2**40:
        raise ReceiptError("malformed", "receipt field t is not a time")
    if "a" in fields and fields["a"] is not None:
        a = fields["a"]
        try:
            if not isinstance(a, str) or not _RECEIPT_DATE.fullmatch(a):
                raise ValueError
            datetime.strptime(a, "%Y-%m-%d")
        except ValueError:
            raise ReceiptError("malformed", "receipt field a is not a date (YYYY-MM-DD)") from None


def parse_receipt_token(text: str, receipt_key_hex: str) -> tuple[dict, str]:
    """Verify a scanned token's signature and its fields; return (fields, receipt_id).

    As strict as the issuer: a token longer than RECEIPT_TOKEN_MAX, unknown
    fields, a field of the wrong type, too long or holding control characters
    are refused (ReceiptError "malformed") even when signed with the right key;
    nothing else (no RecursionError) escapes. Expiry and unit are policy,
    checked by the caller (the kiosk knows its unit and the configured validity).
    """
    if not isinstance(text, str):
        raise ReceiptError("malformed", "not a hailong receipt")
    if len(text) > RECEIPT_TOKEN_MAX * 4:             # before any work on it
        raise ReceiptError("malformed", "receipt code is too long")
    text = nfc(text.strip())
    if len(text) > RECEIPT_TOKEN_MAX:
        raise ReceiptError("malformed", "receipt code is too long")
    if text.startswith(RECEIPT_PREFIX):
        rest = text[len(RECEIPT_PREFIX):]
    elif "/r/" in text:
        rest = text.rsplit("/r/", 1)[1]
    else:
        raise ReceiptError("malformed", "not a hailong receipt")
    parts = rest.split(".")
    if len(parts) != 2 or not all(parts):
        raise ReceiptError("malformed", "receipt code is incomplete")
    payload, sig = parts
    if not re.fullmatch(r"[A-Za-z0-9_-]+", payload) or not re.fullmatch(r"[A-Za-z0-9_-]+", sig):
        raise ReceiptError("malformed", "receipt code has invalid characters")
    if len(payload) > RECEIPT_PAYLOAD_MAX:
        raise ReceiptError("malformed", "receipt code is too long")
    if not hmac.compare_digest(receipt_sig(receipt_key_hex, payload), sig):
        raise ReceiptError("forged", "receipt signature does not verify")
    try:
        fields = json.loads(b64url_decode(payload).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ReceiptError("malformed", "receipt payload is not JSON") from None
    check_receipt_fields(fields)
    return fields, receipt_id(payload)


# --- Surveys, scales and reasons (shared so both ends compute the same rate) --

#: level -> (Vietnamese label, English label, satisfied?). Highest level first.
SCALES: dict[int, list[tuple[int, str, str, bool]]] = {
    3: [
        (3, "Rất hài lòng", "Very satisfied", True),
        (2, "Hài lòng", "Satisfied", True),
        (1, "Không hài lòng", "Not satisfied", False),
    ],
    4: [
        (4, "Rất hài lòng", "Very satisfied", True),
        (3, "Hài lòng", "Satisfied", True),
        (2, "Chưa hài lòng", "Not quite satisfied", False),
        (1, "Không hài lòng", "Not satisfied", False),
    ],
    5: [
        (5, "Rất hài lòng", "Very satisfied", True),
        (4, "Hài lòng", "Satisfied", True),
        (3, "Bình thường", "Neutral", False),
        (2, "Không hài lòng", "Not satisfied", False),
        (1, "Rất không hài lòng", "Very dissatisfied", False),
    ],
}

#: code -> (Vietnamese label, English label): the officer-related survey questions.
DEFAULT_REASONS: dict[str, tuple[str, str]] = {
    "thai_do": ("Thái độ", "Attitude"),
    "huong_dan": ("Hướng dẫn", "Guidance"),
    "dung_hen": ("Đúng hẹn", "On time"),
    "so_lan_di_lai": ("Số lần đi lại", "Trips needed"),
    "nhung_nhieu": ("Nhũng nhiễu", "Harassment"),
}

#: Flags that make a rating "misuse": shown, but not counted in the rate.
MISUSE_FLAGS = frozenset({"rapid_repeat"})
#: What the server finds beside the signed flags (its ``server_flags``) that keeps a rating out of the rate.
UNCOUNTED_SERVER_FLAGS = frozenset({"duplicate_receipt"})


def _builtin_survey(scale: int, title_vi: str, title_en: str) -> dict:
    return {
        "id": f"hl{scale}",
        "title": {"vi": title_vi, "en": title_en},
        "by": "hailong",
        "scale": scale,
        "labels": {str(lv): {"vi": vi, "en": en} for lv, vi, en, _sat in SCALES[scale]},
        "satisfied": [lv for lv, _vi, _en, sat in SCALES[scale] if sat],
        "reasons": [{"code": code, "vi": vi, "en": en} for code, (vi, en) in DEFAULT_REASONS.items()],
        "questions": [],
    }


#: The built-in surveys (DESIGN.md "Surveys, scales and satisfaction rate"), the same on both ends.
BUILTIN_SURVEYS: dict[str, dict] = {
    "hl3": _builtin_survey(3, "Mức độ hài lòng (3 mức)", "Satisfaction (3 levels)"),
    "hl4": _builtin_survey(4, "Mức độ hài lòng (4 mức)", "Satisfaction (4 levels)"),
    "hl5": _builtin_survey(5, "Mức độ hài lòng (5 mức)", "Satisfaction (5 levels)"),
}
_BUILTIN_REASON_CODES = frozenset(DEFAULT_REASONS)
#: the survey a town without a setting asks
DEFAULT_SURVEY_ID = "hl3"


def survey_for_scale(scale: int) -> str:
    """The built-in survey of a 3, 4 or 5-level scale (config.toml's ``scale``)."""
    sid = f"hl{int(scale)}"
    if sid not in BUILTIN_SURVEYS:
        raise ValueError(f"scale: must be one of 3, 4, 5 (got {scale!r})")
    return sid


def find_survey(survey_id: Any, surveys: dict | None = None) -> dict | None:
    """The survey document of ``survey_id``: a built-in one, or one of ``surveys`` (id → document)."""
    if not isinstance(survey_id, str):
        return None
    found = BUILTIN_SURVEYS.get(survey_id)
    if found is None and surveys:
        found = surveys.get(survey_id)
    return found if isinstance(found, dict) and _is_int(found.get("scale")) else None


def survey_of(record: dict) -> str:
    """The id of the survey a record answered (a v1 record: hl3)."""
    return record.get("survey") or V1_SURVEY


def survey_reason_codes(survey: dict) -> frozenset:
    """The reason codes a survey offers."""
    if survey is BUILTIN_SURVEYS.get(survey.get("id")):
        return _BUILTIN_REASON_CODES
    return frozenset(r["code"] if isinstance(r, dict) else r for r in survey.get("reasons") or ())


def satisfied_levels(survey: dict) -> frozenset:
    """The levels a survey counts as satisfied."""
    return frozenset(survey.get("satisfied") or ())


#: the limits of a survey document (DESIGN.md "Surveys"), checked by check_survey(strict=True)
SURVEY_QUESTIONS_MAX = 10
SURVEY_REASONS_MAX = 20
SURVEY_PLACES_MAX = 200
SURVEY_TEXT_MAX = 300
#: the keys a survey document may hold; ``from``/``to``/``units``/``desks`` make it a campaign
SURVEY_KEYS = ("id", "title", "by", "scale", "labels", "satisfied", "reasons", "questions",
               "from", "to", "units", "desks")
#: a survey's id and its questions' and reasons' codes: letters, digits, "-" and "_" (URLs, file names)
_SURVEY_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: the headline question's code in figures and forms: no question may take it
HEADLINE_CODE = "level"
#: the reasons check_survey(strict=True) gives (the pages word them in the admin's language)
SURVEY_WHY = {
    "missing": "missing",
    "object": "must be an object",
    "list": "must be a list",
    "text": "must be a non-empty text",
    "long": f"longer than {SURVEY_TEXT_MAX} characters",
    "control": "holds a control character",
    "code": "must be 1–64 letters, digits, '-' or '_' (starting with a letter or digit)",
    "scale": f"must be an integer from 2 to {LEVEL_MAX}",
    "level": "is not a level of the scale",
    "levels": "must be levels of the scale, each once",
    "empty": "must not be empty",
    "unknown": "unknown field",
    "duplicate": "used twice",
    "headline": f"'{HEADLINE_CODE}' is the headline's code",
    "too_many_questions": f"at most {SURVEY_QUESTIONS_MAX} questions",
    "too_many_reasons": f"at most {SURVEY_REASONS_MAX} reasons",
    "too_many_places": f"at most {SURVEY_PLACES_MAX} items",
    "date": "must be a date YYYY-MM-DD",
    "order": "the campaign ends before it starts",
    "pair": "'from' and 'to' go together (a campaign's first and last day)",
    "builtin": "a built-in survey's id",
}


def _survey_text(value: Any, path: str, out: list) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        out.append((path, "missing"))
    elif not isinstance(value, str):
        out.append((path, "text"))
    elif len(value) > SURVEY_TEXT_MAX:
        out.append((path, "long"))
    elif _text_problem(value, code=True):
        out.append((path, "control"))


def _survey_pair(value: Any, path: str, out: list) -> None:
    """A text in both languages: {"vi": …, "en": …}."""
    if value is None:
        out.append((path, "missing"))
        return
    if not isinstance(value, dict):
        out.append((path, "object"))
        return
    for lang in ("vi", "en"):
        _survey_text(value.get(lang), f"{path}.{lang}", out)
    for key in value:
        if key not in ("vi", "en"):
            out.append((f"{path}.{str(key)[:40]}", "unknown"))


def _survey_code(value: Any, path: str, out: list) -> bool:
    if value is None:
        out.append((path, "missing"))
        return False
    if not isinstance(value, str) or not _SURVEY_CODE.fullmatch(value):
        out.append((path, "code"))
        return False
    return True


def _survey_scale(part: dict, path: str, out: list) -> int | None:
    """Scale, labels for every level and the satisfied levels of the headline or of a question."""
    scale = part.get("scale")
    key = f"{path}.scale" if path else "scale"
    if scale is None:
        out.append((key, "missing"))
        return None
    if not _is_int(scale) or not 2 <= scale <= LEVEL_MAX:
        out.append((key, "scale"))
        return None
    pre = f"{path}." if path else ""
    labels = part.get("labels")
    if labels is None:
        out.append((pre + "labels", "missing"))
    elif not isinstance(labels, dict):
        out.append((pre + "labels", "object"))
    else:
        for level in range(scale, 0, -1):
            _survey_pair(labels.get(str(level)), f"{pre}labels.{level}", out)
        for k in labels:
            if not (isinstance(k, str) and k.isdigit() and k == str(int(k)) and 1 <= int(k) <= scale):
                out.append((f"{pre}labels.{str(k)[:40]}", "level"))
    sat = part.get("satisfied")
    if sat is None:
        out.append((pre + "satisfied", "missing"))
    elif not isinstance(sat, list) or not all(_is_int(x) and 1 <= x <= scale for x in sat) \
            or len(set(sat)) != len(sat):
        out.append((pre + "satisfied", "levels"))
    elif not sat:
        out.append((pre + "satisfied", "empty"))
    return scale


def _survey_day(value: Any, path: str, out: list) -> date | None:
    if not isinstance(value, str) or not _RECEIPT_DATE.fullmatch(value):
        out.append((path, "missing" if value is None else "date"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        out.append((path, "date"))
        return None


def _survey_codes_list(value: Any, path: str, out: list) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        out.append((path, "list"))
        return
    if len(value) > SURVEY_PLACES_MAX:
        out.append((path, "too_many_places"))
        return
    seen = set()
    for i, code in enumerate(value):
        try:
            check_code(code, f"{path}[{i}]")
        except RecordError:
            out.append((f"{path}[{i}]", "code"))
            continue
        if code in seen:
            out.append((f"{path}[{i}]", "duplicate"))
        seen.add(code)


def survey_problems(doc: Any) -> list[tuple[str, str]]:
    """Every problem of a survey document, strictly (DESIGN.md "Surveys"): [(field path, why key)].

    The path names the field as the JSON holds it (``questions[2].labels.3.en``);
    ``why`` is a key of :data:`SURVEY_WHY`. An empty list: the document is whole.
    Never raises, whatever ``doc`` is.
    """
    out: list[tuple[str, str]] = []
    if not isinstance(doc, dict):
        return [("survey", "object")]
    for key in doc:
        if key not in SURVEY_KEYS:
            out.append((str(key)[:40], "unknown"))
    sid = doc.get("id")
    if _survey_code(sid, "id", out) and sid in BUILTIN_SURVEYS:
        out.append(("id", "builtin"))
    _survey_pair(doc.get("title"), "title", out)
    _survey_text(doc.get("by"), "by", out)
    _survey_scale(doc, "", out)
    reasons = doc.get("reasons", [])
    if not isinstance(reasons, list):
        out.append(("reasons", "list"))
    elif len(reasons) > SURVEY_REASONS_MAX:
        out.append(("reasons", "too_many_reasons"))
    else:
        seen = set()
        for i, r in enumerate(reasons):
            path = f"reasons[{i}]"
            if not isinstance(r, dict):
                out.append((path, "object"))
                continue
            code = r.get("code")
            if _survey_code(code, f"{path}.code", out):
                if code in seen:
                    out.append((f"{path}.code", "duplicate"))
                seen.add(code)
            for lang in ("vi", "en"):
                _survey_text(r.get(lang), f"{path}.{lang}", out)
            for k in r:
                if k not in ("code", "vi", "en"):
                    out.append((f"{path}.{str(k)[:40]}", "unknown"))
    questions = doc.get("questions", [])
    if not isinstance(questions, list):
        out.append(("questions", "list"))
    elif len(questions) > SURVEY_QUESTIONS_MAX:
        out.append(("questions", "too_many_questions"))
    else:
        seen = set()
        for i, q in enumerate(questions):
            path = f"questions[{i}]"
            if not isinstance(q, dict):
                out.append((path, "object"))
                continue
            code = q.get("code")
            if _survey_code(code, f"{path}.code", out):
                if code == HEADLINE_CODE:
                    out.append((f"{path}.code", "headline"))
                elif code in seen:
                    out.append((f"{path}.code", "duplicate"))
                seen.add(code)
            _survey_pair(q.get("text"), f"{path}.text", out)
            _survey_scale(q, path, out)
            for k in q:
                if k not in ("code", "text", "scale", "labels", "satisfied"):
                    out.append((f"{path}.{str(k)[:40]}", "unknown"))
    if is_campaign(doc) or "units" in doc or "desks" in doc:
        if "from" not in doc or "to" not in doc:
            out.append(("from" if "from" not in doc else "to", "pair"))
        start = _survey_day(doc.get("from"), "from", out) if "from" in doc else None
        end = _survey_day(doc.get("to"), "to", out) if "to" in doc else None
        if start and end and end < start:
            out.append(("to", "order"))
        _survey_codes_list(doc.get("units"), "units", out)
        _survey_codes_list(doc.get("desks"), "desks", out)
    return out


def _depth_ok(value: Any, depth: int = 0) -> bool:
    if depth > 8:
        return False
    if isinstance(value, dict):
        return all(_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth_ok(v, depth + 1) for v in value)
    return True


def check_survey(doc: Any, strict: bool = False) -> dict:
    """A survey document as DESIGN.md defines it, checked; returns it NFC-normalised.

    ``strict`` (a survey an admin adds: ``hailong admin add-survey``, the
    pages): every rule of DESIGN.md "Surveys" (:func:`survey_problems`), the
    first problem raised as ``RecordError("questions[2].labels.3.en: missing")``.
    Without it, what a record check needs (id, scales, satisfied, codes): what
    kiosks and older servers hold. Nothing but RecordError escapes.
    """
    if not isinstance(doc, dict):
        raise RecordError("survey: must be a JSON object")
    if not _depth_ok(doc):
        raise RecordError("survey: nested deeper than a survey is")
    try:
        doc = nfc(doc)
    except (TypeError, ValueError, RecursionError):
        raise RecordError("survey: holds something that is not JSON text") from None
    if strict:
        problems = survey_problems(doc)
        if problems:
            path, why = problems[0]
            raise RecordError(f"{path}: {SURVEY_WHY.get(why, why)}")
        return doc
    check_code(doc.get("id"), "id")
    scale = doc.get("scale")
    if not _is_int(scale) or not 2 <= scale <= LEVEL_MAX:
        raise RecordError(f"scale: must be an integer from 2 to {LEVEL_MAX}")
    sat = doc.get("satisfied")
    if not isinstance(sat, list) or not all(_is_int(x) and 1 <= x <= scale for x in sat):
        raise RecordError("satisfied: must be a list of levels on the scale")
    reasons = doc.get("reasons", [])
    if not isinstance(reasons, list):
        raise RecordError("reasons: must be a list")
    for r in reasons:
        check_code(r.get("code") if isinstance(r, dict) else r, "reasons")
    questions = doc.get("questions", [])
    if not isinstance(questions, list):
        raise RecordError("questions: must be a list")
    for q in questions:
        if not isinstance(q, dict):
            raise RecordError("questions: each must be an object")
        check_code(q.get("code"), "questions")
        if not _is_int(q.get("scale")) or not 2 <= q["scale"] <= LEVEL_MAX:
            raise RecordError(f"questions: {q.get('code')}: scale must be an integer from 2 to {LEVEL_MAX}")
    return doc


def is_campaign(doc: dict) -> bool:
    """A campaign survey runs on set days (``from``/``to``); any other survey asks whenever it is the default."""
    return isinstance(doc, dict) and ("from" in doc or "to" in doc)


def campaign_runs(doc: dict, unit_code: str, desk_id: str, day: date) -> bool:
    """Whether campaign ``doc`` asks at this desk on this local day (DESIGN.md: empty units/desks = everywhere).

    ``from`` and ``to`` are local days, both included; a campaign without
    ``to`` runs until it is replaced. Dates that are not YYYY-MM-DD never run.
    """
    if not is_campaign(doc):
        return False
    today = day.isoformat()
    start, end = doc.get("from"), doc.get("to")
    for bound in (start, end):
        if bound is not None and not (isinstance(bound, str) and _RECEIPT_DATE.fullmatch(bound)):
            return False
    if (start and today < start) or (end and today > end):
        return False
    units, desks = doc.get("units") or [], doc.get("desks") or []
    if units and unit_code not in units:
        return False
    return not desks or desk_id in desks


def survey_to_ask(surveys, default_id: str | None, unit_code: str, desk_id: str, day: date) -> dict | None:
    """The survey a kiosk asks (DESIGN.md): the campaign running at its desk today, else the default.

    ``surveys``: the documents the server sent (a list, or id → document).
    Of several campaigns running at once, the one that started last wins
    (ties: the greater id), so a surprise survey laid over a periodic one
    is asked while it runs. None when neither a campaign nor ``default_id``
    is among them (the caller falls back to config.toml's survey).
    """
    docs = list(surveys.values()) if isinstance(surveys, dict) else list(surveys or ())
    docs = [d for d in docs if isinstance(d, dict) and isinstance(d.get("id"), str)]
    running = [d for d in docs if campaign_runs(d, unit_code, desk_id, day)]
    if running:
        return max(running, key=lambda d: (d.get("from") or "", d["id"]))
    return next((d for d in docs if d["id"] == default_id), None) or BUILTIN_SURVEYS.get(default_id or "")


def _receipt_offset(utc_offset: str | timezone | None) -> timezone:
    return utc_offset if isinstance(utc_offset, timezone) else tz_from_offset(utc_offset or "+07:00")


def valid_until(issued_at: int, validity_days: int, appointment: str | date | None = None,
                utc_offset: str | timezone | None = None) -> int:
    """The last Unix second a receipt issued at ``issued_at`` is accepted: the verifier's rule and the paper's.

    ``validity_days`` after it was issued; a receipt carrying the dossier's
    appointment date ``a`` is handed at intake and scanned when the result is
    returned, so it is also good until the end of the day ``validity_days``
    after the appointment date (at the verifier's ``utc_offset``: the kiosk's, or the phone page's +07:00), whichever is later.
    """
    last = int(issued_at) + int(validity_days) * 86400
    if isinstance(appointment, str):
        try:
            appointment = date.fromisoformat(appointment) if _RECEIPT_DATE.fullmatch(appointment) else None
        except ValueError:
            appointment = None
    if isinstance(appointment, date):
        try:
            end = datetime.combine(appointment + timedelta(days=int(validity_days) + 1), datetime.min.time(),
                                   _receipt_offset(utc_offset))
        except OverflowError:              # 9999-12-31: no issuer signs it; never past the calendar's end
            end = datetime(9999, 12, 31, tzinfo=_receipt_offset(utc_offset))
        last = max(last, int(end.timestamp()) - 1)
    return last


#: Signed flags of a rating from a receipt that carried the appointment date (``a``):
#: whether the citizen rated on or before it (the result came on time) or after it.
ON_TIME_FLAG = "on_time"
LATE_FLAG = "late"


def timeliness_flag(appointment: Any, rated_on: date) -> str | None:
    """``on_time`` when ``rated_on`` (the rating's local day) is not after the appointment date, else ``late``.

    None when the receipt carried no appointment date (or one that is not YYYY-MM-DD).
    """
    if not isinstance(appointment, str) or not _RECEIPT_DATE.fullmatch(appointment):
        return None
    return ON_TIME_FLAG if rated_on.isoformat() <= appointment else LATE_FLAG


def is_satisfied(scale: int, level: int) -> bool:
    return any(lv == level and sat for lv, _vi, _en, sat in SCALES[scale])


def satisfaction_rate(satisfied: int, valid: int) -> float | None:
    """Tỷ lệ hài lòng: satisfied ÷ valid × 100, one decimal; None with no ratings."""
    if not valid:
        return None
    return round(satisfied * 100.0 / valid, 1)


# --- Letters (the kiosk prints them; the town server writes them as Word) -----

#: letter kind -> (Vietnamese name, English name), in the order they are offered.
LETTER_KINDS: dict[str, tuple[str, str]] = {
    "cam_on": ("Thư cảm ơn", "Thank-you letter"),
    "xin_loi": ("Thư xin lỗi và hẹn lại", "Apology with a new date"),
    "chuc_mung": ("Thư chúc mừng", "Congratulation"),
    "chia_buon": ("Thư chia buồn", "Condolence"),
}
#: the kinds by role; the apology is the one that needs a new date for the result
LETTER_THANKS, LETTER_APOLOGY, LETTER_CONGRATULATION, LETTER_CONDOLENCE = LETTER_KINDS
#: other spellings still accepted: the town server's letters page has sent the
#: apology as "xin_loi_hen_lai" (its form value and file names) since 0.1
LETTER_KIND_ALIASES = {"xin_loi_hen_lai": LETTER_APOLOGY}
_LETTER_PREFIX = "Thư "


def letter_kind(name: Any) -> str | None:
    """The kind ``name`` spells (a kind or an alias of one), or None."""
    if not isinstance(name, str):
        return None
    name = LETTER_KIND_ALIASES.get(name, name)
    return name if name in LETTER_KINDS else None


def letter_label(kind: str) -> str:
    """The kind's short Vietnamese label, a button's: "Thư cảm ơn" → "Cảm ơn"."""
    short = LETTER_KINDS[kind][0].removeprefix(_LETTER_PREFIX)
    return short[:1].upper() + short[1:]


# --- Officer PINs (the server hashes, the kiosk checks offline) ------------

#: Officer PINs are this many digits by default (the roster's and the demo's).
PIN_DIGITS = 6
#: scrypt's cost for new hashes: N = 2**16, r = 8, p = 1 (64 MiB, ~0.28 s a check here;
#: all 10**6 six-digit PINs take ~1.6 days on both cores: docs/decisions.md)
PIN_SCRYPT_LOG_N, PIN_SCRYPT_R, PIN_SCRYPT_P = 16, 8, 1
#: what a roster's hash may ask of the kiosk at most (a forged roster must not hang it)
_PIN_LOG_N_MAX, _PIN_R_MAX, _PIN_P_MAX = 20, 16, 4


def _scrypt(pin: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=2**log_n, r=r, p=p, dklen=32,
                          maxmem=129 * r * (2**log_n) * p + 2**24)


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """``scrypt$ln=16,r=8,p=1$<salt hex>$<hash hex>``: what the roster carries instead of a PIN.

    (Hashes of hailong 0.1, ``scrypt$<salt hex>$<hash hex>`` with N = 2**14,
    are still checked.)
    """
    import os
    salt = salt or os.urandom(16)
    digest = _scrypt(pin, salt, PIN_SCRYPT_LOG_N, PIN_SCRYPT_R, PIN_SCRYPT_P)
    return f"scrypt$ln={PIN_SCRYPT_LOG_N},r={PIN_SCRYPT_R},p={PIN_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, pin_hash: str | None) -> bool:
    """Whether ``pin`` is the one ``pin_hash`` was made from; a malformed hash is never a match."""
    if not isinstance(pin, str) or not isinstance(pin_hash, str) or not pin_hash.startswith("scrypt$"):
        return False
    parts = pin_hash.split("$")
    try:
        if len(parts) == 3:                       # hailong 0.1
            log_n, r, p, salt_hex, digest_hex = 14, 8, 1, parts[1], parts[2]
        elif len(parts) == 4:
            params = dict(item.split("=", 1) for item in parts[1].split(","))
            log_n, r, p = int(params["ln"]), int(params["r"]), int(params["p"])
            salt_hex, digest_hex = parts[2], parts[3]
        else:
            return False
        if not (1 <= log_n <= _PIN_LOG_N_MAX and 1 <= r <= _PIN_R_MAX and 1 <= p <= _PIN_P_MAX):
            return False
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        return hmac.compare_digest(_scrypt(pin, salt, log_n, r, p), expected)
    except (KeyError, ValueError):
        return False
