"""The letters to citizens as Word files (python-docx), in the ND 30/2020 layout of the report.

The header (issuing body | national motto, number | place and date), the sign-off ("Nơi nhận" |
the signer's block as set in the report issuer settings) and the page set-up (A4, Times New Roman
13, margins 20/20/30/15 mm) are the report's (report_docx); the texts of each letter kind
(protocol.LETTER_KINDS) are here.

The apology follows the fields of the one-stop desk's form for a late dossier — "Phiếu xin lỗi và
hẹn lại ngày trả kết quả" of TT 01/2018/TT-VPCP, carried on by Thông tư 03/2025/TT-VPCP (Phụ lục I,
mẫu "Văn bản xin lỗi …"): Kính gửi, the day the dossier was received, the procedure, the dossier
code, the appointment, the reason, the apology and the new appointment, then the head of the body's
signature. The exact wording of the 2025 form could not be confirmed from a primary source here, so
the texts are our own over those fields, in the ND 30 layout. The apology from a case (a complaint
about an officer's conduct, not a late result: ``CASE_APOLOGY``) keeps the same fields and adds the
new appointment only when one is given.

The thank-you, congratulation and condolence letters are "thư công" in the same layout. The number
("Số:      /PXL-UBND", "Số:      /TC-UBND") is left blank for the văn thư to fill when the letter
is registered, as the report's is; the abbreviations PXL (phiếu xin lỗi) and TC (thư công) are ours.

The citizen's name is never known to hailong: the letter leaves a dotted line for the desk to write
it by hand, or takes the name typed on the form for that one download.
"""
from __future__ import annotations

import io
from datetime import date

from docx.enum.text import WD_ALIGN_PARAGRAPH

from sync import protocol
from sync.server.reports.report_docx import (
    Issuer,
    _header,
    _new_document,
    _para,
    _sign_off,
)

#: what a field left empty prints: a line for the desk to fill by hand
BLANKS = {"name": "…………………………………………", "procedure": "……………………………………………………",
          "dossier": "……………………", "new_date": "…/…/……", "received": "…/…/……",
          "due": "…/…/……", "officer": "……………………………", "reason": "……………………………………………………………"}

#: letter kind (protocol.LETTER_KINDS) -> (title, paragraphs). The first paragraph is the
#: "Kính gửi" line. Placeholders: {name} {procedure} {dossier} {new_date} {received} {due}
#: {reason} {officer} {unit}
LETTERS = {
    protocol.LETTER_THANKS: ("THƯ CẢM ƠN", [
        "Kính gửi: Ông/Bà {name}",
        "{unit} trân trọng cảm ơn Ông/Bà đã tin tưởng thực hiện thủ tục {procedure} "
        "(hồ sơ số {dossier}) tại Bộ phận Một cửa và dành thời gian đánh giá mức độ hài lòng "
        "đối với cán bộ, công chức phục vụ.",
        "Ý kiến của Ông/Bà giúp chúng tôi phục vụ người dân ngày càng tốt hơn. "
        "Kính chúc Ông/Bà và gia đình sức khỏe, hạnh phúc.",
    ]),
    protocol.LETTER_APOLOGY: ("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", [
        "Kính gửi: Ông/Bà {name}",
        "Ngày {received}, {unit} tiếp nhận hồ sơ của Ông/Bà đề nghị giải quyết thủ tục hành chính: "
        "{procedure}.",
        "Mã hồ sơ: {dossier}.",
        "Thời gian hẹn trả kết quả giải quyết hồ sơ: ngày {due}.",
        "Tuy nhiên đến nay, {unit} chưa trả kết quả giải quyết hồ sơ cho Ông/Bà. Lý do: {reason}.",
        "Sự chậm trễ này đã gây phiền hà cho Ông/Bà. {unit} thành thật xin lỗi Ông/Bà và hẹn trả "
        "kết quả giải quyết hồ sơ vào ngày {new_date}. Cán bộ phụ trách: {officer}.",
        "Xin trân trọng cảm ơn sự hợp tác của Ông/Bà./.",
    ]),
    protocol.LETTER_CONGRATULATION: ("THƯ CHÚC MỪNG", [
        "Kính gửi: Ông/Bà {name}",
        "Nhân dịp Ông/Bà hoàn thành thủ tục {procedure} (hồ sơ số {dossier}) tại Bộ phận Một cửa, "
        "{unit} xin gửi tới Ông/Bà và gia đình lời chúc mừng tốt đẹp nhất.",
        "Với phương châm \u201cChính quyền thân thiện vì nhân dân phục vụ\u201d, chúng tôi luôn sẵn sàng "
        "đồng hành cùng Ông/Bà trong các thủ tục hành chính.",
        "Chúc gia đình Ông/Bà luôn mạnh khỏe, hạnh phúc và vạn sự như ý! Trân trọng./.",
    ]),
    protocol.LETTER_CONDOLENCE: ("THƯ CHIA BUỒN", [
        "Kính gửi: Ông/Bà {name} và gia đình",
        "{unit} xin gửi tới Ông/Bà và gia đình lời chia buồn sâu sắc nhất trước sự mất mát lớn lao này.",
        "Hồ sơ số {dossier} (thủ tục {procedure}) đã được Bộ phận Một cửa tiếp nhận. Nếu cần hỗ trợ thêm, "
        "xin Ông/Bà liên hệ cán bộ phụ trách {officer}; chúng tôi luôn sẵn lòng giúp đỡ.",
        "Xin thành kính phân ưu cùng gia đình./.",
    ]),
}

#: the apology a case produces: the citizen rated the officer badly (nhũng nhiễu, low rate); the
#: paragraph marked "new_date" is there only when a new appointment is given
CASE_APOLOGY = ("VĂN BẢN XIN LỖI", [
    "Kính gửi: Ông/Bà {name}",
    "Ngày {received}, {unit} tiếp nhận hồ sơ của Ông/Bà đề nghị giải quyết thủ tục hành chính: "
    "{procedure}.",
    "Mã hồ sơ: {dossier}.",
    "Qua kết quả đánh giá mức độ hài lòng của Ông/Bà tại Bộ phận Một cửa, {unit} nhận thấy việc "
    "tiếp nhận, giải quyết hồ sơ của Ông/Bà chưa đáp ứng yêu cầu. Lý do: {reason}.",
    "Sự việc này đã gây phiền hà cho Ông/Bà. {unit} thành thật xin lỗi Ông/Bà; cán bộ có liên quan "
    "({officer}) đã được xem xét, chấn chỉnh theo quy định.",
    ("new_date", "{unit} hẹn trả kết quả giải quyết hồ sơ cho Ông/Bà vào ngày {new_date}."),
    "Xin trân trọng cảm ơn sự hợp tác của Ông/Bà./.",
])

#: the number's abbreviation per kind (the rest of the symbol is the issuer's, e.g. "UBND")
SYMBOLS = {protocol.LETTER_APOLOGY: "PXL"}
THU_CONG = "TC"
RECIPIENTS = ["Như trên;", "Lưu: VT, BPMC."]
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _number(kind: str, issuer: Issuer) -> str:
    """"Số:      /PXL-UBND": blank for the văn thư, the body's part of the issuer's symbol kept."""
    body_part = (issuer.symbol or "").rpartition("-")[2] or "UBND"
    return f"Số:      /{SYMBOLS.get(kind, THU_CONG)}-{body_part}"


def _document(kind: str, title: str, paragraphs: list, fields: dict, issuer: Issuer | None,
              on: date | None) -> bytes:
    issuer = issuer or Issuer()
    on = on or date.today()
    values = {**BLANKS, "unit": issuer.body_full}
    values.update({k: str(v).strip() for k, v in fields.items() if v and str(v).strip()})
    doc = _new_document()
    _header(doc, issuer, _number(kind, issuer), on)
    _para(doc, title, size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=24, after=12)
    first, *rest = paragraphs
    _para(doc, first.format(**values), size=14, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    for text in rest:
        if isinstance(text, tuple):
            needs, text = text
            if not (fields.get(needs) or "").strip():
                continue
        _para(doc, text.format(**values), size=14, indent_first=True)
    _para(doc, after=0)          # a line between the text and the signature block
    _sign_off(doc, issuer, RECIPIENTS)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def letter(kind: str, fields: dict, issuer: Issuer | None = None, on: date | None = None) -> bytes:
    """A letter of ``kind`` (see LETTERS, or an alias: protocol.letter_kind) with ``fields`` filled in,
    as .docx bytes; a field left out is a dotted line (BLANKS)."""
    kind = protocol.letter_kind(kind)
    if kind not in LETTERS:
        names = [*LETTERS, *(a for a, k in protocol.LETTER_KIND_ALIASES.items() if k in LETTERS)]
        raise ValueError(f"letter kind: must be one of {', '.join(names)}")
    title, paragraphs = LETTERS[kind]
    return _document(kind, title, paragraphs, fields, issuer, on)


def case_apology(fields: dict, issuer: Issuer | None = None, on: date | None = None) -> bytes:
    """The apology for one dossier of a case (CASE_APOLOGY), as .docx bytes."""
    title, paragraphs = CASE_APOLOGY
    return _document(protocol.LETTER_APOLOGY, title, paragraphs, fields, issuer, on)
