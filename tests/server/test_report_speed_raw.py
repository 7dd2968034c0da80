"""The Word report written fast (issue 13): its paragraphs and tables go into document.xml as the XML
strings they are built as (report_docx._new_document(raw=True), _save) instead of python-docx elements,
and the trend chart is drawn once. The file must say exactly what the python-docx build says."""
from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import date

import docx
import pytest
from docx.oxml.parser import oxml_parser
from lxml import etree
from town import NAMES, make_town

from sync.server.core import db
from sync.server.reports import charts, periods, report_docx, scoring
from sync.server.reports.stats import Figures, Filter, Stats


@pytest.fixture(scope="module")
def stats(module_town_db):
    """The hand-checked town's statistics, on each engine (PostgreSQL: gather's reads run side by side)."""
    return Stats(make_town(module_town_db), db.ratings, "corrected_at")


def _names():
    return {"officer": {o["id"]: o["name"] for o in NAMES["officers"]},
            "desk": {d["id"]: d["name"] for d in NAMES["desks"]},
            "procedure": {p["code"]: p["name"] for p in NAMES["procedures"]}}


def _parts(body: bytes) -> dict[str, bytes]:
    """Each part of the package: XML canonical (as Word's reader sees it), anything else as it is."""
    z = zipfile.ZipFile(io.BytesIO(body))
    assert z.testzip() is None
    out = {}
    for name in z.namelist():
        blob = z.read(name)
        if name.endswith((".xml", ".rels")):
            blob = etree.tostring(etree.fromstring(blob, oxml_parser), method="c14n")
        out[name] = blob
    return out


def _both(monkeypatch, build):
    monkeypatch.setattr(report_docx, "RAW", False)
    ref = build()
    monkeypatch.setattr(report_docx, "RAW", True)
    fast = build()
    return ref, fast


@pytest.mark.parametrize("flt", [
    Filter(periods.year(2026)),                 # the unit's year: the score annex after the signature
    Filter(periods.quarter(2026, 4)),
    Filter(periods.quarter(2026, 4), officer=NAMES["officers"][0]["id"]),
], ids=["year", "quarter", "officer"])
def test_the_raw_report_is_the_python_docx_report(stats, flt, monkeypatch):
    data = report_docx.gather(stats, flt, _names(), date(2027, 1, 5))
    # a comment no python-docx run would carry as it is: XML's characters, edge spaces, a tab, a break
    data.comments = [*data.comments, {"comment": "  <b>&amp; \"x\"\tand\nnew line \x07 "}]
    data.reasons_satisfied = dict(data.reasons_satisfied)
    ref, fast = _both(monkeypatch, lambda: report_docx.report(data, on=date(2027, 1, 5)))
    ref_parts, fast_parts = _parts(ref), _parts(fast)
    assert list(ref_parts) == list(fast_parts)
    for name in ref_parts:
        if name != "docProps/core.xml":      # python-docx's template: the same, but never compared on time
            assert ref_parts[name] == fast_parts[name], name
    opened = docx.Document(io.BytesIO(fast))
    assert any(p.text == "BÁO CÁO" for p in opened.paragraphs)
    assert len(opened.tables) == len(docx.Document(io.BytesIO(ref)).tables)
    assert b"hailong-raw" not in zipfile.ZipFile(io.BytesIO(fast)).read("word/document.xml")


def test_the_raw_score_annex_is_the_python_docx_annex(stats, monkeypatch):
    with stats.reader.connect() as conn:
        sheet = scoring.sheet(stats, conn, periods.year(2026), date(2027, 1, 5))
    ref, fast = _both(monkeypatch, lambda: report_docx.score_annex(sheet, on=date(2027, 1, 5)))
    ref_parts, fast_parts = _parts(ref), _parts(fast)
    assert {k: v for k, v in ref_parts.items() if k != "docProps/core.xml"} == \
        {k: v for k, v in fast_parts.items() if k != "docProps/core.xml"}


def test_the_chart_is_in_the_report_and_drawn_once_per_trend(stats, monkeypatch):
    charts._PNG_CACHE.clear()
    drawn = []
    real = charts._trend_figure
    monkeypatch.setattr(charts, "_trend_figure", lambda *a, **kw: drawn.append(1) or real(*a, **kw))
    # gather draws the chart beside its queries; the report places it
    data = report_docx.gather(stats, Filter(periods.quarter(2026, 4)), _names(), date(2027, 1, 5))
    assert data.trend and data.trend_chart and len(drawn) == 1
    first = report_docx.report(data, on=date(2027, 1, 5))
    second = report_docx.report(data, on=date(2027, 1, 5))
    assert len(drawn) == 1
    # figures made without gather's chart (None) get theirs drawn by the report, once per trend
    charts._PNG_CACHE.clear()
    undrawn = dataclasses.replace(data, trend_chart=None)
    assert report_docx.report(undrawn, on=date(2027, 1, 5)) and len(drawn) == 2
    assert zipfile.ZipFile(io.BytesIO(report_docx.report(undrawn, on=date(2027, 1, 5)))).read(
        "word/media/image1.png") == data.trend_chart and len(drawn) == 2
    media = [n for n in zipfile.ZipFile(io.BytesIO(first)).namelist() if n.startswith("word/media/")]
    assert len(media) == 1
    png = zipfile.ZipFile(io.BytesIO(first)).read(media[0])
    assert png == zipfile.ZipFile(io.BytesIO(second)).read(media[0]) == charts.trend_png(data.trend)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    assert Image.open(io.BytesIO(png)).size == (6.4 * charts.PNG_DPI, 3.2 * charts.PNG_DPI)
    # another trend, another chart; the cache stays small
    other = [Figures(key="2026-10", total=3, valid=3, satisfied=2)]
    assert charts.trend_png(other) != png and len(drawn) == 3
    for i in range(charts._PNG_CACHE_SIZE + 5):
        charts.trend_png([Figures(key="2026-10", total=i + 1, valid=i + 1, satisfied=1)])
    assert len(charts._PNG_CACHE) <= charts._PNG_CACHE_SIZE


def test_the_reports_reads_run_side_by_side_on_postgresql_in_turn_on_sqlite(stats):
    import threading
    if stats.reader.dialect.name == "postgresql":
        meet = threading.Barrier(2, timeout=30)    # passes only when both jobs run at once
        got = report_docx._side_by_side(stats.reader, {"a": lambda: (meet.wait(), "a")[1],
                                                       "b": lambda: (meet.wait(), "b")[1]})
    else:
        ran = []
        got = report_docx._side_by_side(stats.reader, {"a": lambda: ran.append(threading.current_thread()) or "a",
                                                       "b": lambda: ran.append(threading.current_thread()) or "b"})
        assert ran == [threading.current_thread()] * 2
    assert got == {"a": "a", "b": "b"}

    # while two reports read side by side, a third reads in turn: the pool is never drained by a crowd
    assert report_docx._SIDE_BY_SIDE.acquire(blocking=False) and report_docx._SIDE_BY_SIDE.acquire(blocking=False)
    try:
        ran = []
        report_docx._side_by_side(stats.reader, {"a": lambda: ran.append(threading.current_thread()),
                                                 "b": lambda: ran.append(threading.current_thread())})
        assert ran == [threading.current_thread()] * 2
    finally:
        report_docx._SIDE_BY_SIDE.release()
        report_docx._SIDE_BY_SIDE.release()

    def broken():
        raise ValueError("no such survey")
    with pytest.raises(ValueError, match="no such survey"):     # a job's error is the caller's
        report_docx._side_by_side(stats.reader, {"ok": lambda: 1, "broken": broken})


@pytest.mark.parametrize("flt", [Filter(periods.year(2026)), Filter(periods.quarter(2026, 4), unit=NAMES["units"][0]["code"]),
                                 Filter(periods.year(2026), officer=NAMES["officers"][0]["id"])],
                         ids=["year", "a-commune's-quarter", "an-officer's-year"])
def test_the_figures_read_side_by_side_are_the_figures_read_in_turn(stats, monkeypatch, flt):
    at_once = report_docx.gather(stats, flt, _names(), date(2027, 1, 5))
    monkeypatch.setattr(report_docx, "_side_by_side", lambda _reader, jobs: {k: job() for k, job in jobs.items()})
    in_turn = report_docx.gather(stats, flt, _names(), date(2027, 1, 5))
    assert at_once == in_turn
    assert at_once.overall.total > 0 and at_once.trend_chart[:8] == b"\x89PNG\r\n\x1a\n"
