"""`hailong admin` sub-commands of the cases feature (issue 11); sync/server/admin_cli.py adds COMMANDS to the group.

``cases`` lists them, ``open-case`` opens one by hand, ``case-action`` records a measure,
``close-case`` closes one (refused, naming what is missing, without an action, a cause and an
outcome). The rules are core/cases.py's; a refusal exits 2 when what it names does not exist
(a case, an officer, a kiosk, a user), 1 otherwise.
"""
from __future__ import annotations

import json

import click

from sync.cli_i18n import _
from sync.server.commands import Refused, _engine

STATUS_CHOICES = ("open", "in_progress", "resolved", "closed", "overdue", "active")
#: what a refusal names that does not exist: exit 2, like the other admin commands
NOT_FOUND = ("Không có vụ việc số {case}", "Không có cán bộ mã {code}", "Không có ki-ốt mã {code}",
             "Không có người dùng {name}")


def _server_words():
    """core/cases' Vietnamese, in the command line's language (the pages' catalogue holds it)."""
    from sync.cli_i18n import Translator
    return Translator(_.language, domain="hailong_server")


def _refused(exc) -> Refused:
    return Refused(exc.say(_server_words()), 2 if exc.template in NOT_FOUND else 1)


def _run(db, operation):
    from sync.server.core import cases
    engine = _engine(db)
    try:
        with engine.begin() as conn:
            return operation(conn, cases)
    except cases.Refused as exc:
        raise _refused(exc) from None
    finally:
        engine.dispose()


@click.command("cases", help=_("Liệt kê vụ việc cần xử lý: mặc định các vụ việc chưa đóng, quá hạn trước."))
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="active", show_default=True,
              help=_("trạng thái: open (mở), in_progress (đang xử lý), resolved (đã xử lý), closed (đóng), "
                     "overdue (quá hạn), active (chưa đóng)"))
@click.option("--officer", default=None, help=_("chỉ vụ việc của cán bộ này"))
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000),
              help=_("nhiều nhất bao nhiêu vụ việc"))
@click.option("--json", "as_json", is_flag=True, help=_("in dạng JSON (cả căn cứ và nhật ký)"))
@click.pass_obj
def cases_cmd(db, status, officer, limit, as_json):
    def read(conn, cases):
        _n, rows = cases.list_cases(conn, status=status, officer=officer, limit=limit)
        links, events = cases.links_and_events(conn, [r["id"] for r in rows]) if as_json else ({}, {})
        return rows, links, events
    rows, links, events = _run(db, read)
    if as_json:
        out = [{**r, "links": links[r["id"]], "events": events[r["id"]]} for r in rows]
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    words = _server_words()
    from sync.server.core import cases
    for r in rows:
        state = words(cases.STATUS_LABELS[r["status"]])
        if r["overdue"]:
            state += " · " + _("QUÁ HẠN")
        about = r["officer_id"] or r["kiosk_id"] or "-"
        click.echo(_("#{id} {kind} {about}: {state}, hạn {due}, người xử lý {owner}", id=r["id"],
                     kind=r["kind"], about=about, state=state, due=r["due_date"], owner=r["owner"] or "-")
                   + f" — {r['title']}")
    if not rows:
        click.echo(_("Không có vụ việc nào."))


@click.command("open-case", help=_("Mở một vụ việc bằng tay về một cán bộ hoặc một ki-ốt."))
@click.option("--officer", default=None, help=_("mã cán bộ"))
@click.option("--kiosk", default=None, help=_("mã ki-ốt"))
@click.option("--title", required=True, help=_("tiêu đề vụ việc"))
@click.option("--owner", default=None, help=_("giao cho người dùng này"))
@click.option("--by", "by", default="admin", show_default=True, help=_("ai mở"))
@click.pass_obj
def open_case_cmd(db, officer, kiosk, title, owner, by):
    case_id = _run(db, lambda conn, cases: cases.open_case(conn, by, title, officer_id=officer, kiosk_id=kiosk,
                                                           owner=owner))
    click.echo(_("Đã mở vụ việc số {id}.", id=case_id))


@click.command("case-action", help=_("Ghi một biện pháp đã thực hiện cho vụ việc."))
@click.option("--case", "case_id", required=True, type=click.IntRange(1, 2 ** 53), help=_("số vụ việc"))
@click.option("--action", required=True,
              type=click.Choice(("nhac_nho", "kiem_diem", "chan_chinh", "doi_vi_tri", "xin_loi", "de_xuat_xu_ly",
                                 "other")),
              help=_("biện pháp: nhac_nho (nhắc nhở), kiem_diem (kiểm điểm), chan_chinh (chấn chỉnh), doi_vi_tri "
                     "(đổi vị trí), xin_loi (xin lỗi công dân), de_xuat_xu_ly (đề xuất xử lý), other (khác)"))
@click.option("--text", default=None, help=_("nội dung (bắt buộc với other)"))
@click.option("--by", "by", required=True, help=_("ai thực hiện"))
@click.pass_obj
def case_action_cmd(db, case_id, action, text, by):
    _run(db, lambda conn, cases: cases.add_action(conn, case_id, by, action, text))
    click.echo(_("Đã ghi biện pháp cho vụ việc số {id}.", id=case_id))


@click.command("close-case", help=_("Đóng vụ việc: cần ít nhất một biện pháp, nguyên nhân và kết quả."))
@click.option("--case", "case_id", required=True, type=click.IntRange(1, 2 ** 53), help=_("số vụ việc"))
@click.option("--cause", default=None, help=_("nguyên nhân tìm được"))
@click.option("--outcome", default=None, help=_("kết quả xử lý"))
@click.option("--by", "by", required=True, help=_("ai đóng"))
@click.pass_obj
def close_case_cmd(db, case_id, cause, outcome, by):
    _run(db, lambda conn, cases: cases.close_case(conn, case_id, by, cause, outcome))
    click.echo(_("Đã đóng vụ việc số {id}.", id=case_id))


COMMANDS: list = [cases_cmd, open_case_cmd, case_action_cmd, close_case_cmd]
