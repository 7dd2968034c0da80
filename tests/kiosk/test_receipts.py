"""QR receipts: issuing, verifying at the kiosk (DESIGN.md vectors), letters."""
import json
import unicodedata
from datetime import date, datetime, timedelta, timezone

import pytest
import qrcode
import zxingcpp
from helpers import ARTIFACTS as ALL_ARTIFACTS
from helpers import VECTORS as VECTOR_DIR
from ptys import RECEIPT_KEY, write_kiosk

from kiosk import letters, receipts, render
from kiosk.receipts import Accepted, ReceiptVerifier, Refused
from sync import protocol

VECTORS = json.loads((VECTOR_DIR / "receipt.json").read_text("utf-8"))
ARTIFACTS = ALL_ARTIFACTS / "receipts"
T = VECTORS["fields"]["t"]
ICT = timezone(timedelta(hours=7))


@pytest.fixture
def kiosk(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    yield cfg, store
    store.close()


def verifier(store, now=T + 3600, unit="13321", days=30):
    return ReceiptVerifier(store, VECTORS["receipt_key_hex"], unit, days, clock=lambda: now)


def signed(fields, key=RECEIPT_KEY):
    return protocol.make_receipt_token(fields, key)


# -- the vectors -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["qr_text", "qr_text_with_public_url"])
def test_vector_receipt_is_accepted(kiosk, name):
    _cfg, store = kiosk
    result = verifier(store).check(VECTORS[name])
    assert isinstance(result, Accepted)
    assert result.receipt_id == VECTORS["receipt_id"]
    assert result.officer_id == "cb-001"
    assert result.officer["name"] == "Nguyễn Thị Hồng Nhung"
    assert result.dossier_code == VECTORS["fields"]["h"]
    assert result.procedure_code == "1.001193"
    assert store.event_counts() == {}


@pytest.mark.parametrize("name", sorted(VECTORS["forged_examples"]))
def test_forged_vectors_are_refused_and_counted(kiosk, name):
    _cfg, store = kiosk
    result = verifier(store).check(VECTORS["forged_examples"][name])
    assert isinstance(result, Refused) and result.kind == "forged"
    assert "liên hệ cán bộ" in result.message_vi
    assert store.event_counts() == {"forged": 1}


def test_scanned_text_is_trimmed_and_nfc(kiosk):
    _cfg, store = kiosk
    assert verifier(store).check("  " + VECTORS["qr_text"] + "\r\n").ok


# -- policy ------------------------------------------------------------------------

def test_each_refusal_is_counted_and_says_why(kiosk):
    _cfg, store = kiosk
    v = verifier(store)
    cases = {
        "malformed": v.check("001234567890|Nguyễn Văn A|01011990"),  # a citizen ID card's QR
        "forged": v.check(VECTORS["forged_examples"]["altered_officer"]),
        "expired": verifier(store, now=T + 31 * 86400).check(VECTORS["qr_text"]),
        "other_unit": verifier(store, unit="99999").check(VECTORS["qr_text"]),
        "unknown_officer": v.check(signed(dict(VECTORS["fields"], o="cb-999"))),
    }
    for kind, result in cases.items():
        assert isinstance(result, Refused), kind
        assert result.kind == kind
        assert result.message_vi and result.message_en
        assert unicodedata.is_normalized("NFC", result.message_vi)
    assert "30 ngày" in cases["expired"].message_vi
    assert "đơn vị khác" in cases["other_unit"].message_vi
    assert store.event_counts() == {k: 1 for k in cases}
    details = [r[0] for r in store.conn.execute("SELECT detail FROM security_events")]
    assert not any("Nguyễn" in (d or "") or "0012345" in (d or "") for d in details), details


def test_receipt_dated_in_the_future_is_refused_beyond_tolerance(kiosk):
    _cfg, store = kiosk
    assert verifier(store, now=T - 300).check(VECTORS["qr_text"]).ok  # 5 min drift: fine
    late = verifier(store, now=T - 3600).check(VECTORS["qr_text"])
    assert late.kind == "expired" and "không hợp lệ" in late.message_vi
    assert verifier(store, now=T + 30 * 86400 - 1).check(VECTORS["qr_text"]).ok


def test_second_scan_after_rating_is_kindly_refused_and_not_counted(kiosk):
    cfg, store = kiosk
    first = verifier(store).check(VECTORS["qr_text"])
    store.append(unit_code="13321", desk_id="quay-1", officer_id=first.officer_id, level=3,
                 source="receipt", dossier_code=first.dossier_code,
                 procedure_code=first.procedure_code, receipt_id=first.receipt_id)
    again = verifier(store).check(VECTORS["qr_text"])
    assert again.kind == "already_rated"
    assert again.message_vi == "Hồ sơ này đã được đánh giá. Xin cảm ơn Ông/Bà!"
    assert again.message("en") == "This dossier has already been rated. Thank you!"
    assert store.event_counts() == {}


def test_kiosk_without_key_refuses_without_crashing(kiosk):
    _cfg, store = kiosk
    result = ReceiptVerifier(store, "", "13321").check(VECTORS["qr_text"])
    assert result.kind == "malformed"


# -- issuing -------------------------------------------------------------------------

def test_issue_signs_what_the_kiosk_accepts(kiosk):
    cfg, store = kiosk
    now = datetime(2026, 11, 28, 14, 32, tzinfo=ICT)
    issued = receipts.issue(cfg, store, "cb-002", " 000.00.21.H31-261128-0042 ", "1.000894", now)
    assert issued.token.startswith("HL1.")
    fields, rid = protocol.parse_receipt_token(issued.token, RECEIPT_KEY)
    assert fields == {"v": 1, "u": "13321", "d": "quay-1", "o": "cb-002",
                      "h": "000.00.21.H31-261128-0042", "p": "1.000894", "t": int(now.timestamp())}
    assert rid == issued.receipt_id
    assert issued.procedure["name"] == "Đăng ký kết hôn"
    result = ReceiptVerifier.from_config(cfg, store, clock=lambda: now.timestamp() + 60).check(issued.token)
    assert result.ok and result.officer["name"] == "Trần Văn Đức"


def test_issue_with_public_url(tmp_path):
    cfg, store = write_kiosk(tmp_path, receipt={"public_base_url": "https://dichvu.example.vn/"})
    issued = receipts.issue(cfg, store, "cb-001", "HS-1")
    assert issued.token.startswith("https://dichvu.example.vn/r/")
    assert issued.fields["p"] is None
    assert protocol.parse_receipt_token(issued.token, RECEIPT_KEY)[0]["h"] == "HS-1"


@pytest.mark.parametrize("officer,dossier,error", [
    ("cb-999", "HS-1", "not in the roster"),
    ("cb-001", "   ", "must not be empty"),
    ("cb-001", "x" * 65, "at most 64"),
])
def test_issue_refuses_bad_input(kiosk, officer, dossier, error):
    cfg, store = kiosk
    with pytest.raises(receipts.ReceiptIssueError, match=error):
        receipts.issue(cfg, store, officer, dossier)


@pytest.mark.parametrize("meta", [RECEIPT_KEY, json.dumps(RECEIPT_KEY), json.dumps({"key": RECEIPT_KEY.upper()})])
def test_receipt_key_falls_back_to_the_one_the_server_sent(tmp_path, meta):
    cfg, store = write_kiosk(tmp_path, receipt={"key": ""})
    assert receipts.receipt_key(cfg, store) == ""
    with pytest.raises(receipts.ReceiptIssueError, match="no receipt key"):
        receipts.issue(cfg, store, "cb-001", "HS-1")
    store.set_meta("receipt_key", meta)
    assert receipts.receipt_key(cfg, store) == RECEIPT_KEY


# -- the paper ---------------------------------------------------------------------

@pytest.mark.parametrize("paper_mm,width", [(58, 384), (80, 576)])
def test_receipt_image_width_and_qr(tmp_path, paper_mm, width):
    cfg, store = write_kiosk(tmp_path, receipt={"paper_mm": paper_mm})
    issued = receipts.issue(cfg, store, "cb-003", "000.00.21.H31-261128-0042", "1.004227",
                            datetime(2026, 11, 28, 9, 5, tzinfo=ICT))
    img = receipts.receipt_image(cfg, store, issued)
    assert img.mode == "1" and img.width == width
    assert set(img.convert("L").getdata()) <= {0, 255}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(ARTIFACTS / f"receipt_{paper_mm}mm.png")
    codes = zxingcpp.read_barcodes(img.convert("L"))
    assert [c.text for c in codes] == [issued.token]
    # the QR's modules: at least 4 dots each (scannable off thermal paper)
    modules = _modules(issued.token)
    pos = codes[0].position
    assert (pos.top_right.x - pos.top_left.x) / modules >= render.MIN_MODULE - 0.2


def _modules(token):
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(token)
    qr.make(fit=True)
    return qr.modules_count


@pytest.mark.parametrize("width", [384, 576])
def test_qr_modules_are_whole_dots_with_quiet_zone(width):
    token = "https://dichvu.example.vn/r/" + "A" * 140 + ".sig_sig_sig_sig_sig_s"
    img = render.qr_image(token, width)
    n = _modules(token) + 2 * render.QUIET_ZONE
    assert img.width <= width and img.width % n == 0
    assert img.width // n >= render.MIN_MODULE
    assert zxingcpp.read_barcodes(img.convert("L"))[0].text == token


def test_qr_too_long_for_paper_is_a_clear_error():
    with pytest.raises(render.RenderError, match="too long"):
        render.qr_image("x" * 1500, 384)


def test_wrap_keeps_lines_within_width_and_cuts_long_codes():
    fnt = render.font(23)
    lines = render.wrap("Cấp giấy chứng nhận quyền sử dụng đất lần đầu " + "9" * 80, fnt, 368)
    assert all(fnt.getlength(line) <= 368 for line in lines)
    assert "".join(lines).replace(" ", "").endswith("9" * 80)


# -- letters -------------------------------------------------------------------------

def test_letter_for_procedure_from_roster_then_config(tmp_path):
    cfg, store = write_kiosk(tmp_path, letters={"default": "cam_on", "by_procedure": {"1.000894": ""}})
    assert letters.letter_for(cfg, store, "1.001193") == "chuc_mung"     # roster: birth
    assert letters.letter_for(cfg, store, "1.000656") == "chia_buon"     # roster: death
    assert letters.letter_for(cfg, store, "1.000894") is None            # config turns it off
    assert letters.letter_for(cfg, store, "9.999999") == "cam_on"        # default
    assert letters.letter_for(cfg, store, None) == "cam_on"


def test_apology_needs_its_new_date(kiosk):
    cfg, store = kiosk
    with pytest.raises(letters.LetterError, match="new date"):
        letters.letter_image(cfg, store, "xin_loi", "cb-001", "HS-1")
    assert letters.parse_new_date("05/12/2026") == date(2026, 12, 5)
    with pytest.raises(letters.LetterError):
        letters.parse_new_date("mai")


@pytest.mark.parametrize("kind", sorted(letters.KINDS))
def test_letters_fill_every_placeholder(kind):
    text = letters.letter_text(kind, unit="UBND xã Đồng Tâm", desk="Quầy số 1", officer="Trần Văn Đức",
                               title=None, procedure="Đăng ký khai sinh", dossier="HS-42",
                               new_date=date(2026, 12, 5), today=date(2026, 11, 28))
    assert "$" not in text
    assert "UBND xã Đồng Tâm" in text and "Trần Văn Đức" in text and "HS-42" in text
    assert "Ngày 28 tháng 11 năm 2026" in text
    assert "Ông/Bà" in text
    assert unicodedata.is_normalized("NFC", text)
    if kind == "xin_loi":
        assert "05/12/2026" in text


@pytest.mark.parametrize("kind", sorted(letters.KINDS))
def test_letter_images(kiosk, kind):
    cfg, store = kiosk
    img = letters.letter_image(cfg, store, kind, "cb-004", "000.00.21.H31-261128-0042", "1.004227",
                               new_date=date(2026, 12, 5), today=date(2026, 11, 28))
    assert img.mode == "1" and img.width == 384 and 300 < img.height < 2000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(ARTIFACTS / f"letter_{kind}.png")


# -- verified as strictly as issued (issue 9) ------------------------------------------

def signed_raw(payload_json: bytes, key=None) -> str:
    """A token over exactly these payload bytes, signed with the right key."""
    key = key or VECTORS["receipt_key_hex"]
    payload = protocol.b64url(payload_json)
    return f"{protocol.RECEIPT_PREFIX}{payload}.{protocol.receipt_sig(key, payload)}"


def signed_fields(**changes) -> str:
    fields = dict(VECTORS["fields"], **changes)
    fields = {k: v for k, v in fields.items() if v is not Ellipsis}
    return signed_raw(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


STRICT_CASES = {
    "dossier_10kb": dict(h="H" * 10_000),
    "dossier_65": dict(h="H" * 65),
    "dossier_control": dict(h="H12\x0b34"),
    "dossier_nul": dict(h="H12\x0034"),
    "officer_rtl_override": dict(o="cb-\u202e001"),
    "officer_c1": dict(o="cb-\x85001"),
    "procedure_object": dict(p={"code": "1.001193"}),
    "procedure_list": dict(p=["1.001193"]),
    "officer_number": dict(o=1),
    "unit_empty": dict(u=""),
    "desk_missing": dict(d=...),
    "time_string": dict(t="1767225600"),
    "time_bool": dict(t=True),
    "time_float": dict(t=1767225600.5),
    "version_true": dict(v=True),
    "unknown_field": dict(x="1"),
    "appointment_not_a_date": dict(a="2026-02-30"),
    "appointment_number": dict(a=20260201),
    "officer_nfd": dict(o=unicodedata.normalize("NFD", "cb-Đức")),
}


@pytest.mark.parametrize("name", sorted(STRICT_CASES))
def test_signed_payloads_the_issuer_would_refuse_are_refused(kiosk, name):
    _cfg, store = kiosk
    token = signed_fields(**STRICT_CASES[name])
    with pytest.raises(protocol.ReceiptError) as err:
        protocol.parse_receipt_token(token, VECTORS["receipt_key_hex"])
    assert err.value.kind == "malformed"
    result = verifier(store).check(token)
    assert isinstance(result, Refused) and result.kind == "malformed"


@pytest.mark.parametrize("depth", [50, 1000, 100_000])
def test_deeply_nested_signed_payload_is_refused_not_raised(kiosk, depth):
    _cfg, store = kiosk
    token = signed_raw(b"[" * depth + b"]" * depth)
    with pytest.raises(protocol.ReceiptError):
        protocol.parse_receipt_token(token, VECTORS["receipt_key_hex"])
    nested = signed_raw(b'{"v":1,"u":"13321","d":"quay-1","o":"cb-001","h":"H","t":1,"p":'
                        + b"[" * depth + b"]" * depth + b"}")
    for t in (token, nested):
        assert isinstance(verifier(store).check(t), Refused)


def test_an_overlong_scan_is_refused_before_any_work(kiosk):
    _cfg, store = kiosk
    assert verifier(store).check("HL1." + "A" * 2_000_000 + ".abc").kind == "malformed"
    with pytest.raises(protocol.ReceiptError, match="too long"):
        protocol.parse_receipt_token("HL1." + "A" * 5000 + ".abc", VECTORS["receipt_key_hex"])


def test_what_the_issuer_signs_is_still_accepted_at_its_longest(kiosk):
    cfg, store = kiosk
    store.apply_roster({"units": [], "desks": [], "officers": [
        {"id": "c" * 64, "name": "Ánh", "desk_id": "quay-1"}], "procedures": []})
    fields = dict(VECTORS["fields"], o="c" * 64, h="Đ" * 64, p="p" * 64, a="2026-02-28")
    token = signed_raw(protocol.canonical_json(fields))
    assert len(token) <= protocol.RECEIPT_TOKEN_MAX
    parsed, _rid = protocol.parse_receipt_token(token, VECTORS["receipt_key_hex"])
    assert parsed["h"] == "Đ" * 64
    assert isinstance(verifier(store).check(token), Accepted)
