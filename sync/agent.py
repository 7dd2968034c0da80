"""The kiosk's sync agent: pushes sealed ratings to the town server, pulls its config.

No Kivy here: the agent takes the kiosk's store as an object with the
KioskStore interface (pending, mark_synced, record_sync_error, sync_counts,
apply_roster, get_meta/set_meta) and runs as a thread inside the kiosk app
(:meth:`SyncAgent.start` / :meth:`SyncAgent.stop`) or as ``hailong sync``.

Delivery: oldest pending ratings first, one gzip batch at a time, each under
an Idempotency-Key kept (with the very same body) for every retry of that
batch. Ratings are marked synced only when the server's reply lists them as
accepted or duplicate; rejected ones are quarantined with the server's reason
so they never block the ratings after them. Failures (no link, timeouts,
5xx, 408, 429) are retried with exponential backoff and full jitter, or
after the server's Retry-After.

The server's config lands in the store: the roster through apply_roster
(photos downloaded beside kiosk.db) and, as JSON in the meta table,
``server_scale``, ``server_reasons``, ``server_questions``,
``server_scale_labels``, ``server_surveys`` (protocol v2: the survey
documents a rating may be sealed on), ``server_default_survey``,
``receipt_key`` and ``config_etag``. Each heartbeat's reply says the last
seq and hash the server holds of this kiosk (``chain_tail``), kept through
``store.set_server_tail`` (meta ``server_chain_tail``): a kiosk whose chain
is behind it lost or replaced kiosk.db (``hailong kiosk init --recover``).

Whoever shows that config hears of it through an event, not by polling:
:meth:`SyncAgent.on_config_applied` registers a listener, called (from the
agent's thread) once the store holds the whole new config. The kiosk app
registers one that only fires a Kivy ``Clock`` trigger, so the refresh runs
once, on the UI thread (kiosk/commands.py wires them). The agent knows
nothing of the app: no Kivy, no ``kiosk`` import here.

Retries go through tenacity with sync/retry.py's wait, the same rule as
``hailong pull``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import mimetypes
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin

import requests
import tenacity

from sync import protocol
from sync.retry import RETRY_STATUS, BackoffWait, TransientError, retry_after

__all__ = ["SyncAgent", "SyncError", "TransientError", "DrainResult", "ConfigListener", "agent_from_config",
           "apply_config"]

log = logging.getLogger("hailong.sync")

#: called with the config the server sent, once the store holds it
ConfigListener = Callable[[dict], None]

class SyncError(Exception):
    """Syncing cannot go on without a person (e.g. the token was refused)."""


@dataclass
class DrainResult:
    sent: int = 0
    synced: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    bytes_sent: int = 0
    errors: list = field(default_factory=list)


class SyncAgent:
    """Push pending ratings, pull the kiosk config, send heartbeats."""

    def __init__(self, store, server_url: str, token: str, kiosk_id: str, *, batch_size: int = 500,
                 timeout: float = 10, interval: float = 15, heartbeat_interval: float = 60,
                 max_backoff: float = 300, min_backoff: float = 0.5, utc_offset: str = "+07:00",
                 photo_dir: str | Path | None = None, version: str | None = None,
                 device_state: Callable[[], dict] | None = None,
                 on_config: ConfigListener | None = None, gzip_level: int = 6,
                 session: requests.Session | None = None):
        if not server_url:
            raise SyncError("no server url: this kiosk is offline only")
        self.store = store
        self.server_url = server_url.rstrip("/") + "/"
        self.kiosk_id = kiosk_id
        self.batch_size = batch_size
        self.timeout = timeout
        self.interval = interval
        self.heartbeat_interval = heartbeat_interval
        self.max_backoff = max_backoff
        self.min_backoff = min_backoff
        self.utc_offset = utc_offset
        self.photo_dir = Path(photo_dir) if photo_dir else Path(getattr(store, "path", "kiosk.db")).parent / "photos"
        self.version = version or _version()
        self.device_state = device_state
        self._config_listeners: list[ConfigListener] = [on_config] if on_config is not None else []
        self.gzip_level = gzip_level
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}",
                                     "User-Agent": f"hailong-sync/{self.version}"})
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._defer: Callable | None = None   # set by drain(): run store writes on its helper thread
        self._last_heartbeat = 0.0
        self._last_config = 0.0
        self.last_error: str | None = None
        self.last_success: str | None = None
        self.acked_through: int | None = None

    # -- events ----------------------------------------------------------------

    def on_config_applied(self, listener: ConfigListener) -> Callable[[], None]:
        """Call ``listener(config)`` after each new config is stored; returns a function removing it.

        It runs on the thread that pulled the config (the agent's own, when
        started), after the roster, surveys, receipt key and ETag are all in
        the store, so a listener that reads the store sees the whole new
        config. Keep it short and thread-safe (a Kivy app only fires a Clock
        trigger). A listener that raises is logged and never stops the sync.
        The ``on_config`` constructor argument is the first listener.
        """
        self._config_listeners.append(listener)

        def remove() -> None:
            try:
                self._config_listeners.remove(listener)
            except ValueError:
                pass
        return remove

    def _config_applied(self, config: dict) -> None:
        for listener in list(self._config_listeners):
            try:
                listener(config)
            except Exception:
                log.exception("sync: a config listener failed")

    # -- HTTP ------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return urljoin(self.server_url, path.lstrip("/"))

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        """One request; TransientError when worth retrying, SyncError when a person must act."""
        try:
            resp = self.session.request(method, self._url(path), timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"no answer from {self.server_url}: {exc.__class__.__name__}") from None
        except requests.RequestException as exc:
            raise TransientError(f"request failed: {exc}") from None
        if resp.status_code in RETRY_STATUS:
            raise TransientError(f"server answered {resp.status_code}", retry_after(resp))
        if resp.status_code in (401, 403):
            raise SyncError(f"server refused this kiosk ({resp.status_code}): {_detail(resp)}")
        return resp

    def _retrying(self, deadline: float | None = None) -> tenacity.Retrying:
        def stop(retry_state) -> bool:
            return self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

        def before_sleep(retry_state) -> None:
            exc = retry_state.outcome.exception()
            self.last_error = str(exc)
            log.warning("sync: %s; retrying in %.1f s", exc, retry_state.upcoming_sleep)

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=BackoffWait(self.min_backoff, self.max_backoff),
            stop=stop, sleep=self._stop.wait, before_sleep=before_sleep, reraise=True)

    # -- ratings ---------------------------------------------------------------

    def _body(self, records: list[dict]) -> bytes:
        """The gzip batch body; a record read by pending_wire() goes as SQLite wrote it."""
        parts = [r["wire"] if "wire" in r else json.dumps(r, ensure_ascii=False, separators=(",", ":"))
                 for r in records]
        head = json.dumps({"kiosk_id": self.kiosk_id, "sent_at": _now(self.utc_offset)},
                          ensure_ascii=False, separators=(",", ":"))
        raw = (head[:-1] + ',"ratings":[' + ",".join(parts) + "]}").encode("utf-8")
        return gzip.compress(raw, compresslevel=self.gzip_level, mtime=0)

    def push(self, records: list[dict], result: DrainResult, deadline: float | None = None,
             body: bytes | None = None) -> None:
        """Send one batch until the server answers; apply its verdict to the store.

        Every attempt carries the same Idempotency-Key; a retry rebuilds the
        body only to refresh sent_at (the server's skew measure), the ratings
        being the same.
        """
        key = str(uuid.uuid4())
        headers = {"Idempotency-Key": key, "Content-Encoding": "gzip", "Content-Type": "application/json"}
        attempts = 0
        for attempt in self._retrying(deadline):
            with attempt:
                attempts += 1
                if body is None or attempts > 1:
                    body = self._body(records)
                result.bytes_sent += len(body)
                resp = self._request("POST", protocol.PATH_BATCH, data=body, headers=headers)
        result.retries += attempts - 1
        result.batches += 1
        result.sent += len(records)
        if resp.status_code == 200:
            self._apply_reply(records, resp.json(), result)
            return
        self._refused(records, resp, result, deadline)

    def _apply_reply(self, records: list[dict], reply: dict, result: DrainResult) -> None:
        ok = [r["id"] for r in reply["results"] if r["status"] in ("accepted", "duplicate")]
        bad = [r for r in reply["results"] if r["status"] == "rejected"]

        def write() -> None:
            if ok:
                self.store.mark_synced(ok)
            for r in bad:
                self.store.record_sync_error(r["id"], f"rejected by server: {r.get('error') or 'no reason'}")
        if self._defer is not None:
            self._defer(write)      # while the next batch is on the wire
        else:
            write()
        result.errors.extend(f"{r['id']}: {r.get('error')}" for r in bad)
        answered = {r["id"] for r in reply["results"]}
        missing = [r["id"] for r in records if r["id"] not in answered]
        if missing:  # never expected: leave them pending, they go again next round
            log.error("sync: server reply did not mention %d rating(s)", len(missing))
        result.synced += len(ok)
        result.rejected += len(bad)
        self.acked_through = reply.get("acked_through")
        self.last_success = _now(self.utc_offset)
        self.last_error = None

    def _refused(self, records: list[dict], resp: requests.Response, result: DrainResult,
                 deadline: float | None) -> None:
        """A 4xx for the whole batch: quarantine the culprits so the rest goes through.

        Only 400, 413 and 422 are about the batch's content; anything else
        (404 from a wrong URL, …) leaves every rating pending and needs a person.
        """
        detail = _detail(resp)
        if resp.status_code not in (400, 413, 422):
            raise SyncError(f"server answered {resp.status_code} to a batch: {detail} "
                            f"(is [server] url a hailong server?)")
        named = []
        try:
            named = [e["id"] for e in resp.json().get("errors", []) if e.get("id")]
        except (ValueError, AttributeError, TypeError, KeyError):
            pass
        ids = {r["id"] for r in records}
        culprits = [i for i in named if i in ids]
        if not culprits and len(records) == 1:
            culprits = [records[0]["id"]]
        if culprits:
            for rid in culprits:
                self.store.record_sync_error(rid, f"refused by server ({resp.status_code}): {detail}")
            result.rejected += len(culprits)
            result.errors.append(f"{resp.status_code}: {detail}")
            rest = [r for r in records if r["id"] not in set(culprits)]
            if rest:
                self.push(rest, result, deadline)
            return
        # Not tied to one record (e.g. 413 too large): send smaller batches.
        half = max(1, len(records) // 2)
        log.warning("sync: server refused a batch of %d (%s: %s); trying %d at a time",
                    len(records), resp.status_code, detail, half)
        for i in range(0, len(records), half):
            self.push(records[i:i + half], result, deadline)

    def _prepare(self, after_seq: int) -> tuple[list[dict], bytes | None]:
        """The next batch after ``after_seq`` and its gzip body (the server checks the records)."""
        if hasattr(self.store, "pending_wire"):
            records = self.store.pending_wire(self.batch_size, after_seq=after_seq)
        else:
            try:
                records = self.store.pending(self.batch_size, after_seq=after_seq)
            except TypeError:  # a store without after_seq: only read what is not in flight
                records = [r for r in self.store.pending(self.batch_size + 1) if r["seq"] > after_seq]
        return records, (self._body(records) if records else None)

    def drain(self, progress: bool = False, deadline: float | None = None) -> DrainResult:
        """Send everything pending, batch after batch, as fast as the server takes it.

        A helper thread reads and compresses the next batch, and records the
        previous acknowledgement in kiosk.db, while the current batch is on
        the wire; batches still go one at a time, in seq order, and drain()
        returns only once every acknowledgement is written.
        """
        from concurrent.futures import ThreadPoolExecutor

        result = DrainResult()
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=self.store.sync_counts()["pending"], unit="rating", desc="sync", leave=True)
        with ThreadPoolExecutor(1, thread_name_prefix="hailong-sync-prep") as helper:
            writing = None

            def defer(write) -> None:
                nonlocal writing
                if writing is not None:
                    writing.result()       # one write outstanding at most; raise its error here
                writing = helper.submit(write)
            self._defer = defer
            upcoming = helper.submit(self._prepare, 0)
            try:
                while not self._stop.is_set():
                    records, body = upcoming.result()
                    if not records:
                        break
                    upcoming = helper.submit(self._prepare, records[-1]["seq"])
                    before = result.synced + result.rejected
                    self.push(records, result, deadline, body)
                    if bar is not None:
                        bar.update(result.synced + result.rejected - before)
            finally:
                self._defer = None
                upcoming.cancel()
                if bar is not None:
                    bar.close()
            if writing is not None:
                writing.result()
        return result

    # -- config, heartbeat --------------------------------------------------------

    def pull_config(self) -> bool:
        """Fetch the kiosk config (If-None-Match); apply it when it changed. True when applied."""
        headers = {}
        etag = self.store.get_meta("config_etag")
        if etag:
            headers["If-None-Match"] = etag
        resp = self._request("GET", protocol.PATH_CONFIG.format(kiosk_id=self.kiosk_id), headers=headers)
        self._last_config = time.monotonic()
        if resp.status_code == 304:
            return False
        if resp.status_code != 200:
            raise TransientError(f"config: server answered {resp.status_code}: {_detail(resp)}")
        config = resp.json()
        for officer in config.get("roster", {}).get("officers", []):
            officer["photo"] = self._fetch_photo(officer)
        apply_config(self.store, config, etag=resp.headers.get("ETag"))
        self._config_applied(config)
        return True

    def _fetch_photo(self, officer: dict) -> str | None:
        url = officer.get("photo")
        if not url:
            return None
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in officer["id"])
        want = officer.get("photo_sha256")
        held = sorted(self.photo_dir.glob(f"{safe}.*"))
        for path in held:
            if want and path.suffix != ".part" and hashlib.sha256(path.read_bytes()).hexdigest() == want:
                return str(path)
        resp = self._request("GET", url)
        if resp.status_code != 200:
            log.warning("sync: photo of %s: %s", officer["id"], _detail(resp))
            return str(held[0]) if held else None
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
        path = self.photo_dir / f"{safe}{mimetypes.guess_extension(ctype) or '.png'}"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(resp.content)
        tmp.replace(path)
        return str(path)

    def heartbeat(self) -> dict:
        counts = self.store.sync_counts()
        state = self.device_state() if self.device_state else {}
        body = {"last_seq": counts["last_seq"], "pending": counts["pending"],
                "quarantined": counts.get("quarantined", 0), "kiosk_time": _now(self.utc_offset),
                "version": self.version, "printer": str(state.get("printer", "unknown"))[:200],
                "scanner": str(state.get("scanner", "unknown"))[:200]}
        if isinstance(state.get("health"), dict):   # kiosk.health.summary(): disk, backup, clock, hours
            body["health"] = state["health"]
        tail = getattr(self.store, "tail", None)
        if tail is not None:
            seq, last_hash = tail()
            if seq:
                body["last_hash"] = last_hash
        resp = self._request("POST", protocol.PATH_HEARTBEAT.format(kiosk_id=self.kiosk_id), json=body)
        self._last_heartbeat = time.monotonic()
        if resp.status_code != 200:
            raise TransientError(f"heartbeat: server answered {resp.status_code}: {_detail(resp)}")
        reply = resp.json()
        if "chain_tail" in reply and hasattr(self.store, "set_server_tail"):
            # what the server holds of this kiosk: a kiosk.db lost or replaced is behind it
            self.store.set_server_tail(reply["chain_tail"])
            behind = self.store.chain_behind()
            if behind:
                log.error("sync: %s; recover with `hailong kiosk init --recover`", behind["why"])
        return reply

    # -- running -------------------------------------------------------------------

    def sync_once(self, progress: bool = False, deadline: float | None = None) -> DrainResult:
        """Config (when due), drain, heartbeat (when due). Config/heartbeat failures do not stop the drain."""
        now = time.monotonic()
        # every other round (30 s by default): a survey an admin starts reaches the kiosk within a
        # minute; an unchanged config costs a 304 (If-None-Match)
        if not self._last_config or now - self._last_config >= self.interval * 2:
            try:
                self.pull_config()
            except TransientError as exc:
                log.warning("sync: config not fetched: %s", exc)
        result = self.drain(progress=progress, deadline=deadline)
        if not self._last_heartbeat or time.monotonic() - self._last_heartbeat >= self.heartbeat_interval:
            try:
                self.heartbeat()
            except TransientError as exc:
                log.warning("sync: heartbeat not sent: %s", exc)
        return result

    def run(self) -> None:
        """Loop until stop(): sync, then wait `interval` (or until nudge())."""
        while not self._stop.is_set():
            try:
                self.sync_once()
            except SyncError as exc:
                self.last_error = str(exc)
                log.error("sync: %s", exc)
            except Exception as exc:  # keep the kiosk's agent alive whatever happens; say it loudly
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.exception("sync: unexpected error")
            self._wake.wait(self.interval)
            self._wake.clear()

    def nudge(self) -> None:
        """Sync now (e.g. just after a rating) instead of at the next interval."""
        self._wake.set()

    def start(self) -> "SyncAgent":
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="hailong-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.timeout + 5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _detail(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("detail", resp.reason))
    except (ValueError, AttributeError):
        return f"{resp.status_code} {resp.reason}"


def _now(utc_offset: str) -> str:
    """The kiosk's clock as RFC 3339 with its configured offset (like created_at)."""
    return protocol.now_at_offset(utc_offset).isoformat()


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("hailong")
    except Exception:  # not installed (running from a checkout)
        return "0.6.0"


def apply_config(store, config: dict, etag: str | None) -> None:
    """Store a kiosk config document (GET /api/v1/kiosks/{id}/config's), its officers' photos already
    local paths: the roster through ``apply_roster``, the rest in meta. The one place that knows
    where each part of the document goes; the agent and ``hailong kiosk provision`` (a bundle) use it.
    """
    store.apply_roster(config.get("roster", {}))
    for key in ("scale", "reasons", "questions", "scale_labels", "surveys", "default_survey"):
        if key in config:
            store.set_meta(f"server_{key}", json.dumps(config[key], ensure_ascii=False))
    if config.get("receipt_key"):
        store.set_meta("receipt_key", json.dumps(config["receipt_key"]))
    # the unit's public rating page (receipts print <url>/r/…); null or absent (an older server): none
    store.set_meta("server_public_base_url", json.dumps(config.get("public_base_url") or None))
    store.set_meta("config_etag", etag)


def agent_from_config(cfg, store, **overrides) -> SyncAgent:
    """A SyncAgent set up from a loaded config.toml (kiosk.config.Config)."""
    s = cfg.server
    kwargs = dict(batch_size=s["batch_size"], timeout=s["timeout"], interval=s["interval"],
                  heartbeat_interval=s["heartbeat_interval"], max_backoff=s["max_backoff"],
                  utc_offset=cfg.kiosk["utc_offset"])
    kwargs.update(overrides)
    return SyncAgent(store, s["url"], s["token"], cfg.kiosk["id"], **kwargs)
