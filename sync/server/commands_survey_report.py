"""`hailong admin` sub-commands of a survey's report (issue 12); sync/server/admin_cli.py adds COMMANDS to the group.

``hailong admin --db town.db survey-report --survey mttq-2026-q4 [--period P] --out bao-cao.docx
[--lang vi|en]`` writes the survey's own report as Word (reports/campaign_docx.py), as the
survey page's download does: by default over the campaign's days (a survey without days: this
month). An unknown survey exits 2, a bad period or file name 2, naming what is wrong.
"""
from __future__ import annotations

from pathlib import Path

import click

from sync.cli_i18n import _
from sync.server.commands import Refused, _engine


@click.command("survey-report", help=_(
    "Ghi báo cáo kết quả một khảo sát (tệp Word, thể thức Nghị định 30/2020/NĐ-CP): phạm vi, số lượt, "
    "kết quả từng câu hỏi, đúng hẹn, nhận xét."))
@click.option("--survey", "survey_id", required=True, metavar="MÃ", help=_("mã khảo sát, ví dụ mttq-2026-q4"))
@click.option("--period", default=None, metavar="KỲ",
              help=_("kỳ báo cáo: 2026, 2026-11, 2026-Q4, 2026-H2 hoặc 2026-11-01..2026-11-28 "
                     "(mặc định: các ngày của đợt khảo sát, hoặc tháng này)"))
@click.option("--out", "out", required=True, type=click.Path(), metavar="TỆP.docx", help=_("tệp Word sẽ ghi"))
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help=_("ngôn ngữ của báo cáo"))
@click.pass_obj
def survey_report(db, survey_id, period, out, lang):
    from sync.protocol import nfc
    from sync.server.core.db import make_reader
    from sync.server.core.settings import known_surveys
    from sync.server.reports import campaign_docx, periods
    from sync.server.web.base import report_issuer

    target = Path(out).expanduser()
    if not target.name.lower().endswith(".docx"):
        raise Refused(_("--out: tên tệp phải kết thúc bằng .docx (tệp Word), không phải {name}", name=out), 2)
    if target.is_dir():
        raise Refused(_("--out: {path} là một thư mục; hãy cho tên tệp .docx", path=target), 2)
    if not target.parent.is_dir():
        raise Refused(_("--out: không có thư mục {folder} (hãy tạo nó trước)", folder=target.parent), 2)
    chosen = None
    if period is not None:
        try:
            chosen = periods.parse(period)
        except periods.PeriodError as exc:
            raise Refused(f"--period: {exc}", 2) from None     # periods.py words it (Vietnamese, as the pages)
    sid = nfc(survey_id)
    engine = _engine(db)
    reader = make_reader(engine)     # reads only
    try:
        with reader.connect() as conn:
            doc = known_surveys(conn).get(sid)
            issuer = report_issuer(conn)
        if doc is None:
            raise Refused(_("Không có khảo sát mã {id} (xem trang Khảo sát).", id=sid), 2)
        chosen = chosen or campaign_docx.default_period(doc)
        data = campaign_docx.gather(reader, doc, chosen, lang)
        body = campaign_docx.render(data, issuer, periods.today_vn())
    finally:
        reader.dispose()
        engine.dispose()
    try:
        target.write_bytes(body)
    except OSError as exc:
        raise Refused(_("--out: không ghi được {path} ({why})", path=target, why=exc.strerror), 1) from None
    f = data.figures
    click.echo(_("Đã ghi {path}: khảo sát {id}, {label}, {valid} lượt hợp lệ, tỷ lệ hài lòng {rate}.",
                 path=target, id=sid, label=chosen.label(), valid=f.valid if f else 0,
                 rate=(f"{f.rate:.1f}%" if _.language == "en" else f"{f.rate:.1f}%".replace(".", ","))
                 if f and f.rate is not None else "–"))


#: click commands added to `hailong admin`
COMMANDS: list = [survey_report]
