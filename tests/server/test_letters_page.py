"""The letters page (issue 10): all four kinds of protocol.LETTER_KINDS as Word letters, and a form
that keeps what was typed when one field is wrong (31/02), naming the field. Against a real server
(tests/town.py), with the session's CSRF token as the pages send it."""
from __future__ import annotations

import io
import re
from html import unescape

import docx
import pytest
from town import Town, csrf_of, session_for

from sync import protocol
from sync.server.reports import letters_docx


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"), db=module_town_db)
    yield t
    t.stop()


def _text(raw: bytes) -> str:
    d = docx.Document(io.BytesIO(raw))
    cells = [p.text for t in d.tables for row in t.rows for c in row.cells for p in c.paragraphs]
    return "\n".join([p.text for p in d.paragraphs] + cells)


KINDS = {  # form value -> (title, words of the kind's own text)
    "cam_on": ("THƯ CẢM ƠN", "trân trọng cảm ơn Ông/Bà"),
    # the one-stop desk's form for a late dossier (TT 03/2025/TT-VPCP, after TT 01/2018's)
    "xin_loi_hen_lai": ("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
                        "hẹn trả kết quả giải quyết hồ sơ vào ngày 05/12/2026"),
    "chuc_mung": ("THƯ CHÚC MỪNG", "lời chúc mừng tốt đẹp nhất"),
    "chia_buon": ("THƯ CHIA BUỒN", "lời chia buồn sâu sắc nhất"),
}


def test_the_page_offers_the_four_kinds(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    html = s.get(town.url + "/admin/letters", timeout=30).text
    offered = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', html)
    assert offered == [("cam_on", "Thư cảm ơn"), ("xin_loi_hen_lai", "Thư xin lỗi và hẹn lại"),
                       ("chuc_mung", "Thư chúc mừng"), ("chia_buon", "Thư chia buồn")]
    s.get(town.url + "/lang/en", timeout=30)
    html = s.get(town.url + "/admin/letters", timeout=30).text
    assert ("chia_buon", "Condolence") in re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', html)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_downloads_as_a_word_letter_for_the_citizen(town, kind):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + "/admin/letters", timeout=30)
    form = {"csrf": csrf_of(page.text), "kind": kind, "name": "Lê Thị Hoa", "dossier": "H-2026-077",
            "procedure": "Đăng ký kết hôn", "officer": "Trần Văn Đức",
            "new_date": "05/12/2026" if kind == "xin_loi_hen_lai" else ""}
    r = s.post(town.url + "/admin/letters", data=form, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert f'filename="thu-{kind.replace("_", "-")}-H-2026-077.docx"' in r.headers["content-disposition"]
    text = _text(r.content)
    title, words = KINDS[kind]
    assert title in text and words in text and "Lê Thị Hoa" in text
    assert "Đăng ký kết hôn" in text and "H-2026-077" in text and "{" not in text


def test_letters_keep_the_kiosks_wording():
    assert set(letters_docx.LETTERS) == set(protocol.LETTER_KINDS)
    text = _text(letters_docx.letter("chuc_mung", {"name": "An"}))
    assert "Chính quyền thân thiện vì nhân dân phục vụ" in text
    assert "Chúc gia đình Ông/Bà luôn mạnh khỏe, hạnh phúc và vạn sự như ý!" in text      # assets/letters
    assert "Xin thành kính phân ưu cùng gia đình" in _text(letters_docx.letter("chia_buon", {}))


@pytest.mark.parametrize("lang, said", [
    ("vi", "Ngày hẹn mới (dd/mm/yyyy): 31/02/2026 không phải một ngày có thật; ghi ngày/tháng/năm, ví dụ 05/12/2026."),
    ("en", "New date (dd/mm/yyyy): 31/02/2026 is not a real date; write day/month/year, e.g. 05/12/2026."),
])
def test_an_impossible_date_keeps_the_form_and_names_the_field(town, lang, said):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    s.get(town.url + f"/lang/{lang}", timeout=30)
    page = s.get(town.url + "/admin/letters", timeout=30)
    form = {"csrf": csrf_of(page.text), "kind": "xin_loi_hen_lai", "name": "Nguyễn Văn Bình", "dossier": "H-31",
            "procedure": "Chứng thực bản sao", "officer": "Phạm Quốc Hưng", "new_date": "31/02/2026"}
    r = s.post(town.url + "/admin/letters", data=form, timeout=30)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert unescape(re.search(r'id="letter-error">(.*?)</p>', r.text)[1]) == said
    for field in ("name", "dossier", "procedure", "officer", "new_date"):
        assert f'value="{form[field]}"' in r.text, field
    assert '<option value="xin_loi_hen_lai" selected>' in r.text
    assert re.search(r'name="new_date"[^>]*aria-invalid="true"', r.text)
