"""The campaign's Word report through LibreOffice → PDF → PNG (test-artifacts/campaign/), to be looked at:
the ND 30 header, the Vietnamese letters, the tables whole, in Vietnamese and English; and the town's
report with its survey and on-time sections. Skipped where LibreOffice or poppler is missing."""
from __future__ import annotations

import io
import re
import shutil
import subprocess

import docx
import pytest
from helpers import ARTIFACTS
from test_campaign_docx import CAMPAIGN, FROM, TODAY
from test_campaign_docx import town as campaign_town  # noqa: F401 - the fixture: a town with the campaign's ratings

from sync.server.reports import campaign_docx, periods, report_docx
from sync.server.reports.report_docx import Issuer

OUT = ARTIFACTS / "campaign"
pytestmark = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftoppm")),
                                reason="LibreOffice/poppler")


def _documents(town) -> dict[str, bytes]:
    reader = town.app.state.reader
    period = campaign_docx.default_period(CAMPAIGN)
    out = {f"campaign-{lang}": campaign_docx.render(campaign_docx.gather(reader, CAMPAIGN, period, lang),
                                                    Issuer(), TODAY) for lang in ("vi", "en")}
    from sync.server.reports.stats import Filter, town_stats
    from sync.server.web.base import names
    with reader.connect() as conn:
        found = names(conn)
    data = report_docx.gather(town_stats(reader), Filter(periods.custom(FROM, TODAY)), found, today=TODAY)
    out["town-report"] = report_docx.report(data, on=TODAY)
    return out


def _pdf_text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_the_reports_render_whole(campaign_town, tmp_path):  # noqa: F811
    OUT.mkdir(parents=True, exist_ok=True)
    docs = _documents(campaign_town)
    for name, raw in docs.items():
        docx.Document(io.BytesIO(raw))                       # python-docx reads it back
        (tmp_path / f"{name}.docx").write_bytes(raw)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), *sorted(str(p) for p in tmp_path.glob("*.docx"))],
                   check=True, capture_output=True, timeout=300)
    for name in docs:
        pdf = tmp_path / f"{name}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        pages = int(re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)[1])
        assert 2 <= pages <= 8, (name, pages)
        assert "A4" in info or "595" in info, info
        text = _pdf_text(pdf)
        flat = " ".join(text.split())
        if name == "campaign-en":
            assert "SOCIALIST REPUBLIC OF VIET NAM" in text and "Independence - Freedom - Happiness" in text
            assert "Satisfaction rate: 60.0%" in flat
        else:
            assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Độc lập - Tự do - Hạnh phúc" in text
        if name == "campaign-vi":
            assert re.search(r"^ *ỦY BAN MTTQ VIỆT NAM +CỘNG HÒA", text, re.MULTILINE)
            assert re.search(r"^ *XÃ ĐỒNG TÂM +Độc lập", text, re.MULTILINE)
            assert "Tỷ lệ hài lòng: 60,0%" in flat and "Nguyễn Thị Hồng Nhung" in flat
            assert "IV. NHẬN XÉT, ĐÁNH GIÁ" in flat and "TM. BAN THƯỜNG TRỰC" in flat
        if name == "town-report":
            assert "KẾT QUẢ THEO KHẢO SÁT" in flat and "GIẢI QUYẾT HỒ SƠ ĐÚNG HẸN" in flat
        for old in OUT.glob(f"{name}-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(OUT / name)], check=True, timeout=120)
        shown = sorted(OUT.glob(f"{name}-*.png"))
        assert len(shown) == pages and all(p.stat().st_size > 15_000 for p in shown)
