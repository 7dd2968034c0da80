"""Test helpers for the sync tests: a fault-injecting HTTP proxy and a real town server.

FaultProxy sits between the agent and the server on 127.0.0.1. It handles
one HTTP/1.1 request per connection (it forwards with ``Connection: close``)
and, for each request whose path contains ``match``, applies the next
planned fault:

- ``pass``: forward and relay the answer;
- ``reset``: read the request, then reset the connection (nothing reaches the server);
- ``reset_mid``: reset after reading only part of the request;
- ``delay:S``: hold the connection S seconds without answering, then close;
- ``status:CODE[:RETRY_AFTER]``: answer CODE itself (e.g. 500, 503 with Retry-After);
- ``drop_response``: forward, let the server commit, then reset instead of answering;
- ``hold:S``: forward, then hold the server's answer S seconds before relaying it.

``proxy.down()`` stops listening (connections refused) until ``proxy.up()``.

ServerThread runs the real app under uvicorn in a thread; ServerProcess runs
``hailong server`` as a subprocess that a test can kill and restart.
"""
from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from helpers import free_port, start_server, wait_until


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), like a crashed peer or a middlebox cutting the line."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _read_head(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """Read up to the end of the headers: (head, the body bytes read so far)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def _read_body(sock: socket.socket, head: bytes, body: bytes) -> bytes | None:
    """The whole request, re-headed with ``Connection: close``."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
    return b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body


class FaultProxy:
    def __init__(self, upstream_port: int, match: str = ""):
        self.upstream_port = upstream_port
        self.match = match.encode()
        self.port = free_port()
        self.plan: list[str] = []
        self.log: list[tuple[float, str, str]] = []   # (monotonic time, request line, fault applied)
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closed = False
        self.up()

    # -- control -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, *faults: str) -> None:
        with self._lock:
            self.plan.extend(faults)

    def requests_to(self, fragment: str) -> list[tuple[float, str, str]]:
        with self._lock:
            return [entry for entry in self.log if fragment in entry[1]]

    def faults_left(self) -> int:
        with self._lock:
            return len(self.plan)

    def up(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def down(self) -> None:
        """Stop listening: the agent's connections are refused."""
        sock, self._listener = self._listener, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._closed = True
        self.down()

    # -- work ----------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _next_fault(self, request: bytes) -> str:
        line = request.split(b"\r\n", 1)[0]
        fault = "pass"
        with self._lock:
            if self.plan and self.match in line:
                fault = self.plan.pop(0)
            self.log.append((time.monotonic(), line.decode("latin-1"), fault))
        return fault

    def _serve(self, client: socket.socket) -> None:
        try:
            got = _read_head(client)
            if got is None:
                client.close()
                return
            head, rest = got
            fault = self._next_fault(head)
            if fault == "reset_mid":       # the body is still on its way
                _reset(client)
                return
            request = _read_body(client, head, rest)
            if request is None:
                client.close()
                return
            if fault == "reset":
                _reset(client)
                return
            if fault.startswith("delay:"):
                time.sleep(float(fault.split(":")[1]))
                client.close()
                return
            if fault.startswith("status:"):
                parts = fault.split(":")
                extra = f"Retry-After: {parts[2]}\r\n" if len(parts) > 2 else ""
                body = b'{"detail":"injected by the test proxy"}'
                client.sendall(f"HTTP/1.1 {parts[1]} Injected\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body)
                client.close()
                return
            response = self._forward(request)
            if fault == "drop_response" or response is None:
                _reset(client)
                return
            if fault.startswith("hold:"):
                time.sleep(float(fault.split(":")[1]))
            client.sendall(response)
            client.close()
        except OSError:
            try:
                client.close()
            except OSError:
                pass

    def _forward(self, request: bytes) -> bytes | None:
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as up:
                up.sendall(request)
                chunks = []
                while True:
                    chunk = up.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            return b"".join(chunks) or None
        except OSError:
            return None


# --- the town server --------------------------------------------------------------

class ServerThread:
    """The real app (create_app) under uvicorn, in this process."""

    def __init__(self, db_path, **options):
        """``db_path``: a town.db path or a database URL (PostgreSQL)."""
        import uvicorn

        from sync.server.app import create_app
        if "://" in str(db_path) and "media_dir" not in options:
            import tempfile    # a database URL has no folder for the photos (else ./media of the checkout)
            options["media_dir"] = Path(tempfile.mkdtemp(prefix="hailong-media-")) / "media"
        self.app = create_app(str(db_path), **options)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, what="uvicorn start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def engine(self):
        return self.app.state.engine

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.engine.dispose()
        self.app.state.reader.dispose()


class ServerProcess:
    """``hailong server`` as a subprocess, killable (SIGKILL) and restartable on the same port."""

    def __init__(self, db_path: Path, log_path: Path):
        self.db_path, self.log_path = db_path, log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = start_server(self.db_path, self.port, log=self.log_path, timeout=30)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()


def demo_town(tmp_path: Path, db=None) -> ServerThread:
    """A running town server with kiosk K1 enrolled for unit 13321 (``server.k1``) and the demo roster.

    ``db``: the town database (a path or a PostgreSQL URL, as the ``town_db``
    fixture gives); by default a town.db under ``tmp_path/town``.
    """
    from helpers import ROOT

    from sync.server.core.admin_ops import enrol_kiosk, import_roster
    server = ServerThread(db or tmp_path / "town" / "town.db", media_dir=tmp_path / "town" / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        import_roster(conn, ROOT / "assets" / "demo" / "roster.json", tmp_path / "town" / "media")
    return server


# --- kiosks ---------------------------------------------------------------------

def sealed_ratings(kiosk_id: str, key_hex: str, n: int, start_seq: int = 1, prev_hash: str | None = None,
                   created_at: str = "2026-03-02T09:15:00+07:00") -> list[dict]:
    """``n`` sealed, chained ratings (fast: no per-row commit)."""
    import uuid

    from sync import protocol
    prev = prev_hash or protocol.ZERO_HASH
    out = []
    for seq in range(start_seq, start_seq + n):
        rec = protocol.seal({
            "id": str(uuid.uuid4()), "kiosk_id": kiosk_id, "seq": seq, "created_at": created_at,
            "unit_code": "13321", "desk_id": "quay-1", "officer_id": f"cb-00{seq % 5 + 1}",
            "dossier_code": f"H12.34-{seq:06d}", "procedure_code": "1.001193", "receipt_id": None,
            "level": 1 + seq % 3, "reasons": ["thai_do"] if seq % 3 == 0 else [],
            "comment": "Cán bộ hướng dẫn tận tình" if seq % 7 == 0 else None,
            "source": "walk_up", "flags": [], "survey": "hl3", "answers": {},
        }, prev, key_hex)
        out.append(rec)
        prev = rec["hash"]
    return out


class BatchKiosk:
    """One kiosk's chain over HTTP: the next gzip batches, sealed and chained on from the last one, posted.

    ``enrolment``: what enrol_kiosk returns (token, key). The same body can be posted again (a retry)
    under the same or another Idempotency-Key.
    """

    def __init__(self, kiosk_id: str, enrolment: dict, start_seq: int = 1, prev: str | None = None):
        self.id, self.token, self.key = kiosk_id, enrolment["token"], enrolment["key"]
        self.seq, self.prev = start_seq, prev

    def batch(self, n: int) -> tuple[bytes, list[dict]]:
        import gzip
        import json

        recs = sealed_ratings(self.id, self.key, n, self.seq, self.prev)
        self.seq += n
        self.prev = recs[-1]["hash"]
        body = json.dumps({"kiosk_id": self.id, "sent_at": "2026-03-02T09:20:00+07:00", "ratings": recs})
        return gzip.compress(body.encode()), recs

    def post(self, server: str, body: bytes, key: str, timeout: float = 60):
        import requests

        from sync import protocol
        return requests.post(server + protocol.PATH_BATCH, data=body, timeout=timeout, headers={
            "Authorization": f"Bearer {self.token}", "Idempotency-Key": key, "Content-Encoding": "gzip",
            "Content-Type": "application/json"})


def fill_kiosk(db_path: Path, kiosk_id: str, key_hex: str, n: int, **kwargs):
    """A kiosk.db (KioskStore schema) holding ``n`` sealed ratings, bulk-inserted; returns the store."""
    import json

    from kiosk.store import KioskStore
    from sync import protocol
    store = KioskStore(db_path, kiosk_id, key_hex)
    store.init()
    last = store.records(after_seq=store.last_seq() - 1, limit=1)
    if last and "start_seq" not in kwargs:
        kwargs.update(start_seq=last[0]["seq"] + 1, prev_hash=last[0]["hash"])
    rows = []
    for rec in sealed_ratings(kiosk_id, key_hex, n, **kwargs):
        rows.append(tuple(json.dumps(rec[k], ensure_ascii=False) if k in ("reasons", "flags", "answers") else rec[k]
                          for k in protocol.RECORD_FIELDS))
    cols = ",".join(protocol.RECORD_FIELDS)
    with store._lock:
        store.conn.execute("BEGIN IMMEDIATE")
        store.conn.executemany(f"INSERT INTO ratings({cols}) VALUES ({','.join('?' * len(protocol.RECORD_FIELDS))})", rows)
        store.conn.execute("COMMIT")
    store._tail = None
    return store


def write_config(folder: Path, kiosk_id: str, key_hex: str, url: str, token: str, **server) -> Path:
    """A config.toml for ``hailong sync`` (small timeouts and backoff for tests by default)."""
    values = {"url": url, "token": token, "key": key_hex, "batch_size": 200, "timeout": 2,
              "interval": 1, "heartbeat_interval": 1, "max_backoff": 0.2, **server}
    lines = ["[kiosk]", f'id = "{kiosk_id}"', 'unit_code = "13321"', 'desk_id = "quay-1"',
             'db = "kiosk.db"', "", "[server]"]
    for k, v in values.items():
        lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}")
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def server_ratings(engine, kiosk_id: str) -> list[dict]:
    """The server's ratings of a kiosk, in seq order, as records (lists decoded)."""
    import json

    from sqlalchemy import select

    from sync.server.core.db import ratings
    with engine.connect() as conn:
        rows = conn.execute(select(ratings).where(ratings.c.kiosk_id == kiosk_id).order_by(ratings.c.seq)).mappings().all()
    out = []
    for r in rows:
        rec = dict(r)
        rec["reasons"], rec["flags"] = json.loads(rec["reasons"]), json.loads(rec["flags"])
        rec["server_flags"] = json.loads(rec["server_flags"])
        if rec.pop("wire_version") == 1:      # a v1 record: as sealed, without survey and answers
            del rec["survey"], rec["answers"]
        else:
            rec["answers"] = json.loads(rec["answers"])
        out.append(rec)
    return out


def open_alerts(engine, kiosk_id: str | None = None) -> list[dict]:
    from sqlalchemy import select

    from sync.server.core.db import alerts
    query = select(alerts).where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.id)
    if kiosk_id:
        query = query.where(alerts.c.kiosk_id == kiosk_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
