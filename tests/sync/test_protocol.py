"""DESIGN.md's test vectors, through sync/protocol.py (shared by both ends)."""
import json
import unicodedata

import pytest
from helpers import VECTORS

from sync import protocol

CHAIN = json.loads((VECTORS / "chain.json").read_text("utf-8"))
RECEIPT = json.loads((VECTORS / "receipt.json").read_text("utf-8"))


def test_canonical_json_of_record_1():
    body = protocol.body_of(CHAIN["records"][0])
    assert protocol.canonical_json(body).decode("utf-8") == CHAIN["canonical_json_of_record_1"]


def test_chain_vectors_hash_and_sign():
    prev = protocol.ZERO_HASH
    for record, expected in zip(CHAIN["records"], CHAIN["expected"]):
        sealed = protocol.seal(record, prev, CHAIN["kiosk_key_hex"])
        assert sealed["prev_hash"] == expected["prev_hash"]
        assert sealed["hash"] == expected["hash"]
        assert sealed["sig"] == expected["sig"]
        protocol.check_record(sealed)
        prev = sealed["hash"]


def test_record_3_is_given_in_nfd_and_hashes_as_nfc():
    comment = CHAIN["records"][2]["comment"]
    assert comment != unicodedata.normalize("NFC", comment)
    sealed = protocol.seal(CHAIN["records"][2], CHAIN["expected"][1]["hash"], CHAIN["kiosk_key_hex"])
    assert sealed["comment"] == unicodedata.normalize("NFC", comment)


def test_verify_chain_names_first_bad_seq():
    key = CHAIN["kiosk_key_hex"]
    prev, sealed = protocol.ZERO_HASH, []
    for record in CHAIN["records"]:
        sealed.append(protocol.seal(record, prev, key))
        prev = sealed[-1]["hash"]
    assert protocol.verify_chain(sealed, key) == (None, None)
    edited = [dict(r) for r in sealed]
    edited[2]["level"] = 1
    assert protocol.verify_chain(edited, key)[0] == 3
    assert protocol.verify_chain(sealed[:1] + sealed[2:], key)[0] == 2
    assert protocol.verify_chain(sealed, "11" * 32)[0] == 1


def test_receipt_vector():
    key = RECEIPT["receipt_key_hex"]
    assert protocol.make_receipt_token(RECEIPT["fields"], key) == RECEIPT["qr_text"]
    assert protocol.make_receipt_token(RECEIPT["fields"], key, "https://dichvu.example.vn") == RECEIPT["qr_text_with_public_url"]
    for text in (RECEIPT["qr_text"], RECEIPT["qr_text_with_public_url"]):
        fields, rid = protocol.parse_receipt_token(text, key)
        assert fields == RECEIPT["fields"]
        assert rid == RECEIPT["receipt_id"]


@pytest.mark.parametrize("name", sorted(RECEIPT["forged_examples"]))
def test_forged_receipts_are_refused(name):
    with pytest.raises(protocol.ReceiptError) as err:
        protocol.parse_receipt_token(RECEIPT["forged_examples"][name], RECEIPT["receipt_key_hex"])
    assert err.value.kind == "forged"


@pytest.mark.parametrize("text", ["", "hello", "HL1.", "HL1.abc", "HL1.a.b.c", "HL1.!!.xx"])
def test_malformed_receipts_are_refused(text):
    with pytest.raises(protocol.ReceiptError) as err:
        protocol.parse_receipt_token(text, RECEIPT["receipt_key_hex"])
    assert err.value.kind == "malformed"


@pytest.mark.parametrize("field,value", [
    ("id", "not-a-uuid"), ("seq", 0), ("seq", "1"), ("level", True), ("created_at", "2026-10-01 08:00"),
    ("reasons", "thai_do"), ("comment", "x" * 501), ("source", "web"), ("hash", "ABC"),
])
def test_check_record_names_the_field(field, value):
    rec = protocol.seal(CHAIN["records"][0], protocol.ZERO_HASH, CHAIN["kiosk_key_hex"])
    rec[field] = value
    with pytest.raises(protocol.RecordError, match=field):
        protocol.check_record(rec)
