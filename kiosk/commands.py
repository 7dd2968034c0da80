"""``hailong kiosk``: run the kiosk app, create/migrate kiosk.db (or recover its chain), verify its chain."""
from __future__ import annotations

import sys

import click

from kiosk.config import ConfigError, load
from sync.cli_i18n import _

CONFIG_OPTION = click.option("--config", "config_path", default="config.toml", show_default=True,
                             type=click.Path(dir_okay=False), help=_("tệp config.toml của ki-ốt"))


def load_or_exit(path: str):
    try:
        return load(path)
    except ConfigError as exc:
        click.echo(_("Lỗi cấu hình: {error}", error=exc), err=True)
        sys.exit(2)


def open_store(cfg):
    from kiosk.store import KioskStore
    store = KioskStore.from_config(cfg)
    warn_exposed(cfg.db_path)
    return store


def warn_exposed(db_path) -> list[str]:
    """At start: one warning (log and stderr) for each way others can read kiosk.db."""
    import logging

    from sync.filemodes import exposed
    found = exposed(db_path)
    if found:   # one line
        line = _("Cảnh báo: {what}: người khác đọc được khóa và các lượt đánh giá của ki-ốt này",
                 what="; ".join(found))
        if logging.getLogger().handlers:     # the app's or `hailong sync`'s log (stderr)
            logging.getLogger("hailong.kiosk").warning(line)
        else:                                # a plain command: stderr
            click.echo(line, err=True)
    return found


@click.group(invoke_without_command=True,
             help=_("Chạy ki-ốt (ứng dụng màn hình cảm ứng cùng tác tử đồng bộ của nó)."))
@CONFIG_OPTION
@click.pass_context
def kiosk(ctx, config_path):
    ctx.obj = config_path
    if ctx.invoked_subcommand is None:
        cfg = load_or_exit(config_path)
        if not cfg.kiosk_key:
            click.echo(_("Lỗi cấu hình: [server] key: thiếu; hãy đăng ký ki-ốt này (`hailong admin enrol-kiosk`) "
                         "rồi chép token và key của nó vào [server], hoặc đặt [kiosk] key cho ki-ốt chỉ chạy "
                         "ngoại tuyến"), err=True)
            sys.exit(2)
        run_kiosk(cfg)


def run_kiosk(cfg, demo: bool = False, extra_services=()) -> None:
    """The app with its sync agent (when [server] url and token are set).

    ``extra_services`` start after the agent (the kiosk driver of the tests
    passes its scripted citizen here, so it runs the real wiring).
    """
    import logging
    logging.getLogger("urllib3").setLevel(logging.WARNING)  # Kivy's logger would print every request
    from kiosk.ui.app import run
    if cfg.db_path.exists():
        warn_exposed(cfg.db_path)
    run(cfg, demo=demo, extra_services=[sync_service(cfg), *extra_services])


def sync_service(cfg, **overrides):
    """The sync agent as a service of the kiosk app: ``kiosk.ui.app.run(extra_services=[…])``.

    This is where the app and its agent meet, so the wiring is here, in
    events both ways and no attribute set on the other:

    * agent → app: ``agent.on_config_applied(app.config_applied)``; the
      agent's thread calls it once the store holds a new config, the app
      hops to its UI thread with a Clock trigger and refreshes once (roster,
      receipt key, names);
    * app → agent: ``app.bind(on_rating_stored=…)`` nudges the agent, so a
      rating leaves within a second instead of at the next interval;
    * the heartbeat reports ``app.device_state()`` (printer, scanner).

    ``service(app)`` returns the function that undoes all of it and stops
    the agent, or None when this kiosk is offline only (no [server] url or
    token). Kivy-free: ``app`` needs ``store``, ``device_state``,
    ``config_applied`` and Kivy's ``bind``/``unbind``.
    """
    def service(app):
        if not cfg.server["url"] or not cfg.server["token"]:
            return None
        from sync.agent import agent_from_config
        options = dict(overrides)
        options.setdefault("device_state", app.device_state)
        agent = agent_from_config(cfg, app.store, **options)
        forget_app = agent.on_config_applied(app.config_applied)

        def nudge(_app, _record) -> None:
            agent.nudge()
        app.bind(on_rating_stored=nudge)
        agent.start()

        def stop() -> None:
            app.unbind(on_rating_stored=nudge)
            forget_app()
            agent.stop()
        return stop
    return service


@kiosk.command(help=_("Tạo hoặc nâng cấp kiosk.db; không làm gì thêm khi nó đã mới nhất."))
@CONFIG_OPTION
@click.option("--recover", is_flag=True,
              help=_("kiosk.db bị mất hoặc bị thay: nối tiếp chuỗi từ số cuối cùng máy chủ đang giữ"))
@click.pass_context
def init(ctx, config_path, recover):
    cfg = load_or_exit(config_path if config_path != "config.toml" else ctx.obj)
    store = open_store(cfg)
    applied = store.init()
    if applied:
        click.echo(_("{path}: lược đồ nay ở phiên bản {version} (đã áp dụng {applied})",
                     path=cfg.db_path, version=store.schema_version, applied=applied))
    else:
        click.echo(_("{path}: lược đồ đã mới nhất (phiên bản {version})",
                     path=cfg.db_path, version=store.schema_version))
    try:
        if recover:
            recover_chain(cfg, store)
    finally:
        store.close()


def recover_chain(cfg, store) -> None:
    """``init --recover``: ask the server its tail (or use the one last heard), continue the chain from it."""
    if not cfg.kiosk_key:
        click.echo(_("Lỗi cấu hình: [server] key: cần để niêm phong chuỗi được khôi phục (hoặc [kiosk] key)"),
                   err=True)
        sys.exit(2)
    server = None
    if cfg.server["url"] and cfg.server["token"]:
        from sync.agent import SyncError, TransientError, agent_from_config
        try:
            agent_from_config(cfg, store, max_backoff=1).heartbeat()
            server = store.server_tail()
        except (TransientError, SyncError, OSError, ValueError) as exc:
            click.echo(_("Cảnh báo: chưa lấy được số cuối của máy chủ ({why}); dùng số nghe được lần cuối",
                         why=exc), err=True)
    server = server or store.server_tail()
    if server is None:
        click.echo(_("Không khôi phục được: chưa biết số cuối máy chủ giữ của ki-ốt này (không có [server] url "
                     "và token, không liên lạc được máy chủ, hoặc máy chủ chưa giữ gì của ki-ốt này)"), err=True)
        sys.exit(2)
    behind = store.chain_behind(server)
    if behind is None:
        click.echo(_("Không có gì để khôi phục: chuỗi của ki-ốt này (số {seq}) không chậm hơn của máy chủ "
                     "(số {server_seq})", seq=store.last_seq(), server_seq=server["seq"]))
        return
    from kiosk.store import StoreError
    try:
        done = store.recover(server)
    except StoreError as exc:
        click.echo(_("Không khôi phục được: {why}", why=exc), err=True)
        sys.exit(1)
    click.echo(_("Đã khôi phục: chuỗi nối tiếp từ số {base} của máy chủ; {resealed} lượt đánh giá chưa được "
                 "xác nhận được niêm phong lại sau số đó; lượt tiếp theo là số {next}",
                 base=done["base_seq"], resealed=done["resealed"], next=done["next_seq"]))


@kiosk.command(help=_("Kiểm tra chuỗi và mọi chữ ký; thoát với mã 1, nêu số đầu tiên bị hỏng."))
@CONFIG_OPTION
@click.pass_context
def verify(ctx, config_path):
    cfg = load_or_exit(config_path if config_path != "config.toml" else ctx.obj)
    if not cfg.kiosk_key:
        click.echo(_("Lỗi cấu hình: [server] key: cần để kiểm tra chữ ký (hoặc [kiosk] key)"), err=True)
        sys.exit(2)
    if not cfg.db_path.exists():
        click.echo(_("Không có cơ sở dữ liệu {path} (chạy `hailong kiosk init`)", path=cfg.db_path), err=True)
        sys.exit(2)
    store = open_store(cfg)
    bad, why = store.verify()
    count = store.count()
    behind = store.chain_behind()
    base = store.chain_base()
    store.close()
    if bad is not None:
        click.echo(_("HỎNG ở số {seq}: {why}", seq=bad, why=why), err=True)
        sys.exit(1)
    if behind is not None:
        click.echo(_("CHẬM HƠN máy chủ ở số {seq}: {why}; chạy `hailong kiosk init --recover`",
                     seq=behind["server_seq"], why=behind["why"]), err=True)
        sys.exit(1)
    since = _(" (nối tiếp chuỗi của máy chủ sau số {seq})", seq=base["seq"]) if base else ""
    click.echo(_("HỢP LỆ: {count} lượt đánh giá; chuỗi và chữ ký đều đúng{since}", count=count, since=since))


@kiosk.command(help=_("Cài ki-ốt từ tệp cài đặt ngoại tuyến (hailong admin kiosk-bundle): ghi config.toml và "
                       "kiosk.db, không cần mạng; tệp mới hơn cập nhật danh sách và khảo sát, giữ nguyên các lượt "
                       "đánh giá."))
@click.argument("bundle_file", metavar="TỆP", type=click.Path(dir_okay=False))
@CONFIG_OPTION
@click.option("--db", default=None, help=_("kiosk.db ở đâu (khi config.toml chưa nêu) [mặc định: kiosk.db cạnh "
                                          "config.toml]"))
@click.option("--passphrase-stdin", is_flag=True, help=_("đọc cụm mật khẩu từ đầu vào chuẩn"))
@click.option("--force", is_flag=True, help=_("áp dụng cả tệp cũ hơn tệp đã áp dụng"))
@click.pass_context
def provision(ctx, bundle_file, config_path, db, passphrase_stdin, force):
    from kiosk.provision import Missing, ProvisionError
    from kiosk.provision import provision as apply_bundle
    from sync.bundle import BundleError
    config_path = config_path if config_path != "config.toml" else ctx.obj
    if passphrase_stdin:
        passphrase = sys.stdin.readline()
    else:
        passphrase = click.prompt(_("Cụm mật khẩu của tệp"), hide_input=True)
    try:
        done = apply_bundle(bundle_file, config_path, passphrase, db=db, force=force)
    except (BundleError, ProvisionError) as exc:
        click.echo(_("Không cài được: {why}", why=exc), err=True)
        sys.exit(2 if isinstance(exc, Missing) else 1)
    if done.unchanged:
        click.echo(_("Tệp này đã được áp dụng ({when}); không có gì thay đổi.", when=done.created_at))
        return
    click.echo(_("Đã cài ki-ốt {kiosk} (đơn vị {unit}, quầy {desk}): {officers} cán bộ, {photos} ảnh, "
                 "{surveys} khảo sát, khóa phiếu: {receipt}; {config} (chỉ chủ sở hữu đọc được) và {db}. "
                 "Ki-ốt đánh giá và in phiếu được ngay, không cần mạng.",
                 kiosk=done.kiosk_id, unit=done.unit_code, desk=done.desk_id, officers=done.officers,
                 photos=done.photos, surveys=done.surveys, receipt=_("có") if done.receipt_key else _("không"),
                 config=done.config_path, db=done.db_path))
    if not done.credentials:
        click.echo(_("Tệp chỉ có danh sách: mã truy cập và khóa của ki-ốt giữ nguyên."))


from kiosk import backup as _backup  # noqa: E402 - `hailong kiosk backup` / `restore` (kiosk/backup.py)

for _command in _backup.COMMANDS:
    kiosk.add_command(_command)
