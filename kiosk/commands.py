"""``hailong kiosk``: run the kiosk app, create/migrate kiosk.db (or recover its chain), verify its chain."""
from __future__ import annotations

import sys

import click

from kiosk.config import ConfigError, load

CONFIG_OPTION = click.option("--config", "config_path", default="config.toml", show_default=True,
                             type=click.Path(dir_okay=False), help="the kiosk's config.toml")


def load_or_exit(path: str):
    try:
        return load(path)
    except ConfigError as exc:
        click.echo(f"config error: {exc}", err=True)
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
        line = f"warning: {'; '.join(found)}: others can read this kiosk's key and ratings"
        if logging.getLogger().handlers:     # the app's or `hailong sync`'s log (stderr)
            logging.getLogger("hailong.kiosk").warning(line)
        else:                                # a plain command: stderr
            click.echo(line, err=True)
    return found


@click.group(invoke_without_command=True)
@CONFIG_OPTION
@click.pass_context
def kiosk(ctx, config_path):
    """Run the kiosk (touchscreen app with its sync agent)."""
    ctx.obj = config_path
    if ctx.invoked_subcommand is None:
        cfg = load_or_exit(config_path)
        if not cfg.kiosk_key:
            click.echo("config error: [server] key: missing; enrol this kiosk (`hailong admin enrol-kiosk`) "
                       "and copy its token and key into [server], or set [kiosk] key for an offline-only kiosk",
                       err=True)
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


@kiosk.command()
@CONFIG_OPTION
@click.option("--recover", is_flag=True,
              help="kiosk.db was lost or replaced: continue the chain from the last seq the server holds")
@click.pass_context
def init(ctx, config_path, recover):
    """Create or migrate kiosk.db; do nothing more when it is current."""
    cfg = load_or_exit(config_path if config_path != "config.toml" else ctx.obj)
    store = open_store(cfg)
    applied = store.init()
    if applied:
        click.echo(f"{cfg.db_path}: schema now at version {store.schema_version} (applied {applied})")
    else:
        click.echo(f"{cfg.db_path}: schema current (version {store.schema_version})")
    try:
        if recover:
            recover_chain(cfg, store)
    finally:
        store.close()


def recover_chain(cfg, store) -> None:
    """``init --recover``: ask the server its tail (or use the one last heard), continue the chain from it."""
    if not cfg.kiosk_key:
        click.echo("config error: [server] key: needed to seal the recovered chain (or [kiosk] key)", err=True)
        sys.exit(2)
    server = None
    if cfg.server["url"] and cfg.server["token"]:
        from sync.agent import SyncError, TransientError, agent_from_config
        try:
            agent_from_config(cfg, store, max_backoff=1).heartbeat()
            server = store.server_tail()
        except (TransientError, SyncError, OSError, ValueError) as exc:
            click.echo(f"warning: the server's tail not fetched ({exc}); using the one last heard", err=True)
    server = server or store.server_tail()
    if server is None:
        click.echo("cannot recover: the server's last seq of this kiosk is not known (no [server] url and "
                   "token, the server unreachable, or it holds nothing of this kiosk)", err=True)
        sys.exit(2)
    behind = store.chain_behind(server)
    if behind is None:
        click.echo(f"nothing to recover: this kiosk's chain (seq {store.last_seq()}) is not behind the "
                   f"server's (seq {server['seq']})")
        return
    from kiosk.store import StoreError
    try:
        done = store.recover(server)
    except StoreError as exc:
        click.echo(f"cannot recover: {exc}", err=True)
        sys.exit(1)
    click.echo(f"recovered: the chain continues from the server's seq {done['base_seq']}; "
               f"{done['resealed']} rating(s) not acknowledged sealed again after it; "
               f"the next rating is seq {done['next_seq']}")


@kiosk.command()
@CONFIG_OPTION
@click.pass_context
def verify(ctx, config_path):
    """Check the chain and every signature; exit 1 naming the first bad seq."""
    cfg = load_or_exit(config_path if config_path != "config.toml" else ctx.obj)
    if not cfg.kiosk_key:
        click.echo("config error: [server] key: needed to verify signatures (or [kiosk] key)", err=True)
        sys.exit(2)
    if not cfg.db_path.exists():
        click.echo(f"{cfg.db_path}: no such database (run `hailong kiosk init`)", err=True)
        sys.exit(2)
    store = open_store(cfg)
    bad, why = store.verify()
    count = store.count()
    behind = store.chain_behind()
    base = store.chain_base()
    store.close()
    if bad is not None:
        click.echo(f"BROKEN at seq {bad}: {why}", err=True)
        sys.exit(1)
    if behind is not None:
        click.echo(f"BEHIND the server at seq {behind['server_seq']}: {behind['why']}; "
                   "run `hailong kiosk init --recover`", err=True)
        sys.exit(1)
    since = f" (continuing the server's chain after seq {base['seq']})" if base else ""
    click.echo(f"OK: {count} ratings, chain and signatures verify{since}")
