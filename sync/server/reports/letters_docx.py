"""The letters to citizens as Word files (python-docx), in the ND 30/2020 layout of the report.

The header, the sign-off and the page set-up are the report's (report_docx); the texts of each
letter kind (protocol.LETTER_KINDS) are here.
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

#: letter kind (protocol.LETTER_KINDS) -> (title, paragraphs).
#: {name} {procedure} {dossier} {new_date} {officer} {unit}
LETTERS = {
    protocol.LETTER_THANKS: ("THƯ CẢM ƠN", [
        "Kính gửi: Ông/Bà {name}",
        "{unit} trân trọng cảm ơn Ông/Bà đã tin tưởng thực hiện thủ tục {procedure} "
        "(hồ sơ số {dossier}) tại Bộ phận Một cửa và dành thời gian đánh giá mức độ hài lòng "
        "đối với cán bộ, công chức phục vụ.",
        "Ý kiến của Ông/Bà giúp chúng tôi phục vụ người dân ngày càng tốt hơn. "
        "Kính chúc Ông/Bà và gia đình sức khỏe, hạnh phúc.",
    ]),
    protocol.LETTER_APOLOGY: ("THƯ XIN LỖI VÀ HẸN LẠI THỜI GIAN TRẢ KẾT QUẢ", [
        "Kính gửi: Ông/Bà {name}",
        "Ngày tiếp nhận hồ sơ số {dossier} về thủ tục {procedure}, {unit} đã hẹn trả kết quả "
        "cho Ông/Bà. Tuy nhiên, hồ sơ chưa giải quyết xong đúng hẹn.",
        "{unit} thành thật xin lỗi Ông/Bà vì sự chậm trễ này và xin hẹn trả kết quả vào ngày "
        "{new_date}. Cán bộ phụ trách: {officer}.",
        "Rất mong Ông/Bà thông cảm. Trân trọng./.",
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


def letter(kind: str, fields: dict, issuer: Issuer | None = None, on: date | None = None) -> bytes:
    """A letter of ``kind`` (see LETTERS, or an alias: protocol.letter_kind) with ``fields`` filled in, as .docx bytes."""
    kind = protocol.letter_kind(kind)
    if kind not in LETTERS:
        names = [*LETTERS, *(a for a, k in protocol.LETTER_KIND_ALIASES.items() if k in LETTERS)]
        raise ValueError(f"letter kind: must be one of {', '.join(names)}")
    issuer = issuer or Issuer()
    on = on or date.today()
    values = {"name": "……………………", "procedure": "……………………", "dossier": "…………",
              "new_date": "…/…/……", "officer": "……………………", "unit": issuer.body_full}
    values.update({k: v for k, v in fields.items() if v})
    title, paragraphs = LETTERS[kind]
    doc = _new_document()
    _header(doc, issuer, "", on)
    _para(doc, title, size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=24, after=12)
    first, *rest = paragraphs
    _para(doc, first.format(**values), align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    for text in rest:
        p = _para(doc, text.format(**values), indent_first=True)
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _sign_off(doc, issuer, ["Như trên;", "Lưu: VT, BPMC."])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
