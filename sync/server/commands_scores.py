"""`hailong admin` sub-commands of the scores feature (issue 11); sync/server/admin_cli.py adds COMMANDS to the group.

``hailong admin --db P scores --period 2026 [--unit U] [--json] [--out scores.xlsx]``: the
emulation score of every unit and officer, as the scores page shows it (reports/scoring.py),
read from the roll-up. The criteria are the ones saved on the scores page (or the defaults).
"""
from __future__ import annotations

import json

import click

from sync.cli_i18n import Translator, _
from sync.server.commands import Refused, _engine


def _score_json(s) -> dict:
    return {"kind": s.kind, "id": s.key, "name": s.name, "unit": s.unit,
            "valid": s.ratings.valid, "satisfied": s.ratings.satisfied, "rate": s.ratings.rate,
            "cases_opened": s.cases.opened, "cases_due": s.cases.due, "cases_on_time": s.cases.on_time,
            "on_time_share": s.cases.on_time_share, "unresolved_nhung_nhieu": sorted(s.cases.unresolved_nn),
            "points": {c.code: c.points for c in s.criteria}, "why": {c.code: c.why for c in s.criteria},
            "total": s.total, "classification": s.klass, "capped": s.capped, "note": s.note or None}


@click.command("scores", help=_(
    "Chấm điểm thi đua từng đơn vị và cán bộ cho một kỳ (năm 2026, quý 2026-Q4, …) theo tiêu chí đã lưu ở trang Thi đua."))
@click.option("--period", required=True, help=_("kỳ chấm điểm: 2026, 2026-H2, 2026-Q4, 2026-11 hoặc 2026-01-01..2026-06-30"))
@click.option("--unit", default=None, help=_("chỉ một đơn vị (mã đơn vị)"))
@click.option("--json", "as_json", is_flag=True, help=_("in dạng JSON"))
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
              help=_("ghi bảng Excel (.xlsx) vào tệp này"))
@click.pass_obj
def scores_cmd(db, period, unit, as_json, out):
    from sync.server.reports import periods, scoring
    from sync.server.reports.stats import town_stats

    try:
        p = periods.parse(period)
    except periods.PeriodError as exc:
        raise Refused(_("Kỳ không hợp lệ: {why}", why=str(exc))) from None
    if out and not out.lower().endswith(".xlsx"):
        raise Refused(_("--out: tên tệp phải kết thúc bằng .xlsx (bảng Excel), không phải {name}", name=out))
    from sqlalchemy import select

    from sync.server.core import db as tables
    words = Translator(_.language, domain="hailong_server")
    engine = _engine(db)
    reader = tables.make_reader(engine)     # reads only: the writer's BEGIN IMMEDIATE would lock itself out
    try:
        with reader.connect() as conn:
            if unit and conn.execute(select(tables.units.c.code).where(tables.units.c.code == unit)).first() is None:
                raise Refused(_("Không có đơn vị mã {code}.", code=unit), exit_code=2)
            # the why and the classifications worded as the scores page words them, in the command line's language
            result = scoring.sheet(town_stats(reader), conn, p, periods.today_vn(), unit=unit, tr=words,
                                   decimal="." if _.language == "en" else ",")
    finally:
        reader.dispose()
        engine.dispose()
    if out:
        with open(out, "wb") as fh:
            scoring.write_xlsx(result, fh, words)
        click.echo(_("Đã ghi {path}.", path=out), err=True)
    if as_json:
        click.echo(json.dumps({"period": p.key, "criteria": result.criteria, "most": result.most,
                               "units": [_score_json(s) for s in result.units],
                               "officers": [_score_json(s) for s in result.officers]},
                              ensure_ascii=False, indent=1))
        return
    click.echo(_("Chấm điểm thi đua: {period}", period=p.label(words)))
    for title, rows in ((_("Đơn vị"), result.units), (_("Cán bộ"), result.officers)):
        click.echo(f"\n{title}:")
        for s in rows:
            rate = "–" if s.ratings.rate is None else f"{s.ratings.rate:.1f}%"
            if s.klass is None:
                click.echo(f"  {s.key:<12} {s.name:<30} {rate:>7}  {words(scoring.NOT_ENOUGH)} ({s.ratings.valid})")
                continue
            points = " ".join(f"{c.code}={scoring.fmt_number(c.points, '.')}" for c in s.criteria)
            click.echo(f"  {s.key:<12} {s.name:<30} {rate:>7}  {scoring.fmt_number(s.total, '.'):>5}  "
                       f"{words(scoring.CLASSES[s.klass])}  [{points}]")


#: click commands added to `hailong admin`
COMMANDS: list = [scores_cmd]
