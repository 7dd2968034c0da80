"""DESIGN.md's test vectors, through sync/protocol.py (shared by both ends)."""
import json
import unicodedata

import pytest
from helpers import VECTORS

from sync import protocol

CHAIN = json.loads((VECTORS / "chain.json").read_text("utf-8"))
CHAIN_V1 = json.loads((VECTORS / "chain_v1.json").read_text("utf-8"))
#: the campaign survey record 4 of chain.json answered (a survey the server would have sent the kiosk)
MTTQ = {"id": "mttq-2026-q4", "scale": 5, "satisfied": [5, 4],
        "reasons": [{"code": "thai_do"}], "questions": [
            {"code": "dung_hen", "scale": 3, "satisfied": [3, 2]},
            {"code": "so_lan_di_lai", "scale": 3, "satisfied": [3, 2]}]}
SURVEYS = {"mttq-2026-q4": MTTQ}
RECEIPT = json.loads((VECTORS / "receipt.json").read_text("utf-8"))


def test_canonical_json_of_record_1():
    body = protocol.body_of(CHAIN["records"][0])
    assert protocol.canonical_json(body).decode("utf-8") == CHAIN["canonical_json_of_record_1"]


@pytest.mark.parametrize("vectors", [CHAIN, CHAIN_V1, dict(CHAIN["mixed_chain"], kiosk_key_hex=CHAIN["kiosk_key_hex"])],
                         ids=["v2", "v1", "mixed"])
def test_chain_vectors_hash_and_sign(vectors):
    prev = protocol.ZERO_HASH
    sealed_all = []
    for record, expected in zip(vectors["records"], vectors["expected"], strict=True):
        sealed = protocol.seal(record, prev, vectors["kiosk_key_hex"])
        assert sealed["prev_hash"] == expected["prev_hash"]
        assert sealed["hash"] == expected["hash"]
        assert sealed["sig"] == expected["sig"]
        assert ("survey" in sealed) == ("survey" in record)      # a v1 record stays v1
        protocol.check_record(sealed, SURVEYS)
        # the server's side: the record as it arrives on the wire verifies
        wire = dict(record, **{k: expected[k] for k in protocol.CHAIN_FIELDS})
        assert protocol.check_seal(wire, vectors["kiosk_key_hex"]) is None
        assert protocol.check_seal(wire, bytes.fromhex(vectors["kiosk_key_hex"])) is None
        sealed_all.append(sealed)
        prev = sealed["hash"]
    assert protocol.verify_chain(sealed_all, vectors["kiosk_key_hex"]) == (None, None)


def test_v1_canonical_json_and_survey():
    body = protocol.body_of(CHAIN_V1["records"][0])
    assert "survey" not in body and "answers" not in body
    assert protocol.canonical_json(body).decode("utf-8") == CHAIN_V1["canonical_json_of_record_1"]
    assert protocol.survey_of(CHAIN_V1["records"][0]) == "hl3"
    assert protocol.survey_of(CHAIN["records"][2]) == "hl5"


def test_builtin_surveys_are_designs_table():
    want = {"hl3": ([3, 2, 1], [3, 2]), "hl4": ([4, 3, 2, 1], [4, 3]), "hl5": ([5, 4, 3, 2, 1], [5, 4])}
    for sid, (levels, satisfied) in want.items():
        sv = protocol.BUILTIN_SURVEYS[sid]
        assert sv["id"] == sid and sv["scale"] == levels[0]
        assert [int(k) for k in sv["labels"]] == levels
        assert sv["satisfied"] == satisfied
        assert [r["code"] for r in sv["reasons"]] == ["thai_do", "huong_dan", "dung_hen", "so_lan_di_lai",
                                                      "nhung_nhieu"]
        assert sv["questions"] == []
    assert protocol.BUILTIN_SURVEYS["hl5"]["labels"]["3"]["vi"] == "Bình thường"
    assert protocol.survey_for_scale(5) == "hl5"


def test_unknown_survey_is_refused():
    rec = protocol.seal(CHAIN["records"][3], protocol.ZERO_HASH, CHAIN["kiosk_key_hex"])
    with pytest.raises(protocol.RecordError, match="survey: unknown"):
        protocol.check_record(rec)
    protocol.check_record(rec, SURVEYS)
    with pytest.raises(protocol.RecordError, match="answers"):
        protocol.check_record(dict(rec, answers={"dung_hen": 4}), SURVEYS)
    with pytest.raises(protocol.RecordError, match="answers"):
        protocol.check_record(dict(rec, answers={"other": 1}), SURVEYS)
    with pytest.raises(protocol.RecordError, match="reasons"):
        protocol.check_record(dict(rec, reasons=["huong_dan"]), SURVEYS)


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
    ("level", 0), ("level", 4), ("level", 7), ("level", 10),
    ("created_at", "2026-01-07T10+07:00"), ("created_at", "2026-W41-4T08:07:00+07:00"),
    ("created_at", "20261001T080700+0700"), ("created_at", "2026-10-01T08:07:00"),
    ("created_at", "2026-10-01T08:07+07:00"), ("created_at", "2026-10-01T08:07:00+0700"),
    ("created_at", "2026-10-01t08:07:00+07:00"), ("created_at", "2026-02-30T08:07:00+07:00"),
    ("created_at", "2026-10-01T08:07:00.+07:00"), ("created_at", "٢٠٢٦-10-01T08:07:00+07:00"),
    ("created_at", "2026-10-01T08:07:00+07:00\n"),
    ("officer_id", "cb\x00"), ("officer_id", "cb\u202e1"), ("officer_id", "cb\u200b"), ("desk_id", "q\x85"),
    ("officer_id", "Nguye\u0302\u0303n"), ("officer_id", "x" * 65), ("unit_code", "\ud800"),
    ("comment", "a\x0bb"), ("comment", "a\x01b"), ("comment", "a\rb"), ("comment", "e\u0301"),
    ("reasons", ["khac"]), ("reasons", ["thai\x00do"]), ("flags", ["\u202e"]), ("procedure_code", ""),
    ("survey", "nope"), ("answers", {"x": 1}), ("answers", []),
    ("reasons", "thai_do"), ("comment", "x" * 501), ("source", "web"), ("hash", "ABC"),
])
def test_check_record_names_the_field(field, value):
    rec = protocol.seal(CHAIN["records"][0], protocol.ZERO_HASH, CHAIN["kiosk_key_hex"])
    rec[field] = value
    with pytest.raises(protocol.RecordError, match=field):
        protocol.check_record(rec)


@pytest.mark.parametrize("comment", ["Dòng 1\nDòng 2", "👍🏽", "👨\u200d👩\u200d👧", None, "x" * 500])
def test_a_comment_may_hold_line_feeds_and_emoji(comment):
    rec = protocol.seal(dict(CHAIN["records"][0], comment=comment), protocol.ZERO_HASH, CHAIN["kiosk_key_hex"])
    protocol.check_record(rec)


@pytest.mark.parametrize("created", ["2026-10-01T08:07:00Z", "2026-10-01T08:07:00.123456+07:00",
                                     "2026-10-01T08:07:00-05:30", "2026-10-01T01:07:00.5Z"])
def test_rfc3339_times_pass(created):
    rec = protocol.seal(dict(CHAIN["records"][0], created_at=created), protocol.ZERO_HASH, CHAIN["kiosk_key_hex"])
    protocol.check_record(rec)


@pytest.mark.parametrize("sid,level,ok", [("hl3", 3, True), ("hl3", 4, False), ("hl4", 4, True),
                                          ("hl4", 5, False), ("hl5", 5, True), ("hl5", 6, False)])
def test_level_on_the_records_own_scale(sid, level, ok):
    rec = protocol.seal(dict(CHAIN["records"][0], survey=sid, level=level), protocol.ZERO_HASH,
                        CHAIN["kiosk_key_hex"])
    if ok:
        protocol.check_record(rec)
    else:
        with pytest.raises(protocol.RecordError, match="level"):
            protocol.check_record(rec)


def test_a_v1_record_is_on_hl3():
    rec = protocol.seal(CHAIN_V1["records"][0], protocol.ZERO_HASH, CHAIN["kiosk_key_hex"])
    assert "survey" not in rec
    protocol.check_record(rec)
    with pytest.raises(protocol.RecordError, match="level"):
        protocol.check_record(protocol.seal(dict(CHAIN_V1["records"][0], level=5), protocol.ZERO_HASH,
                                            CHAIN["kiosk_key_hex"]))
    with pytest.raises(protocol.RecordError, match="answers: missing"):
        protocol.check_record(dict(rec, survey="hl3"))
