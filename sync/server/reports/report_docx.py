"""The periodic report as a Word file (python-docx), ND 30/2020 layout (the letters: letters_docx).

Nghị định 30/2020/NĐ-CP (công tác văn thư), Phụ lục I: A4 paper, Times New
Roman 13–14 pt, margins top/bottom 20–25 mm, left 30–35 mm, right 15–20 mm;
a header of two columns — issuing body on the left (parent body upper case,
issuing body upper case bold, a short rule under it; then "Số: …/BC-UBND"),
the national motto on the right ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" bold,
"Độc lập - Tự do - Hạnh phúc" bold, underlined; then the place and date in
italics); the title bold and centred; at the end "Nơi nhận:" on the left and
the signature block on the right.

The document leaves the number blank ("Số:      /BC-UBND") for the văn thư
to fill in when it is registered, as is the practice.

Every text goes in through one run (``_para``, ``_cell_text``) with control
characters and lone surrogates replaced by U+FFFD (sync/cells.clean_text):
a comment stored before the server refused them never breaks the file.
"""
from __future__ import annotations

import io
import re
import threading
import unicodedata
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.oxml import serialize_part_xml
from docx.opc.packuri import CONTENT_TYPES_URI, PACKAGE_URI
from docx.opc.pkgwriter import _ContentTypesItem
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt
from docx.table import Table
from lxml import etree

from sync.cells import clean_text
from sync.protocol import LETTER_KINDS
from sync.server.core.settings import known_surveys
from sync.server.core.signing import public_key_shown
from sync.server.reports import case_figures, charts, scoring, survey_results
from sync.server.reports.periods import Period, data_until, today_vn, trend_step
from sync.server.reports.stats import Figures, Filter, Stats, satisfied_levels

FONT = "Times New Roman"
BODY_PT = 13


@dataclass
class Issuer:
    """Who issues the report, and where: read from the server's settings."""
    parent: str = "UBND TỈNH ĐỒNG THÁP"
    body: str = "UBND XÃ ĐỒNG TÂM"
    body_full: str = "Ủy ban nhân dân xã Đồng Tâm"
    place: str = "Đồng Tâm"
    symbol: str = "BC-UBND"
    signer_on_behalf: str = "TM. ỦY BAN NHÂN DÂN"
    signer_title: str = "CHỦ TỊCH"
    signer_name: str = ""
    recipients: list[str] = field(default_factory=lambda: [
        "UBND tỉnh (để báo cáo);", "Sở Nội vụ (để báo cáo);", "Thường trực Đảng ủy, HĐND xã;",
        "Ủy ban MTTQ Việt Nam xã;", "Lưu: VT."])


@dataclass
class ReportData:
    period: Period
    overall: Figures
    officers: list[Figures]
    desks: list[Figures]
    procedures: list[Figures]
    reasons: dict[str, int]
    reason_labels: dict[str, str]
    level_labels: dict[int, str]
    trend: list[Figures]
    comments: list[dict]
    #: the levels that count as satisfied, in scale order ("Rất hài lòng", "Hài lòng")
    satisfied_labels: list[str] = field(default_factory=list)
    comment_total: int = 0
    #: reason code → how many of the ratings naming it were satisfied (praise, not complaint)
    reasons_satisfied: dict[str, int] = field(default_factory=dict)
    #: an officer's report (the filter names one): {"id", "name"}; None: the unit's report
    officer: dict | None = None
    #: the figures of the whole filter without the officer, beside an officer's own
    whole: Figures | None = None
    #: what was done about the ratings: cases, actions, letters (reports/case_figures.py)
    cases: case_figures.CaseFigures | None = None
    #: the emulation score of every unit and officer (the annex: a unit's report of a year)
    scores: scoring.ScoreSheet | None = None
    #: the server's evidence-pack public key as printed (core/signing.py); None before one exists
    public_key: str | None = None
    #: per survey answered (survey_results.SurveyFigures, most ratings first), and each one's
    #: questions (survey id → QuestionFigures, the headline first) when it asks more than the headline
    surveys: list = field(default_factory=list)
    survey_questions: dict = field(default_factory=dict)
    #: on time beside satisfaction per procedure (survey_results.TimelinessFigures), dated ones only
    on_time_procedures: list = field(default_factory=list)
    #: the trend as the report's PNG (charts.trend_png), drawn by gather while the other figures are
    #: read; None: report() draws it
    trend_chart: bytes | None = None


def gather(stats: Stats, flt: Filter, names: dict[str, dict[str, str]], today: date | None = None) -> ReportData:
    """Everything the report shows, from the statistics (names: dim -> code -> name).

    A filter that names an officer makes that officer's report: their own figures,
    and the unit's rate beside them for comparison. The cases' figures follow the
    filter's unit and officer (a case has no desk or procedure). The score annex
    ("Phụ lục: Kết quả chấm điểm thi đua") comes after the signature of a year's
    report of a unit — the emulation council's period; any other period's annex
    downloads from the scores page (score_annex)."""
    def named(rows, dim):
        for f in rows:
            f.name = names.get(dim, {}).get(f.key) or (f.key or "(không ghi thủ tục)")
        return rows

    step = trend_step(flt.period)
    today = today or today_vn()
    others = officer = None
    if flt.officer:
        officer = {"id": flt.officer, "name": names.get("officer", {}).get(flt.officer) or flt.officer}
        others = Filter(flt.period, unit=flt.unit, desk=flt.desk, procedure=flt.procedure)

    def done_about_it():
        with stats.reader.connect() as conn:
            cases = case_figures.figures(conn, flt.period, today, unit=flt.unit, officer=flt.officer).overall
            scores = (scoring.sheet(stats, conn, flt.period, today, unit=flt.unit)
                      if flt.period.kind == "year" and not (flt.officer or flt.desk or flt.procedure) else None)
            return cases, scores, public_key_shown(conn), known_surveys(conn)

    def dashboard_and_chart():
        dash = stats.dashboard(flt, step, comments=10)
        return dash, charts.trend_png(dash.trend) if dash.trend else None

    jobs = {
        "dash": dashboard_and_chart,
        "done": done_about_it,
        "surveys": lambda: survey_results.survey_breakdown(stats.reader, flt),
        "timeliness": lambda: survey_results.timeliness(stats.reader, flt, "procedure"),
        "comment_total": lambda: stats.comment_count(flt),
    }
    if others:
        jobs["whole"] = lambda: stats.dashboard(others, step, comments=0).overall
    got = _side_by_side(stats.reader, jobs)
    (dash, chart), whole, surveys = got["dash"], got.get("whole"), got["surveys"]
    cases, scores, key, known = got["done"]
    questions = {s.survey_id: survey_results.question_results(stats.reader, flt, known[s.survey_id])
                 for s in surveys if survey_results.questions_of(known.get(s.survey_id) or {})}
    dated = [t for t in got["timeliness"] if t.dated]
    for t in dated:
        t.name = t.name or names.get("procedure", {}).get(t.key) or t.key or "(không ghi thủ tục)"
    return ReportData(
        surveys=surveys, survey_questions=questions, on_time_procedures=dated,
        cases=cases, scores=scores, public_key=key,
        period=flt.period, overall=dash.overall,
        officers=named(dash.by["officer"], "officer"),
        desks=named(dash.by["desk"], "desk"),
        procedures=named(dash.by["procedure"], "procedure"),
        reasons=dash.reasons, reasons_satisfied=dash.reasons_satisfied,
        reason_labels={c: vi for c, (vi, _en) in stats.reasons.items()},
        level_labels={lv: stats.level_label(lv) for lv in stats.levels},
        trend=dash.trend, comments=dash.comments,
        satisfied_labels=[stats.level_label(lv) for lv in satisfied_levels(stats.scale)],
        comment_total=got["comment_total"], officer=officer, whole=whole, trend_chart=chart)


#: how many reports may read side by side at once: each takes up to one pooled connection a job
#: (the read-only engine's pool: 8 + 16 overflow); more reports at once read in turn
_SIDE_BY_SIDE = threading.BoundedSemaphore(2)


def _side_by_side(reader, jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each job's result by name: on PostgreSQL the jobs run at once, each on its own connection.

    The report's figures are some ten independent reads of the roll-up (the
    dashboard's scan, the scores, surveys, timeliness, comments…): a
    province's year is ~0.5 s of queries one after the other (issue 13),
    which the database can run side by side on its cores, while the trend's
    chart is drawn (matplotlib: ~0.25 s of Python) as soon as the
    dashboard's figures are in. SQLite runs them one after the other as
    before (one file; an in-memory database is one connection's own), and so
    does a report asked while two others are reading side by side: a crowd
    of downloads never holds more than two reports' connections of the pool
    (some jobs take a second one inside). A job's exception is raised here,
    as it would be called in turn.
    """
    if reader.dialect.name != "postgresql" or not _SIDE_BY_SIDE.acquire(blocking=False):
        return {name: job() for name, job in jobs.items()}
    try:
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="report") as pool:
            running = {name: pool.submit(job) for name, job in jobs.items()}
            return {name: future.result() for name, future in running.items()}
    finally:
        _SIDE_BY_SIDE.release()


def slug(text: str) -> str:
    """ASCII for a file name: "Trần Văn Đức" -> "tran-van-duc"."""
    text = unicodedata.normalize("NFKD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60] or "x"


def file_name(data: ReportData) -> str:
    """The report's file name: the period, and for an officer's report the officer's id and name."""
    base = f"hailong-{data.period.key.replace('..', '_')}-bao-cao"
    if data.officer:
        ident, name = slug(data.officer["id"]), slug(data.officer["name"])
        base += f"-can-bo-{ident}" + (f"-{name}" if name != ident else "")
    return base + ".docx"


# --- low-level formatting -----------------------------------------------------

def _vn_number(value: float | None) -> str:
    """75.0 -> "75,0" (Vietnamese decimal comma); None -> "–"."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",")


def _set_rfonts(rpr) -> None:
    """Times New Roman for every script: Word picks the font per script (w:rFonts)."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        rfonts.set(qn(attr), FONT)


def _set_font(run, size=BODY_PT, bold=None, italic=None, underline=None):
    run.font.name = FONT
    run.font.size = Pt(size)
    _set_rfonts(run._element.get_or_add_rPr())
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic
    if underline is not None:
        run.underline = underline
    return run


def _para(container, text="", size=BODY_PT, bold=False, italic=False, underline=False,
          align=None, before=0, after=6, indent_first=False, keep_next=False):
    """A paragraph at the end of ``container``; in a raw document's body (``_new_document(raw=True)``)
    written as XML (``_para_xml``, the same element) and None returned."""
    if _raw_place(container, lambda: _para_xml(text, size, bold, align, before, after, indent_first, keep_next,
                                               italic, underline)):
        return None
    p = container.add_paragraph()
    if text:
        _set_font(p.add_run(clean_text(str(text))), size, bold, italic, underline)
    fmt = p.paragraph_format
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(after)
    if indent_first:
        fmt.first_line_indent = Mm(10)
        if align is None:
            align = WD_ALIGN_PARAGRAPH.JUSTIFY
    if keep_next:
        fmt.keep_with_next = True
    if align is not None:
        p.alignment = align
    return p


def _widths(table, widths):
    """Column widths that both Word (tcW) and LibreOffice (tblGrid) honour."""
    table.autofit = False
    for col, w in zip(table.columns, widths):
        col.width = w
    for row in table.rows:
        for cell, w in zip(row.cells, widths):
            cell.width = w
        trpr = row._tr.get_or_add_trPr()
        cant = OxmlElement("w:cantSplit")
        cant.set(qn("w:val"), "true")
        trpr.append(cant)


def _no_borders(table):
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def _cell_text(cell, text, size=BODY_PT, bold=False, italic=False, underline=False,
               align=WD_ALIGN_PARAGRAPH.CENTER, first=True):
    p = cell.paragraphs[0] if first else cell.add_paragraph()
    p.alignment = align
    p.paragraph_format.space_after = Pt(0)
    p.paragraph_format.space_before = Pt(0)
    if text:
        _set_font(p.add_run(clean_text(str(text))), size, bold, italic, underline)
    return p


def _short_rule(cell, indent_twips=1100):
    """The short solid line under the issuing body, and under the title (ND30:
    1/3 to 1/2 of the line above), drawn as the bottom border of an indented
    empty paragraph."""
    p = cell.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.space_after = Pt(2)
    ppr = p._p.get_or_add_pPr()
    # a centred paragraph narrowed by indents, with a bottom border = a short rule
    ind = OxmlElement("w:ind")
    ind.set(qn("w:left"), str(indent_twips))
    ind.set(qn("w:right"), str(indent_twips))
    ppr.append(ind)
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), "6")
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), "000000")
    border.append(bottom)
    ppr.append(border)
    p.paragraph_format.line_spacing = Pt(2)
    return p


def _new_document(raw: bool = False) -> Document:
    """An empty A4 document in the reports' style. ``raw``: the body's paragraphs (``_para``, ``_paras``)
    and tables (``_grid``) are kept as WordprocessingML strings and written into document.xml as they are
    when ``_save`` saves it — never parsed into lxml elements and serialized back (issue 13: a province's
    report of the year, ~400,000 elements: a third of the time). Such a document is only written: its body
    does not hold those paragraphs and tables (``doc.paragraphs`` does not see them)."""
    doc = Document()
    if raw:
        doc._hailong_raw = []
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
    sec.left_margin, sec.right_margin = Mm(30), Mm(15)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    _set_rfonts(normal.element.get_or_add_rPr())
    normal.paragraph_format.line_spacing = 1.15
    return doc


def _same(text: str, **kw) -> str:
    """The Vietnamese text itself (the official documents' language): the translator by default."""
    return text.format(**kw) if kw else text


def _header(doc, issuer: Issuer, number_symbol: str, on: date, _=_same):
    """ND30 header: issuing body | national motto; number | place and date (``_``: another
    language's words for the motto and the date, the campaign report's English version)."""
    t = doc.add_table(rows=2, cols=2)
    _no_borders(t)
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(t, (Mm(70), Mm(95)))
    left, right = t.rows[0].cells
    if issuer.parent:
        _cell_text(left, issuer.parent.upper(), size=12)
    _cell_text(left, issuer.body.upper(), size=12, bold=True, first=not issuer.parent)
    _short_rule(left)
    _cell_text(right, _("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), size=12, bold=True)
    _cell_text(right, _("Độc lập - Tự do - Hạnh phúc"), size=13, bold=True, underline=True, first=False)
    num, place = t.rows[1].cells
    _cell_text(num, number_symbol, size=13).paragraph_format.space_before = Pt(6)
    _cell_text(place, _("{place}, ngày {d:02d} tháng {m:02d} năm {y}", place=issuer.place, d=on.day, m=on.month,
                        y=on.year), size=13, italic=True).paragraph_format.space_before = Pt(6)


#: under the signer's title when the settings hold no name: the signer writes it by hand
SIGN_HINT = "(Ký, ghi rõ họ tên và đóng dấu)"


def _sign_off(doc, issuer: Issuer, recipients: list[str], _=_same):
    """"Nơi nhận" on the left; on the right the signer's authority and title, room to sign, and the
    signer's name from the settings (ND30). With no name set, the hint asks for it by hand instead:
    never the hint above a printed name, never an empty name line."""
    t = doc.add_table(rows=1, cols=2)
    _no_borders(t)
    _widths(t, (Mm(80), Mm(85)))
    left, right = t.rows[0].cells
    _cell_text(left, _("Nơi nhận:"), size=12, bold=True, italic=True, align=WD_ALIGN_PARAGRAPH.LEFT)
    for r in recipients:
        _cell_text(left, f"- {r}", size=11, align=WD_ALIGN_PARAGRAPH.LEFT, first=False)
    if issuer.signer_on_behalf:
        _cell_text(right, issuer.signer_on_behalf, size=13, bold=True)
        _cell_text(right, issuer.signer_title, size=13, bold=True, first=False)
    else:
        _cell_text(right, issuer.signer_title, size=13, bold=True)
    name = (issuer.signer_name or "").strip()
    if not name:
        _cell_text(right, _(SIGN_HINT), size=13, italic=True, first=False)
    for _blank in range(4):
        _cell_text(right, "", first=False)
    if name:
        _cell_text(right, name, size=13, bold=True, first=False)


def _field(paragraph, code: str, size: int = 12):
    """A Word field (PAGE, NUMPAGES) in ``paragraph``: Word and LibreOffice fill it in when shown."""
    def char(kind):
        run = _set_font(paragraph.add_run(), size)
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._r.append(el)
    char("begin")
    run = _set_font(paragraph.add_run(), size)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {code} "
    run._r.append(instr)
    char("separate")
    _set_font(paragraph.add_run("1"), size)      # shown until the field is updated
    char("end")


def _page_numbers(doc, _=_same):
    """"Trang 2/5" centred in the footer of every page (fields PAGE and NUMPAGES)."""
    footer = doc.sections[0].footer
    p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _set_font(p.add_run(_("Trang") + " "), 12)
    _field(p, "PAGE")
    _set_font(p.add_run("/"), 12)
    _field(p, "NUMPAGES")


def _run_xml(text: str, half_points: int, bold: bool, italic: bool = False, underline: bool = False) -> str:
    """One run as WordprocessingML, as python-docx's add_run + _set_font write it: Times New Roman for
    every script, the size, bold or not, italic or not, underlined or not; a tab is <w:tab/>, a line break
    <w:br/>, text with edge spaces keeps them (xml:space)."""
    parts = []
    for piece in re.split(r"([\t\n\r])", clean_text(text)):
        if piece == "\t":
            parts.append("<w:tab/>")
        elif piece in ("\n", "\r"):   # each one a break, \r\n two (as python-docx does)
            parts.append("<w:br/>")
        elif piece:
            space = ' xml:space="preserve"' if piece != piece.strip() else ""
            parts.append(f"<w:t{space}>{xml_escape(piece)}</w:t>")
    fonts = f'w:ascii="{FONT}" w:hAnsi="{FONT}" w:cs="{FONT}" w:eastAsia="{FONT}"'
    b = "<w:b/>" if bold else '<w:b w:val="0"/>'
    i = "<w:i/>" if italic else '<w:i w:val="0"/>'
    u = '<w:u w:val="single"/>' if underline else '<w:u w:val="none"/>'
    return (f'<w:r><w:rPr><w:rFonts {fonts}/>{b}{i}'
            f'<w:sz w:val="{half_points}"/>{u}</w:rPr>{"".join(parts)}</w:r>')


_JC = {WD_ALIGN_PARAGRAPH.LEFT: "left", WD_ALIGN_PARAGRAPH.CENTER: "center", WD_ALIGN_PARAGRAPH.RIGHT: "right",
       WD_ALIGN_PARAGRAPH.JUSTIFY: "both"}


def _para_xml(text="", size=BODY_PT, bold=False, align=None, before=0, after=6, indent_first=False,
              keep_next=False, italic=False, underline=False) -> str:
    """``_para``'s paragraph as WordprocessingML, the same XML python-docx writes
    (tests/server/test_report_grid_xml.py)."""
    if indent_first and align is None:
        align = WD_ALIGN_PARAGRAPH.JUSTIFY
    ppr = ("<w:keepNext/>" if keep_next else "") + \
        f'<w:spacing w:after="{Pt(after).twips}" w:before="{Pt(before).twips}"/>' + \
        (f'<w:ind w:firstLine="{Mm(10).twips}"/>' if indent_first else "") + \
        (f'<w:jc w:val="{_JC[align]}"/>' if align is not None else "")
    run = _run_xml(str(text), int(Pt(size).pt * 2), bold, italic, underline) if text else ""
    return f"<w:p><w:pPr>{ppr}</w:pPr>{run}</w:p>"


def _paras(doc, paragraphs: list[str]) -> None:
    """Many ``_para_xml`` paragraphs added at the end of the body at once: one parse, and each placed
    before the body's sectPr found once (python-docx looks for it again for every paragraph)."""
    if not paragraphs:
        return
    if _raw_place(doc, lambda: "".join(paragraphs)):
        return
    holder = parse_xml(f'<w:body {nsdecls("w")}>{"".join(paragraphs)}</w:body>')
    body = doc.element.body
    sect = body.find(qn("w:sectPr"))
    for p in list(holder):
        if sect is not None:
            sect.addprevious(p)
        else:
            body.append(p)


def _grid(doc, headers: list[str], rows: list[list[str]], widths_mm: list[float]):
    """A ruled table (Table Grid, centred, fixed widths, rows that do not split, the header row repeated
    on every page), header bold, the second column left-aligned, 12 pt.

    Written as one WordprocessingML string parsed once: python-docx cell by cell (cell objects, runs,
    fonts, insert_element_before) took ~4 ms a row, 15 s for a province's report of the year; the
    XML is the same element for element (tests/server/test_report_grid_xml.py checks it against the
    python-docx build)."""
    xml = _grid_xml(headers, rows, widths_mm)
    tbl = None
    if not _raw_place(doc, lambda: xml):
        tbl = parse_xml(xml.replace("<w:tbl>", f'<w:tbl {nsdecls("w")}>', 1))
        doc.element.body._insert_tbl(tbl)
    _para(doc, after=4)
    return Table(tbl, doc._body) if tbl is not None else None


def _grid_xml(headers: list[str], rows: list[list[str]], widths_mm: list[float]) -> str:
    """``_grid``'s table as WordprocessingML (the w: prefix not declared: the document's root declares it)."""
    twips = [Mm(w).twips for w in widths_mm]
    size = Pt(12).pt * 2
    half = int(size)

    def row_xml(values, header: bool) -> str:
        cells = []
        for i, (value, w) in enumerate(zip(values, twips)):
            align = "left" if i == 1 and not header else "center"
            text = str(value)
            run = _run_xml(text, half, header) if text else ""
            cells.append(f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{w}"/></w:tcPr><w:p><w:pPr>'
                         f'<w:spacing w:after="0" w:before="0"/><w:jc w:val="{align}"/></w:pPr>{run}</w:p></w:tc>')
        cells += [f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{w}"/></w:tcPr><w:p/></w:tc>' for w in twips[len(values):]]
        head = '<w:tblHeader w:val="true"/>' if header else ""
        return f'<w:tr><w:trPr><w:cantSplit w:val="true"/>{head}</w:trPr>{"".join(cells)}</w:tr>'

    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in twips)
    return ('<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:type="auto" w:w="0"/>'
           '<w:jc w:val="center"/><w:tblLayout w:type="fixed"/><w:tblLook w:firstColumn="1" w:firstRow="1" '
           'w:lastColumn="0" w:lastRow="0" w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr>'
           f'<w:tblGrid>{grid}</w:tblGrid>{row_xml(headers, True)}'
           + "".join(row_xml(values, False) for values in rows) + "</w:tbl>")


_RAW_MARK = re.compile(rb"<!--hailong-raw-(\d+)-->")
#: the .docx's zip: deflate level 3 (python-docx: zlib's 6): a province's year, 10.6 MB of document.xml,
#: in 20 ms instead of 50 ms, 210 KB instead of 140 KB
ZIP_LEVEL = 3


def _raw_place(container, xml) -> bool:
    """In a raw document's body, ``xml()`` kept for ``_save`` and a comment marking its place put where
    python-docx puts a new paragraph (before the body's last sectPr); False elsewhere (a table cell, a
    document not made raw): the caller builds the elements itself."""
    chunks = getattr(container, "_hailong_raw", None)
    if chunks is None:
        return False
    mark = etree.Comment(f"hailong-raw-{len(chunks)}")
    chunks.append(xml())
    body = container.element.body
    sect = body.find(qn("w:sectPr"))
    if sect is not None:
        sect.addprevious(mark)
    else:
        body.append(mark)
    return True


def _save(doc) -> bytes:
    """The document as .docx bytes. A raw document's (``_new_document(raw=True)``) kept XML goes into
    document.xml in place of its markers; the package is written as python-docx's doc.save writes it
    (PackageWriter: content types, package rels, each part and its rels), at ``ZIP_LEVEL``."""
    chunks = getattr(doc, "_hailong_raw", None)
    buf = io.BytesIO()
    main = doc.part
    package = main.package
    parts = package.parts
    for part in parts:
        part.before_marshal()
    encoded = [c.encode("utf-8") for c in chunks or ()]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as z:
        z.writestr(CONTENT_TYPES_URI.membername, _ContentTypesItem.from_parts(parts).blob)
        z.writestr(PACKAGE_URI.rels_uri.membername, package.rels.xml)
        for part in parts:
            if part is main and encoded:
                blob = _RAW_MARK.sub(lambda m: encoded[int(m[1])], serialize_part_xml(main.element))
            else:
                blob = part.blob
            z.writestr(part.partname.membername, blob)
            if len(part.rels):
                z.writestr(part.partname.rels_uri.membername, part.rels.xml)
    return buf.getvalue()


def _figure_rows(rows: list[Figures]) -> list[list[str]]:
    return [[str(i), f.name or f.key or "", str(f.valid), str(f.satisfied), str(f.valid - f.satisfied),
             str(f.misuse), _vn_number(f.rate)] for i, f in enumerate(rows, 1)]


#: "Hài lòng (mọi mức)": every satisfied rating, not the level "Hài lòng" (the levels' table)
FIG_HEADERS = ["TT", "{what}", "Số đánh giá hợp lệ", "Hài lòng (mọi mức)", "Chưa hài lòng (mọi mức)",
               "Nghi lạm dụng", "Tỷ lệ hài lòng (%)"]
FIG_WIDTHS = [10, 47, 20, 22, 24, 20, 22]


# --- the report -----------------------------------------------------------------

def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text else text


#: report() and score_annex() build raw documents (``_new_document(raw=True)``); False: python-docx's
#: elements throughout (tests/server/test_report_speed_raw.py: the same document.xml either way)
RAW = True


def report(data: ReportData, issuer: Issuer | None = None, on: date | None = None) -> bytes:
    """Báo cáo kết quả khảo sát mức độ hài lòng, as .docx bytes: the unit's, or one officer's
    (``data.officer``: its own title, the officer's figures, the unit's rate beside them)."""
    issuer = issuer or Issuer()
    on = on or date.today()
    doc = _new_document(raw=RAW)
    _page_numbers(doc)
    _header(doc, issuer, f"Số:        /{issuer.symbol}", on)
    o = data.overall
    label = _lower_first(data.period.label())
    officer = data.officer
    who = f"cán bộ {officer['name']}" if officer else ""
    _para(doc, "BÁO CÁO", size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=18, after=0)
    if officer:
        _para(doc, f"Kết quả đánh giá của người dân, tổ chức đối với {who}", size=14, bold=True,
              align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
        _para(doc, f"trong việc giải quyết thủ tục hành chính {label}", size=14, bold=True,
              align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    else:
        _para(doc, "Kết quả khảo sát mức độ hài lòng của người dân, tổ chức", size=14, bold=True,
              align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
        _para(doc, f"đối với việc giải quyết thủ tục hành chính {label}",
              size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _short_rule(doc, indent_twips=3100)     # ~55 mm of the 165 mm line
    until = data_until(data.period, on)
    if until:
        _para(doc, f"Số liệu đến ngày {until:%d/%m/%Y} (kỳ báo cáo chưa kết thúc).", italic=True,
              align=WD_ALIGN_PARAGRAPH.CENTER, before=4)
    span = f"từ ngày {data.period.first_day:%d/%m/%Y} đến ngày {data.period.last_day:%d/%m/%Y}"
    if until:
        span += f"; số liệu đến ngày {until:%d/%m/%Y}"
    about = f"đối với {who} " if officer else ""
    _para(doc, f"Thực hiện nhiệm vụ khảo sát, đánh giá mức độ hài lòng của người dân, tổ chức tại "
               f"Bộ phận Một cửa, {issuer.body_full} báo cáo kết quả {about}{label} ({span}) "
               "như sau:", indent_first=True, before=6)

    satisfied_levels_text = ", ".join(data.satisfied_labels)
    levels_note = f" (gồm các mức {satisfied_levels_text})" if satisfied_levels_text else ""
    if officer:
        _para(doc, f"I. KẾT QUẢ CỦA CÁN BỘ {officer['name'].upper()}", bold=True, keep_next=True)
    else:
        _para(doc, "I. KẾT QUẢ CHUNG", bold=True, keep_next=True)
    whose = f" về {who}" if officer else ""
    _para(doc, f"Tổng số lượt đánh giá ghi nhận{whose}: {o.total}; trong đó {o.misuse} lượt bị đánh dấu nghi "
               f"lạm dụng (bấm lặp liên tục) được giữ lại nhưng không tính vào tỷ lệ; số lượt đánh giá "
               f"hợp lệ: {o.valid}.", indent_first=True)
    if officer:
        _para(doc, f"Số lượt hài lòng{levels_note}: {o.satisfied}. Tỷ lệ hài lòng của {who}: "
                   f"{_vn_number(o.rate)}% (số lượt hài lòng chia cho số lượt đánh giá hợp lệ).", indent_first=True)
        if data.whole is not None:
            _para(doc, f"Để so sánh: tỷ lệ hài lòng chung của {issuer.body_full} trong kỳ là "
                       f"{_vn_number(data.whole.rate)}% ({data.whole.satisfied}/{data.whole.valid} lượt hợp lệ).",
                  indent_first=True)
    else:
        _para(doc, f"Số lượt hài lòng{levels_note}: {o.satisfied}. Tỷ lệ hài lòng chung: {_vn_number(o.rate)}% "
                   "(số lượt hài lòng chia cho số lượt đánh giá hợp lệ).", indent_first=True)
    levels = [[str(i), data.level_labels[lv], str(n),
               _vn_number(n * 100.0 / o.valid if o.valid else None)]
              for i, (lv, n) in enumerate(o.levels.items(), 1)]
    _para(doc, "Số lượt đánh giá theo từng mức:", indent_first=True, keep_next=True)
    _grid(doc, ["TT", "Mức độ", "Số lượt", "Tỷ lệ (%)"], levels, [12, 80, 35, 35])

    if data.trend:
        _para(doc, "Diễn biến tỷ lệ hài lòng trong kỳ:", indent_first=True, keep_next=True)
        doc.add_picture(io.BytesIO(data.trend_chart or charts.trend_png(data.trend)), width=Mm(160))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER

    if officer:    # one officer: no table of officers; their desks and procedures
        sections = [("Quầy", data.desks), ("Thủ tục", data.procedures)]
        titles = ["KẾT QUẢ THEO QUẦY", "KẾT QUẢ THEO THỦ TỤC HÀNH CHÍNH"]
    else:
        sections = [("Cán bộ, công chức", data.officers), ("Quầy", data.desks), ("Thủ tục", data.procedures)]
        titles = ["KẾT QUẢ THEO CÁN BỘ, CÔNG CHỨC", "KẾT QUẢ THEO QUẦY", "KẾT QUẢ THEO THỦ TỤC HÀNH CHÍNH"]
    roman = iter(["II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"])
    for title, (what, rows) in zip(titles, sections):
        _para(doc, f"{next(roman)}. {title}", bold=True, keep_next=True, before=6)
        if rows:
            _grid(doc, [h.format(what=what) for h in FIG_HEADERS], _figure_rows(rows), FIG_WIDTHS)
        else:
            _para(doc, "Không có đánh giá trong kỳ.", indent_first=True)

    if len(data.surveys) > 1 or data.survey_questions:
        _para(doc, f"{next(roman)}. KẾT QUẢ THEO KHẢO SÁT", bold=True, keep_next=True, before=6)
        _surveys_section(doc, data)
    if any(s.on_time + s.late for s in data.surveys):
        _para(doc, f"{next(roman)}. GIẢI QUYẾT HỒ SƠ ĐÚNG HẸN", bold=True, keep_next=True, before=6)
        _on_time_section(doc, data)

    if data.cases is not None:
        _para(doc, f"{next(roman)}. KẾT QUẢ XỬ LÝ VỤ VIỆC VÀ THƯ GỬI NGƯỜI DÂN", bold=True, keep_next=True, before=6)
        _cases_section(doc, data.cases, data.period, on)

    # every level may tick reasons on the kiosk: praise and complaint are counted apart
    _para(doc, f"{next(roman)}. NHỮNG ĐIỀU NGƯỜI DÂN NÊU KHI ĐÁNH GIÁ", bold=True, keep_next=True, before=6)
    pleased = data.reasons_satisfied
    split = [(c, n, pleased.get(c, 0), n - pleased.get(c, 0)) for c, n in data.reasons.items()]
    reason_rows = [[str(i), data.reason_labels.get(c, c), str(bad), str(good), str(n)]
                   for i, (c, n, good, bad) in enumerate(sorted(split, key=lambda r: (-r[3], -r[1])), 1)]
    _grid(doc, ["TT", "Nội dung", "Khi chưa hài lòng", "Khi hài lòng", "Tổng số lượt"], reason_rows,
          [12, 70, 30, 25, 25])
    if data.reasons.get("nhung_nhieu"):
        _para(doc, f"Có {data.reasons['nhung_nhieu']} lượt phản ánh nhũng nhiễu; đề nghị xác minh, "
                   "xử lý theo quy định.", indent_first=True, italic=True)

    if data.comments:
        shown, total = len(data.comments), max(data.comment_total, len(data.comments))
        scope = (f"{shown} Ý KIẾN MỚI NHẤT TRONG TỔNG SỐ {total}" if total > shown else "MỚI NHẤT")
        _para(doc, f"{next(roman)}. Ý KIẾN CỦA NGƯỜI DÂN ({scope})", bold=True, keep_next=True, before=6)
        for c in data.comments:
            _para(doc, f"- {c['comment']}", indent_first=True, after=2)

    _para(doc, f"{next(roman)}. ĐÁNH GIÁ, KIẾN NGHỊ", bold=True, keep_next=True, before=6)
    _para(doc, "…" * 48, indent_first=True)
    _para(doc, f"Trên đây là báo cáo kết quả {'đánh giá ' + about if officer else 'khảo sát mức độ hài lòng '}"
               f"{label} của {issuer.body_full}./.", indent_first=True, after=12)
    if data.public_key:
        _public_key_line(doc, data.public_key)
    _sign_off(doc, issuer, issuer.recipients)
    if data.scores is not None:
        _landscape(doc, new_section=True)
        _annex_title(doc, f"(Kèm theo Báo cáo kết quả khảo sát mức độ hài lòng {label})")
        _annex_body(doc, data.scores)
    return _save(doc)


# --- the surveys, on time ---------------------------------------------------------------------------

def _surveys_section(doc, data: ReportData) -> None:
    """Per survey: who ran it, ratings, rate (on time beside it); per question of those that ask more."""
    _para(doc, "Mỗi lượt đánh giá được tính theo thang đo và các mức hài lòng của chính khảo sát mà người dân "
               "đã trả lời.", indent_first=True, keep_next=True)
    rows = [[str(i), s.title_vi or s.survey_id, s.by if s.by and s.by != "hailong" else "–", str(s.valid),
             _vn_number(s.rate), _vn_number(s.on_time_rate)] for i, s in enumerate(data.surveys, 1)]
    _grid(doc, ["TT", "Khảo sát", "Đơn vị thực hiện", "Số lượt hợp lệ", "Tỷ lệ hài lòng (%)", "Tỷ lệ đúng hẹn (%)"],
          rows, [10, 55, 40, 20, 20, 20])
    titles = {s.survey_id: s.title_vi or s.survey_id for s in data.surveys}
    for sid, questions in data.survey_questions.items():
        _para(doc, f"Khảo sát «{titles.get(sid, sid)}»: kết quả từng câu hỏi", italic=True, keep_next=True,
              indent_first=True)
        rows = [[str(i), q.text_vi or q.code, str(q.answered), str(q.skipped), _vn_number(q.rate)]
                for i, q in enumerate(questions, 1)]
        _grid(doc, ["TT", "Câu hỏi", "Số lượt trả lời", "Bỏ qua", "Tỷ lệ hài lòng (%)"], rows, [10, 85, 25, 20, 25])


def _on_time_section(doc, data: ReportData) -> None:
    """On time from the receipts' appointment dates (what the dates say) beside satisfaction (what the
    citizen says), per procedure."""
    on_time = sum(s.on_time for s in data.surveys)
    late = sum(s.late for s in data.surveys)
    _para(doc, f"Trong {on_time + late} lượt đánh giá từ phiếu hẹn có ghi ngày hẹn trả kết quả: {on_time} lượt "
               f"đánh giá đúng hoặc trước ngày hẹn, {late} lượt sau ngày hẹn; tỷ lệ đúng hẹn: "
               f"{_vn_number(survey_results.on_time_rate(on_time, late))}%.", indent_first=True, keep_next=True)
    rows = [[str(i), t.name or t.key or "", str(t.on_time), str(t.late), _vn_number(t.on_time_rate), str(t.valid),
             _vn_number(t.rate)] for i, t in enumerate(data.on_time_procedures, 1)]
    _grid(doc, ["TT", "Thủ tục", "Đúng hẹn", "Trễ hẹn", "Tỷ lệ đúng hẹn (%)", "Số lượt hợp lệ", "Tỷ lệ hài lòng (%)"],
          rows, [10, 47, 17, 16, 22, 20, 33])


# --- the cases, the evidence key, the score annex ------------------------------------------------

def _public_key_line(doc, key: str) -> None:
    """The server's evidence-pack public key, printed so an inspector can pin it (hailong verify-pack --key)."""
    _para(doc, f"Khóa công khai kiểm chứng hồ sơ của máy chủ (Ed25519): {key}", size=12, italic=True,
          indent_first=True, after=12)


def _cases_section(doc, c: case_figures.CaseFigures, period: Period, on: date) -> None:
    """Cases opened, dealt with on time or late, overdue; the actions taken; the letters issued."""
    until = data_until(period, on)
    at = f"đến ngày {until:%d/%m/%Y}" if until else "cuối kỳ"
    kinds = "; ".join(f"{case_figures.CASE_KINDS.get(k, k).lower()}: {n}" for k, n in sorted(
        c.opened_by_kind.items(), key=lambda kv: (-kv[1], kv[0])))
    _para(doc, f"Trong kỳ mở {c.opened} vụ việc cần xử lý" + (f" ({kinds})" if kinds else "") + ". "
               f"Đã xử lý xong {c.finished} vụ việc, trong đó {c.on_time} vụ việc đúng hạn, {c.late} vụ việc "
               f"trễ hạn; {c.overdue} vụ việc quá hạn chưa xử lý xong ({at}).", indent_first=True)
    if c.due:
        _para(doc, f"Tỷ lệ xử lý vụ việc đúng hạn: {_vn_number(c.on_time_share)}% ({c.on_time}/{c.due} vụ việc "
                   "phải xử lý trong kỳ: đã xử lý xong hoặc đã quá hạn).", indent_first=True)
    if c.unresolved_nn:
        ids = ", ".join(f"số {i}" for i in sorted(c.unresolved_nn))
        _para(doc, f"Còn {len(c.unresolved_nn)} vụ việc nhũng nhiễu chưa xử lý xong {at} (vụ việc {ids}); "
                   "đề nghị xử lý dứt điểm theo quy định.", indent_first=True, italic=True)
    _para(doc, "Các biện pháp đã thực hiện trong kỳ:", indent_first=True, keep_next=True)
    rows = [[str(i), label, str(c.actions.get(code, 0))] for i, (code, label) in enumerate(case_figures.ACTIONS.items(), 1)]
    rows.append(["", "Cộng", str(c.action_total)])
    _grid(doc, ["TT", "Biện pháp", "Số lần"], rows, [12, 110, 35])
    _para(doc, "Thư gửi người dân đã lập trong kỳ:", indent_first=True, keep_next=True)
    rows = [[str(i), vi, str(c.letters.get(kind, 0)), str(c.letters_sent.get(kind, 0))]
            for i, (kind, (vi, _en)) in enumerate(LETTER_KINDS.items(), 1)]
    rows.append(["", "Cộng", str(c.letter_total), str(sum(c.letters_sent.values()))])
    _grid(doc, ["TT", "Loại thư", "Đã lập", "Đã gửi"], rows, [12, 85, 30, 30])
    if c.apology_worthy:
        _para(doc, f"Vụ việc cần xin lỗi công dân: {c.apology_worthy}; đã có thư xin lỗi: {c.apologised} "
                   f"({_vn_number(c.apology_share)}%).", indent_first=True)


ANNEX_HEADERS = ["TT", "{what}", "Số lượt hợp lệ", "Tỷ lệ hài lòng (%)", "Điểm tỷ lệ hài lòng",
                 "Điểm đúng hạn", "Điểm nhũng nhiễu", "Điểm thư xin lỗi", "Tổng điểm", "Xếp loại"]
#: the annex is printed landscape (A4, 252 mm of line): ten columns read without breaking a word
ANNEX_WIDTHS = [12, 70, 20, 20, 22, 22, 24, 22, 18, 22]


def _landscape(doc, new_section: bool) -> None:
    """The (new) last section landscape A4, same margins; the footer's page numbers carry on."""
    from docx.enum.section import WD_SECTION
    sec = doc.add_section(WD_SECTION.NEW_PAGE) if new_section else doc.sections[-1]
    sec.orientation = WD_ORIENT.LANDSCAPE
    sec.page_width, sec.page_height = Mm(297), Mm(210)


def _annex_title(doc, attached: str) -> None:
    _para(doc, "Phụ lục", size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _para(doc, "KẾT QUẢ CHẤM ĐIỂM THI ĐUA", size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _para(doc, attached, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=6)


def _annex_rows(scores: list) -> list[list[str]]:
    out = []
    for i, s in enumerate(scores, 1):
        pts = [scoring.fmt_number(s.points(code)) if s.points(code) is not None else "–" for code in scoring.CRITERIA]
        klass = scoring.CLASSES[s.klass] if s.klass else scoring.NOT_ENOUGH
        out.append([str(i), s.name, str(s.ratings.valid), _vn_number(s.ratings.rate), *pts,
                    scoring.fmt_number(s.total), klass])
    return out


def _annex_body(doc, sheet: scoring.ScoreSheet) -> None:
    """The criteria used, the table per unit and per officer, and why each got its points."""
    doc_c = sheet.criteria
    until = f" Số liệu đến ngày {sheet.until:%d/%m/%Y} (kỳ chưa kết thúc)." if sheet.until else ""
    _para(doc, f"Kỳ chấm điểm: {_lower_first(sheet.period.label())} (từ ngày {sheet.period.first_day:%d/%m/%Y} đến "
               f"ngày {sheet.period.last_day:%d/%m/%Y}).{until}", indent_first=True)
    _para(doc, "1. Tiêu chí chấm điểm", bold=True, keep_next=True)
    values = scoring.form_values(doc_c)
    for name, (label, kind) in scoring.FORM_FIELDS.items():
        value = values[name]
        if kind == "cap":
            value = scoring.CLASSES.get(value, "không giới hạn")
        _para(doc, f"- {label}: {value}.", indent_first=True, after=2)
    _para(doc, f"Điểm tối đa: {scoring.fmt_number(sheet.most)}. Người có ít hơn {doc_c['min_ratings']} lượt đánh "
               f"giá hợp lệ trong kỳ không được chấm ({scoring.NOT_ENOUGH}).", indent_first=True)
    for n, (title, what, rows) in enumerate((("2. Kết quả theo đơn vị", "Đơn vị", sheet.units),
                                             ("3. Kết quả theo cán bộ, công chức", "Cán bộ, công chức",
                                              sheet.officers)), 2):
        _para(doc, title, bold=True, keep_next=True, before=6)
        if rows:
            _grid(doc, [h.format(what=what) for h in ANNEX_HEADERS], _annex_rows(rows), ANNEX_WIDTHS)
        else:
            _para(doc, "Không có.", indent_first=True)
    _para(doc, "4. Căn cứ chấm điểm", bold=True, keep_next=True, before=6)
    why = []    # ~6 paragraphs for each of a province's 1,100 units and officers: written as XML at once
    for s in [*sheet.units, *sheet.officers]:
        why.append(_para_xml(f"{s.name} ({s.key}):", bold=True, keep_next=True, after=0))
        for c in s.criteria:
            why.append(_para_xml(f"- {scoring.CRITERIA[c.code]}: {c.why}.", indent_first=True, after=0))
        if s.note:
            why.append(_para_xml(f"- {s.note}.", indent_first=True, after=0))
        why.append(_para_xml(after=2))
    _paras(doc, why)


def score_annex(sheet: scoring.ScoreSheet, issuer: Issuer | None = None, on: date | None = None) -> bytes:
    """"Phụ lục: Kết quả chấm điểm thi đua" on its own, as .docx bytes (the scores page's download)."""
    issuer = issuer or Issuer()
    on = on or date.today()
    doc = _new_document(raw=RAW)
    _landscape(doc, new_section=False)
    _page_numbers(doc)
    _header(doc, issuer, f"Số:        /{issuer.symbol}", on)
    _para(doc, after=6)
    _annex_title(doc, f"(Kèm theo Báo cáo kết quả khảo sát mức độ hài lòng {_lower_first(sheet.period.label())} "
                      f"của {issuer.body_full})")
    _annex_body(doc, sheet)
    _sign_off(doc, issuer, issuer.recipients)
    return _save(doc)

