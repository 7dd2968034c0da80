"""The record's rules are stated once, in sync/protocol.py: check_record enforces
them, record_json_schema publishes them, check_seal is the one seal check."""
import json
import re
import unicodedata
import uuid

import pytest
from helpers import VECTORS

from sync import protocol

CHAIN = json.loads((VECTORS / "chain.json").read_text("utf-8"))
KEY = CHAIN["kiosk_key_hex"]


def sealed_vector(i: int) -> dict:
    return dict(CHAIN["records"][i], **{k: CHAIN["expected"][i][k] for k in protocol.CHAIN_FIELDS})


def schema_accepts(schema: dict, rec: dict) -> bool:
    """A small JSON Schema checker for the keywords record_json_schema uses."""
    def ok(s: dict, v) -> bool:
        if "anyOf" in s:
            return any(ok(x, v) for x in s["anyOf"])
        t = s.get("type")
        if t == "null":
            return v is None
        if t == "string":
            if not isinstance(v, str) or len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 60):
                return False
            if "pattern" in s and not re.search(s["pattern"], v):
                return False
            if s.get("format") == "uuid":
                try:
                    uuid.UUID(v)
                except ValueError:
                    return False
            return "enum" not in s or v in s["enum"]
        if t == "integer":
            return (isinstance(v, int) and not isinstance(v, bool)
                    and s.get("minimum", -(1 << 64)) <= v <= s.get("maximum", 1 << 64))
        if t == "array":
            return (isinstance(v, list) and len(v) <= s.get("maxItems", 1 << 60)
                    and all(ok(s["items"], x) for x in v))
        if t == "object":
            if not isinstance(v, dict) or len(v) > s.get("maxProperties", 1 << 60):
                return False
            props = s.get("properties", {})
            if any(k not in v for k in s.get("required", ())) or (s["additionalProperties"] is False and set(v) - set(props)):
                return False
            for k, needs in s.get("dependentRequired", {}).items():
                if k in v and any(n not in v for n in needs):
                    return False
            return all(ok(props[k] if k in props else s["additionalProperties"], v[k]) for k in v)
        raise AssertionError(s)
    return ok(schema, rec)


def test_the_schema_names_every_field_and_the_protocols_limits():
    schema = protocol.record_json_schema()
    assert list(schema["properties"]) == list(protocol.RECORD_FIELDS)
    assert schema["required"] == list(protocol.RECORD_FIELDS_V1)      # survey and answers: v2 only
    props = schema["properties"]
    assert props["level"]["minimum"] == protocol.LEVEL_MIN and props["level"]["maximum"] == protocol.LEVEL_MAX
    assert props["seq"]["maximum"] == protocol.SEQ_MAX
    assert props["source"]["enum"] == list(protocol.SOURCES)
    assert props["reasons"]["maxItems"] == protocol.LIST_MAX
    assert props["unit_code"]["maxLength"] == protocol.CODE_MAX
    assert protocol.record_json_schema() is not schema            # a fresh copy each call


@pytest.mark.parametrize("field,value", [
    ("id", "not-a-uuid"), ("seq", 0), ("seq", "1"), ("seq", protocol.SEQ_MAX), ("seq", protocol.SEQ_MAX + 1),
    ("level", True), ("level", -1), ("level", 0), ("level", 1), ("level", 3), ("level", 11),
    ("reasons", "thai_do"), ("reasons", [""]), ("reasons", ["thai_do"] * 20), ("flags", ["x"] * 21),
    ("comment", "x" * 500), ("comment", "x" * 501), ("comment", None), ("comment", 5),
    ("source", "web"), ("source", "phone"), ("hash", "ABC"), ("sig", "A" * 64),
    ("unit_code", ""), ("unit_code", "u" * 64), ("unit_code", "u" * 65), ("desk_id", None),
    ("dossier_code", None), ("dossier_code", ""), ("dossier_code", "d" * 200), ("dossier_code", "d" * 201), ("kiosk_id", 7),
    ("created_at", "2026-01-07T10+07:00"), ("created_at", "2026-10-01T08:07:00+07:00"), ("survey", ""),
    ("answers", []), ("answers", {}),
])
def test_schema_and_check_record_agree(field, value):
    rec = protocol.seal(CHAIN["records"][0], protocol.ZERO_HASH, KEY)
    rec[field] = value
    try:
        protocol.check_record(rec)
        checked = True
    except protocol.RecordError as exc:
        assert str(exc).startswith(field)
        checked = False
    assert schema_accepts(protocol.record_json_schema(), rec) == checked


def test_missing_and_unknown_fields_in_both():
    rec = protocol.seal(CHAIN["records"][0], protocol.ZERO_HASH, KEY)
    for broken in ({k: v for k, v in rec.items() if k != "comment"}, dict(rec, extra=1)):
        assert not schema_accepts(protocol.record_json_schema(), broken)
        with pytest.raises(protocol.RecordError):
            protocol.check_record(broken)


def test_the_server_publishes_the_protocols_schema():
    pytest.importorskip("fastapi")
    from sync.server.api import kiosks
    assert kiosks.RECORD_SCHEMA == protocol.record_json_schema()
    assert kiosks.BATCH_SCHEMA["properties"]["ratings"]["items"] == protocol.record_json_schema()


@pytest.mark.parametrize("i", range(len(CHAIN["records"])))
def test_check_seal_takes_the_key_as_hex_or_bytes(i):
    rec = sealed_vector(i)
    assert protocol.check_seal(rec, KEY) is None
    assert protocol.check_seal(rec, bytes.fromhex(KEY)) is None
    assert protocol.check_seal(dict(rec, level=rec["level"] % 3 + 1), KEY) == "hash does not match the record's content"
    assert protocol.check_seal(dict(rec, sig="0" * 64), bytes.fromhex(KEY)) == \
        "signature does not verify with the kiosk's key"


def test_check_seal_normalises_what_is_not_ascii():
    # record 3 of the vectors carries an NFD comment: the seal is over its NFC form
    nfd = [r for r in map(sealed_vector, range(len(CHAIN["records"])))
           if r["comment"] and not unicodedata.is_normalized("NFC", r["comment"])]
    assert nfd
    for rec in nfd:
        assert protocol.check_seal(rec, KEY) is None
        assert protocol.check_seal(dict(rec, comment=unicodedata.normalize("NFC", rec["comment"])), KEY) is None
        assert protocol.check_seal(dict(rec, comment=rec["comment"] + "!"), KEY) is not None


def test_check_seal_agrees_with_record_hash_on_nested_values():
    rec = protocol.seal(dict(CHAIN["records"][0], reasons={"b": 1, "a": 2}), protocol.ZERO_HASH, KEY)
    assert rec["hash"] == protocol.record_hash(protocol.ZERO_HASH, rec)
    assert protocol.check_seal(rec, KEY) is None
