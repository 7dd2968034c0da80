"""The Word reports' tables (report_docx._grid) are written as one WordprocessingML string (issue 13: a
province's report of the year took 15 s cell by cell). The XML must be what python-docx itself builds,
element for element: the reference below is the python-docx code _grid was, run on hostile text."""
from __future__ import annotations

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from sync.server.reports import report_docx as rd


def python_docx_grid(doc, headers, rows, widths_mm):
    """_grid as python-docx builds it, cell by cell (the code before the fast path)."""
    t = doc.add_table(rows=1 + len(rows), cols=len(headers))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    table_rows = list(t.rows)
    for cell, h in zip(table_rows[0].cells, headers):
        rd._cell_text(cell, h, size=12, bold=True)
    for row, values in zip(table_rows[1:], rows):
        for i, (cell, v) in enumerate(zip(row.cells, values)):
            align = WD_ALIGN_PARAGRAPH.LEFT if i == 1 else WD_ALIGN_PARAGRAPH.CENTER
            rd._cell_text(cell, str(v), size=12, align=align)
    rd._widths(t, [Mm(w) for w in widths_mm])
    trpr = t.rows[0]._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)
    rd._para(doc, after=4)
    return t


def canonical(tbl) -> bytes:
    return etree.tostring(tbl, method="c14n")


def both(headers, rows, widths):
    fast_doc, ref_doc = rd._new_document(), rd._new_document()
    fast = rd._grid(fast_doc, headers, rows, widths)
    ref = python_docx_grid(ref_doc, headers, rows, widths)
    assert canonical(fast._tbl) == canonical(ref._tbl)
    # the same body around it: the table where python-docx puts it (before sectPr), then the spacer
    assert [c.tag for c in fast_doc.element.body] == [c.tag for c in ref_doc.element.body]
    assert canonical(fast_doc.element.body) == canonical(ref_doc.element.body)
    return fast


def test_a_figures_table_is_the_python_docx_table():
    rows = [[str(i), f"Nguyễn Thị Hồng Nhung {i}", "123", "120", "3", "0", "97,56"] for i in range(1, 30)]
    t = both([h.format(what="Cán bộ") for h in rd.FIG_HEADERS], rows, rd.FIG_WIDTHS)
    assert t.rows[3].cells[1].text == "Nguyễn Thị Hồng Nhung 3" and len(t.rows) == 30


def test_hostile_and_awkward_cell_text():
    rows = [["1", "  a <b> & \"c\" 'd'  ", ""], ["2", "tab\there\nline\r\nbreak\rend", "=1+1"],
            ["3", "ctl\x00\x07\x1b chars \ud800?" .encode("utf-8", "surrogatepass").decode("utf-8", "replace"), " "],
            ["4", "e\u0301 (NFD) 😀 中文", "\u00a0"]]
    both(["TT", "Nội dung", "Ghi chú"], rows, [10, 80, 40])
    both(["TT", "Không có dòng"], [], [10, 80])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), min_size=3, max_size=3), max_size=6))
def test_any_text(rows):
    both(["TT", "Tên", "Số"], rows, [10, 60, 20])


PARA_CASES = [dict(text="Tên (k):", bold=True, keep_next=True, after=0),
              dict(text="- tiêu chí: vì  ", indent_first=True, after=0), dict(after=2), dict(),
              dict(text="giữa\tdòng\nmới", size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=18, after=0),
              dict(text="<b>&", align=WD_ALIGN_PARAGRAPH.RIGHT, before=6), dict(text="x", align=WD_ALIGN_PARAGRAPH.LEFT),
              dict(text="căn đều", indent_first=True, align=WD_ALIGN_PARAGRAPH.CENTER),
              dict(text="nghiêng", italic=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=4),
              dict(text="gạch dưới", underline=True, bold=True), dict(text="cả hai", italic=True, underline=True,
                                                                      indent_first=True, size=12)]


def test_paragraphs_written_at_once_are_the_python_docx_paragraphs():
    fast_doc, ref_doc = rd._new_document(), rd._new_document()
    rd._para(fast_doc, "trước")
    rd._para(ref_doc, "trước")
    rd._paras(fast_doc, [rd._para_xml(**case) for case in PARA_CASES])
    for case in PARA_CASES:
        rd._para(ref_doc, **case)
    rd._para(fast_doc, "sau")
    rd._para(ref_doc, "sau")
    assert canonical(fast_doc.element.body) == canonical(ref_doc.element.body)
    assert [p.text for p in fast_doc.paragraphs] == [p.text for p in ref_doc.paragraphs]


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=20), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 24), st.integers(0, 24),
       st.booleans(), st.booleans())
def test_any_paragraph(text, bold, indent_first, keep_next, before, after, italic, underline):
    case = dict(text=text, bold=bold, indent_first=indent_first, keep_next=keep_next, before=before, after=after,
                italic=italic, underline=underline)
    fast_doc, ref_doc = rd._new_document(), rd._new_document()
    rd._paras(fast_doc, [rd._para_xml(**case)])
    rd._para(ref_doc, **case)
    assert canonical(fast_doc.element.body) == canonical(ref_doc.element.body)


def test_a_raw_documents_paragraphs_and_tables_are_the_python_docx_ones():
    """In a raw document (report() and score_annex()) _para, _paras and _grid keep XML strings that
    _save writes in place: the saved body is the one python-docx builds and saves."""
    import io

    from docx import Document
    rows = [["1", "  a <b> & \"c\"  ", "x\ty"], ["2", "dòng\nmới", ""]]

    def build(raw):
        doc = rd._new_document(raw=raw)
        rd._para(doc, "trước", italic=True, align=WD_ALIGN_PARAGRAPH.CENTER)
        rd._grid(doc, ["TT", "Nội dung", "Ghi chú"], rows, [10, 80, 40])
        rd._paras(doc, [rd._para_xml(**case) for case in PARA_CASES])
        rd._para(doc, "sau", underline=True, keep_next=True)
        return Document(io.BytesIO(rd._save(doc)))

    fast, ref = build(True), build(False)
    assert canonical(fast.element.body) == canonical(ref.element.body)
    assert [p.text for p in fast.paragraphs] == [p.text for p in ref.paragraphs]
    assert fast.tables[0].cell(1, 1).text == "  a <b> & \"c\"  "
