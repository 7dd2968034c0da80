"""``hailong kiosk``: run the kiosk app, create/migrate kiosk.db, verify its chain."""
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
    return KioskStore.from_config(cfg)


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


def run_kiosk(cfg, demo: bool = False) -> None:
    """The app with its sync agent (when [server] url and token are set)."""
    import logging
    logging.getLogger("urllib3").setLevel(logging.WARNING)  # Kivy's logger would print every request
    from kiosk.ui.app import run
    from sync.agent import kiosk_service
    run(cfg, demo=demo, extra_services=[kiosk_service(cfg)])


@kiosk.command()
@CONFIG_OPTION
@click.pass_context
def init(ctx, config_path):
    """Create or migrate kiosk.db; do nothing more when it is current."""
    cfg = load_or_exit(config_path if config_path != "config.toml" else ctx.obj)
    store = open_store(cfg)
    applied = store.init()
    if applied:
        click.echo(f"{cfg.db_path}: schema now at version {store.schema_version} (applied {applied})")
    else:
        click.echo(f"{cfg.db_path}: schema current (version {store.schema_version})")
    store.close()


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
    store.close()
    if bad is not None:
        click.echo(f"BROKEN at seq {bad}: {why}", err=True)
        sys.exit(1)
    click.echo(f"OK: {count} ratings, chain and signatures verify")
