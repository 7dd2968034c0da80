"""``hailong sync``: run the kiosk's sync agent in the foreground, or drain once.

It lives with the kiosk's commands, not in sync/, because it reads the
kiosk's config.toml and opens kiosk.db (kiosk.commands' helpers); the agent
itself (sync/agent.py) takes the store as an object and imports nothing of
kiosk/, so the import arrows all run from kiosk/ to sync/.

Its heartbeat carries the kiosk's health (kiosk.health.summary) through the
agent's ``device_state``. Under systemd (hailong-sync.service, Type=notify)
it says READY=1 once the agent runs and WATCHDOG=1 while the agent's thread
lives (kiosk/watchdog.py).
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import click

from kiosk.commands import CONFIG_OPTION, load_or_exit, open_store
from sync.cli_i18n import _


@click.command(help=_("Gửi các lượt đánh giá của ki-ốt này lên máy chủ thị trấn và lấy danh sách cán bộ về."))
@CONFIG_OPTION
@click.option("--once", is_flag=True, help=_("gửi hết những gì đang chờ (thử lại như thường lệ), rồi thoát 0"))
@click.option("--give-up-after", type=click.FloatRange(min=0), default=None,
              help=_("với --once: thôi thử lại sau ngần ấy giây (thoát 1) [mặc định: không bao giờ]"))
@click.option("--progress/--no-progress", default=None,
              help=_("thanh tiến độ [mặc định: khi đầu ra lỗi chuẩn là một màn hình dòng lệnh]"))
@click.option("-v", "--verbose", is_flag=True, help=_("ghi nhật ký mỗi lần thử lại"))
def sync(config_path, once, give_up_after, progress, verbose):
    from sync.agent import SyncError, TransientError, agent_from_config

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_or_exit(config_path)
    for key in ("url", "token"):
        if not cfg.server[key]:
            click.echo(_("Lỗi cấu hình: [server] {key}: trống (ki-ốt này chỉ chạy ngoại tuyến; "
                         "xem `hailong admin enrol-kiosk`)", key=key), err=True)
            sys.exit(2)
    store = open_store(cfg)
    store.init()
    agent = agent_from_config(cfg, store, device_state=health_state(cfg, store))
    if progress is None:
        progress = sys.stderr.isatty()

    stopped = threading.Event()

    def _stop(signum, _frame):
        click.echo(_("đang dừng…"), err=True)
        stopped.set()
        agent.stop(0)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    if not once:
        click.echo(_("hailong sync: {kiosk} → {url} (Ctrl+C để dừng)", kiosk=cfg.kiosk["id"], url=cfg.server["url"]),
                   err=True)
        from kiosk.health import clock_synced
        from kiosk.watchdog import Notifier
        if clock_synced() is False:
            logging.getLogger(__name__).warning(
                "the system clock is not NTP-synchronised: the times on receipts and ratings may be wrong")
        notifier = Notifier()
        if not notifier.enabled:
            agent.run()
            return
        sys.exit(run_notified(agent, notifier, stopped))
    deadline = time.monotonic() + give_up_after if give_up_after is not None else None
    try:
        result = agent.sync_once(progress=progress, deadline=deadline)
    except SyncError as exc:
        click.echo(_("Lỗi đồng bộ: {error}", error=exc), err=True)
        sys.exit(1)
    except TransientError as exc:
        counts = store.sync_counts()
        click.echo(_("Đã thôi thử: {error} (còn {pending} lượt đánh giá đang chờ)", error=exc,
                     pending=counts["pending"]), err=True)
        sys.exit(1)
    counts = store.sync_counts()
    click.echo(_("đã gửi {synced}, bị từ chối {rejected}, đang chờ {pending}, cách ly {quarantined} "
                 "({batches} lô, {retries} lần thử lại)", synced=result.synced, rejected=result.rejected,
                 pending=counts["pending"], quarantined=counts["quarantined"], batches=result.batches,
                 retries=result.retries))
    for error in result.errors[:10]:
        click.echo(_("  bị từ chối: {error}", error=error), err=True)
    sys.exit(0 if counts["pending"] == 0 else 1)


def health_state(cfg, store):
    """The agent's ``device_state``: {"health": kiosk.health.summary(…)} (no printer, no scanner here)."""
    from kiosk.health import summary
    started = time.monotonic()

    def state() -> dict:
        return {"health": summary(cfg, store, started_at=started)}
    return state


def run_notified(agent, notifier, stopped: threading.Event) -> int:
    """The agent in its thread, systemd told: READY=1, then WATCHDOG=1 at half WatchdogSec while the thread lives.

    Returns 0 once stopped by a signal; 1 when the agent's thread ended by
    itself (it should not: systemd restarts the service).
    """
    agent.start()
    notifier.ready(status=f"syncing {agent.kiosk_id} with {agent.server_url}")
    every = notifier.interval or 60.0
    while agent.running and not stopped.is_set():
        if stopped.wait(every):
            break
        if agent.running:
            notifier.ping()
    notifier.stopping()
    agent.stop()
    return 0 if stopped.is_set() else 1
