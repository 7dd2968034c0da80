"""``hailong server`` (serve the town server) and ``hailong admin`` (enrol, users, roster)."""
from __future__ import annotations

import json
import sys

import click

DB_OPTION = click.option("--db", default="town.db", show_default=True,
                         help="SQLite file, or a database URL such as postgresql+psycopg://…")


class AdminGroup(click.Group):
    """Turns bad input and database errors into one clear line, never a traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import SQLAlchemyError

        from sync.server.core.admin_ops import AdminError, NotFound
        try:
            return super().invoke(ctx)
        except NotFound as exc:
            raise NotFoundError(str(exc)) from None
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {exc.__class__.__name__}: "
                                       f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None


class NotFoundError(click.ClickException):
    """What was named (a token, a user) does not exist: exit status 2, like a usage error."""
    exit_code = 2


def _engine(db: str):
    from sqlalchemy.exc import SQLAlchemyError

    from sync.server.core.db import make_engine, migrate
    try:
        engine = make_engine(db)
        migrate(engine)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"{db}: cannot open the database ({str(getattr(exc, 'orig', exc)).splitlines()[0]})") from None
    return engine


@click.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--media", default=None, help="folder of officer photos [default: media/ beside town.db]")
@click.option("--max-batch", default=5000, show_default=True, type=click.IntRange(1, 100000),
              help="most ratings accepted in one batch")
@click.option("--max-body-mb", default=8.0, show_default=True, type=click.FloatRange(0.01),
              help="largest batch body, decompressed")
@click.option("--skew-threshold", default=600.0, show_default=True, type=click.FloatRange(0),
              help="seconds of kiosk clock error before reports use corrected times (and an alert)")
@click.option("--sweep-seconds", default=60.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="how often this process looks for kiosks that fell silent (and raises their alerts)")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def server(db, host, port, media, max_batch, max_body_mb, skew_threshold, sweep_seconds, log_level):
    """Serve the town server (kiosk sync API, admin API) until stopped."""
    import logging

    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from sync.server.app import create_app
    if not logging.getLogger().handlers:
        # the server's own lines (a database that others can read, or that went unhealthy) on stderr
        logging.basicConfig(level=getattr(logging, log_level.upper()),
                            format="%(asctime)s hailong server %(levelname)s: %(message)s")
    try:
        app = create_app(db, media_dir=media, max_batch=max_batch,
                         max_body_bytes=int(max_body_mb * 1024 * 1024), skew_threshold=skew_threshold,
                         sweep_seconds=sweep_seconds)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"{db}: cannot open the database ({str(getattr(exc, 'orig', exc)).splitlines()[0]})") from None
    click.echo(f"hailong server: {db} on http://{host}:{port} (OpenAPI at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


@click.group(cls=AdminGroup)
@DB_OPTION
@click.pass_context
def admin(ctx, db):
    """Enrol kiosks, create users and API tokens, import the roster."""
    ctx.obj = db


@admin.command("enrol-kiosk")
@click.option("--kiosk-id", required=True)
@click.option("--unit", "unit_code", required=True, help="unit (commune / ward) code")
@click.option("--json", "as_json", is_flag=True, help="print {kiosk_id, token, key} as JSON")
@click.pass_obj
def enrol_kiosk(db, kiosk_id, unit_code, as_json):
    """Enrol a kiosk: prints its bearer token and HMAC key (shown once)."""
    from sync.server.core.admin_ops import enrol_kiosk as enrol
    with _engine(db).begin() as conn:
        out = enrol(conn, kiosk_id, unit_code)
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(f"kiosk {out['kiosk_id']} enrolled. Put these in its config.toml [server]:\n"
                   f"token = \"{out['token']}\"\nkey = \"{out['key']}\"")


@admin.command("revoke-kiosk")
@click.option("--kiosk-id", required=True)
@click.pass_obj
def revoke_kiosk(db, kiosk_id):
    """Refuse a kiosk's token from now on (its ratings stay)."""
    from sync.server.core.admin_ops import revoke_kiosk as revoke
    with _engine(db).begin() as conn:
        revoke(conn, kiosk_id)
    click.echo(f"kiosk {kiosk_id} revoked")


@admin.command("create-user")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "viewer"]))
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.pass_obj
def create_user(db, username, role, password_stdin):
    """Create a user of the admin pages and API."""
    from sync.server.core.admin_ops import create_user as create
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with _engine(db).begin() as conn:
        create(conn, username, role, password)
    click.echo(f"user {username} ({role}) created", err=True)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


@admin.command("set-password")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, help="read the new password from standard input")
@click.pass_obj
def set_password(db, username, password_stdin):
    """Give a user a new password; every page session of the user ends at once."""
    from sync.server.core.admin_ops import set_password as set_pw
    password = _read_password(password_stdin)
    with _engine(db).begin() as conn:
        set_pw(conn, username, password)
    click.echo(f"password of {username} changed; their sessions ended", err=True)


@admin.command("set-role")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "viewer"]))
@click.pass_obj
def set_role(db, username, role):
    """Change a user's role; every page session of the user ends at once."""
    from sync.server.core.admin_ops import set_role as set_r
    with _engine(db).begin() as conn:
        changed = set_r(conn, username, role)
    click.echo(f"{username} is now {role}" if changed else f"{username} was already {role}", err=True)


@admin.command("delete-user")
@click.option("--username", required=True)
@click.pass_obj
def delete_user(db, username):
    """Remove a user with their API tokens; their page sessions end at once (ratings and alerts stay)."""
    from sync.server.core.admin_ops import delete_user as delete
    with _engine(db).begin() as conn:
        tokens = delete(conn, username)
    click.echo(f"user {username} removed ({tokens} API token(s) with them)", err=True)


@admin.command("create-token")
@click.option("--username", required=True)
@click.option("--json", "as_json", is_flag=True, help="print {token} as JSON")
@click.pass_obj
def create_token(db, username, as_json):
    """Create an admin API token for a user (for `hailong pull`)."""
    from sync.server.core.admin_ops import create_token as create
    with _engine(db).begin() as conn:
        token = create(conn, username)
    click.echo(json.dumps({"token": token}) if as_json else token)


@admin.command("revoke-token")
@click.option("--token", default=None, help="the API token to revoke")
@click.option("--username", default=None, help="revoke every API token of this user")
@click.pass_obj
def revoke_token(db, token, username):
    """Revoke an admin API token (or all of a user's): it gets 401 from then on.

    Exit status: 0 revoked (or already revoked), 2 no such token or user.
    """
    from sync.server.core.admin_ops import revoke_token as revoke
    if (token is None) == (username is None):
        raise click.UsageError("give either --token T or --username U")
    with _engine(db).begin() as conn:
        count = revoke(conn, token=token, username=username)
    if token is not None:
        click.echo("API token revoked" if count else "API token was already revoked")
    else:
        click.echo(f"{count} API token(s) of {username} revoked" if count
                   else f"{username} has no API token left to revoke")


@admin.command("import-roster")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--media", default=None, help="folder of officer photos [default: media/ beside town.db]")
@click.pass_obj
def import_roster(db, file, media):
    """Import units, desks, officers and procedures from JSON, CSV or Excel (.xlsx)."""
    from sync.filemodes import private_dir
    from sync.server.app import default_media_dir
    from sync.server.core.admin_ops import import_roster as do_import
    media = media or default_media_dir(db)
    private_dir(media)   # officer photos: created 0700, like town.db's folder
    with _engine(db).begin() as conn:
        counts = do_import(conn, file, media)
    click.echo(", ".join(f"{n} {k}" for k, n in counts.items()) + " imported")


@admin.command("set-receipt-key")
@click.option("--key", default=None, help="64 hex digits; a new random key when omitted")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def set_receipt_key(db, key, as_json):
    """Set (or rotate) the receipt HMAC key that kiosks receive with their config."""
    from sync.server.core.admin_ops import set_receipt_key as set_key
    with _engine(db).begin() as conn:
        key = set_key(conn, key)
    click.echo(json.dumps({"receipt_key": key}) if as_json else key)


@admin.command("add-survey")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--default", "make_default", is_flag=True, help="make it the survey the town's kiosks ask")
@click.pass_obj
def add_survey(db, file, make_default):
    """Add a survey defined as JSON (DESIGN.md "Surveys"); prints {"id": …}. The same id with other content is refused."""
    from pathlib import Path

    from sync.server.core.admin_ops import add_survey as do_add
    try:
        document = json.loads(Path(file).read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: not JSON ({exc})") from None
    with _engine(db).begin() as conn:
        sid = do_add(conn, document, make_default)
    click.echo(json.dumps({"id": sid}, ensure_ascii=False))


@admin.command("alerts")
@click.option("--all", "include_resolved", is_flag=True, help="resolved ones too")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def alerts_cmd(db, include_resolved, as_json):
    """List alerts (gaps, broken chains, tampering, conflicts, clock skew): open ones by default."""
    from sync.server.core.admin_ops import list_alerts
    with _engine(db).begin() as conn:
        rows = list_alerts(conn, include_resolved)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for a in rows:
        state = f"resolved {a['resolved_at']} by {a['acked_by'] or 'itself'}" if a["resolved_at"] else "OPEN"
        click.echo(f"#{a['id']} {a['created_at']} {a['kind']:<10} {a['kiosk_id'] or '-'}: {a['message']} [{state}]")
    if not rows:
        click.echo("no open alerts" if not include_resolved else "no alerts")


@admin.command("resolve-alert")
@click.option("--id", "alert_id", required=True, type=int)
@click.option("--by", "by", required=True, help="who resolves it")
@click.option("--note", default=None, help="why (what was found)")
@click.pass_obj
def resolve_alert_cmd(db, alert_id, by, note):
    """Close an alert after looking into it."""
    from sync.server.core.admin_ops import resolve_alert
    with _engine(db).begin() as conn:
        resolve_alert(conn, alert_id, by, note)
    click.echo(f"alert {alert_id} resolved")


@admin.command("migrate")
@click.pass_obj
def migrate_cmd(db):
    """Create or upgrade the database schema (the server also does this at start)."""
    _engine(db)
    click.echo(f"{db}: schema current")
