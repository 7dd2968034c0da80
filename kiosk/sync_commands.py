"""``hailong sync``: run the kiosk's sync agent in the foreground, or drain once.

It lives with the kiosk's commands, not in sync/, because it reads the
kiosk's config.toml and opens kiosk.db (kiosk.commands' helpers); the agent
itself (sync/agent.py) takes the store as an object and imports nothing of
kiosk/, so the import arrows all run from kiosk/ to sync/.
"""
from __future__ import annotations

import logging
import signal
import sys
import time

import click

from kiosk.commands import CONFIG_OPTION, load_or_exit, open_store


@click.command()
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="drain what is pending (retrying as usual), then exit 0")
@click.option("--give-up-after", type=click.FloatRange(min=0), default=None,
              help="with --once: stop retrying after this many seconds (exit 1) [default: never]")
@click.option("--progress/--no-progress", default=None,
              help="progress bar [default: when standard error is a terminal]")
@click.option("-v", "--verbose", is_flag=True, help="log each retry")
def sync(config_path, once, give_up_after, progress, verbose):
    """Send this kiosk's ratings to the town server and fetch its roster."""
    from sync.agent import SyncError, TransientError, agent_from_config

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_or_exit(config_path)
    for key in ("url", "token"):
        if not cfg.server[key]:
            click.echo(f"config error: [server] {key}: empty (this kiosk is offline only; "
                       "see `hailong admin enrol-kiosk`)", err=True)
            sys.exit(2)
    store = open_store(cfg)
    store.init()
    agent = agent_from_config(cfg, store)
    if progress is None:
        progress = sys.stderr.isatty()

    def _stop(signum, _frame):
        click.echo("stopping…", err=True)
        agent.stop(0)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    if not once:
        click.echo(f"hailong sync: {cfg.kiosk['id']} → {cfg.server['url']} (Ctrl+C to stop)", err=True)
        agent.run()
        return
    deadline = time.monotonic() + give_up_after if give_up_after is not None else None
    try:
        result = agent.sync_once(progress=progress, deadline=deadline)
    except SyncError as exc:
        click.echo(f"sync error: {exc}", err=True)
        sys.exit(1)
    except TransientError as exc:
        counts = store.sync_counts()
        click.echo(f"gave up: {exc} ({counts['pending']} ratings still pending)", err=True)
        sys.exit(1)
    counts = store.sync_counts()
    click.echo(f"synced {result.synced}, rejected {result.rejected}, pending {counts['pending']}, "
               f"quarantined {counts['quarantined']} ({result.batches} batches, {result.retries} retries)")
    for error in result.errors[:10]:
        click.echo(f"  rejected: {error}", err=True)
    sys.exit(0 if counts["pending"] == 0 else 1)
