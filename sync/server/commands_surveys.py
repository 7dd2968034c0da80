"""`hailong admin` sub-commands of the surveys (issue 12); sync/server/admin_cli.py adds COMMANDS to the group.

``surveys`` lists every survey with its state and how many ratings answered it,
``survey-template NAME`` prints a template (assets/surveys/) to start an
``add-survey`` file from, ``set-default-survey ID`` chooses what the unit's
kiosks ask when no campaign runs, ``end-survey ID`` stops a campaign now. The
rules are core/surveys.py's (``add-survey`` stays in commands.py); a refusal
exits 2 when the survey does not exist, 1 otherwise.
"""
from __future__ import annotations

import json

import click

from sync.cli_i18n import _
from sync.server.commands import Refused, _engine


def _state(key: str) -> str:
    """A survey's state (core/surveys.state) in the command line's words."""
    return {"default": _("mặc định"), "survey": _("không dùng"), "planned": _("sắp chạy"), "running": _("đang chạy"),
            "ended": _("đã kết thúc"), "stopped": _("đã dừng sớm")}.get(key, key)


def _server_words():
    """core/surveys' Vietnamese, in the command line's language (the pages' catalogue holds it)."""
    from sync.cli_i18n import Translator
    return Translator(_.language, domain="hailong_server")


def _run(db, operation):
    from sync.server.core import surveys
    engine = _engine(db)
    try:
        with engine.begin() as conn:
            return operation(conn, surveys)
    except surveys.SurveyError as exc:
        raise Refused(exc.say(_server_words()), 2 if exc.template.startswith("Không có khảo sát") else 1) from None
    finally:
        engine.dispose()


@click.command("surveys", help=_("Liệt kê các khảo sát: có sẵn, mặc định, các đợt khảo sát (đang chạy, sắp chạy, "
                                 "đã kết thúc) và số lượt đã trả lời."))
@click.option("--json", "as_json", is_flag=True, help=_("in dạng JSON"))
@click.pass_obj
def surveys_cmd(db, as_json):
    rows = _run(db, lambda conn, surveys: [s.as_json() for s in surveys.list_surveys(conn)])
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    lang = "en" if _.language == "en" else "vi"
    for r in rows:
        title = (r["title"] or {}).get(lang) or r["id"]
        days = f" {r['from']}..{r['ended_on'] or r['to']}" if r["campaign"] else ""
        where = ""
        if r["campaign"]:
            where = " @ " + (",".join(r["units"] + r["desks"]) or _("mọi nơi"))
        click.echo(_("{id} [{state}]{days}{where}: {title}; {n} lượt trả lời", id=r["id"],
                     state=_state(r["state"]), days=days, where=where, title=title, n=r["answered"]))


@click.command("survey-template", help=_("In mẫu khảo sát NAME (JSON: hl3, danh-gia-ho-so, mttq-can-bo) để sửa "
                                         "rồi thêm bằng add-survey."))
@click.argument("name")
def survey_template_cmd(name):
    from sync.server.core import surveys
    doc = surveys.template(name)
    if doc is None:
        raise Refused(_("Không có mẫu khảo sát {name} (có: {names}).", name=name[:64],
                        names=", ".join(surveys.template_names())), 2)
    click.echo(json.dumps(doc, ensure_ascii=False, indent=1))


@click.command("set-default-survey", help=_("Chọn khảo sát các ki-ốt hỏi khi không có đợt khảo sát nào chạy."))
@click.argument("survey_id")
@click.pass_obj
def set_default_cmd(db, survey_id):
    _run(db, lambda conn, surveys: surveys.set_default(conn, survey_id))
    click.echo(_("Khảo sát mặc định: {id}.", id=survey_id))


@click.command("end-survey", help=_("Kết thúc ngay một đợt khảo sát (các ki-ốt thôi hỏi trong vòng một phút)."))
@click.argument("survey_id")
@click.option("--by", "by", default="admin", show_default=True, help=_("ai kết thúc"))
@click.pass_obj
def end_survey_cmd(db, survey_id, by):
    day = _run(db, lambda conn, surveys: surveys.end_now(conn, survey_id, by))
    click.echo(_("Đã kết thúc đợt khảo sát {id} ngày {day}.", id=survey_id, day=day))


COMMANDS: list = [surveys_cmd, survey_template_cmd, set_default_cmd, end_survey_cmd]
