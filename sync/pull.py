"""``hailong pull``: copy ratings out of the town server through the admin API.

Pages through ``GET /api/v1/ratings?after=<cursor>`` and writes CSV (UTF-8
with BOM, so Excel shows Vietnamese right), Excel (.xlsx) or JSON Lines. CSV
and Excel have the web export's Vietnamese headers and words (sync/columns.py;
``--raw``: field names and codes); JSON Lines has the records as sent. The
cursor reached is remembered in a state file (default ``<out>.cursor.json``)
and the next run without ``--after`` starts from it and ADDS what is new to
the file: CSV and JSON Lines at their end (no second header; refused when the
header differs), Excel written again with the old rows and the new ones.
A new file (or an Excel one, or ``--full``) is written beside the output,
fsynced and renamed into place. The state moves only after the rows are on
the disk, and records the file's size: a pull interrupted mid-append is cut
back and fetched again, never skipped nor doubled. An output without its
state file is refused (where it stopped is unknown); a state without its
output starts from the beginning, saying so.
A page the server does not serve is retried (``--retries``) by the same
tenacity rule as the sync agent's (sync/retry.py). The token is read from
``--token-file`` or ``$HAILONG_TOKEN`` (or ``--token``, which ``ps`` shows).
CSV and Excel cells are written by sync/cells.py's rule, the web export's:
never a formula, no control character.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import operator
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import click
import requests
import tenacity

from sync import columns, protocol
from sync.cells import csv_cell, xlsx_cell, xlsx_finish, xlsx_sheet, xlsx_time
from sync.cli_i18n import _
from sync.retry import RETRY_STATUS, BackoffWait, TransientError, retry_after

COLUMNS = list(protocol.RECORD_FIELDS) + ["received_at"]
LIST_FIELDS = ("reasons", "flags")
XLSX_MAX_RATINGS = 1_048_576 - 1   # Excel's rows, less the heading


class PullError(Exception):
    pass


class _RetryStatus(TransientError):
    """A 408/429/5xx answer: retried; when the tries run out, its response is reported as any other."""

    def __init__(self, resp: requests.Response):
        super().__init__(f"server answered {resp.status_code}", retry_after(resp))
        self.resp = resp


def _get(session: requests.Session, url: str, params: dict, timeout: float, retries: int,
         server: str, sleep: Callable[[float], None] = tenacity.nap.sleep) -> requests.Response:
    """One page, tried ``retries`` more times when the server does not answer or asks to come back.

    The same tenacity rule as the sync agent (sync/retry.py): full jitter
    from 0.5 s doubling up to 10 s, or the server's Retry-After up to 30 s.
    """
    def once() -> requests.Response:
        try:
            resp = session.get(url, params=params, timeout=timeout)
        except requests.RequestException as exc:
            raise TransientError(_("không có trả lời từ {server}: {why}", server=server,
                                   why=exc.__class__.__name__)) from None
        if resp.status_code in RETRY_STATUS:
            raise _RetryStatus(resp)
        return resp

    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(TransientError),
                                 wait=BackoffWait(0.5, 10, after_cap=30),
                                 stop=tenacity.stop_after_attempt(retries + 1), sleep=sleep, reraise=True)
    try:
        return retrying(once)
    except _RetryStatus as exc:
        return exc.resp
    except TransientError as exc:
        raise PullError(str(exc)) from None


def _refused(resp: requests.Response) -> PullError:
    """A non-200 answer as the error to show: its status and the server's ``detail`` (or the reason)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else resp.reason
    return PullError(_("máy chủ trả lời {status}: {detail}", status=resp.status_code, detail=detail))


def fetch_pages(server: str, token: str, after: str | None, limit: int, timeout: float,
                retries: int = 5, session: requests.Session | None = None):
    """Yield (ratings, next cursor, their JSON texts or None) pages until the server has nothing more."""
    session = session or requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = server.rstrip("/") + protocol.PATH_RATINGS
    while True:
        params = {"limit": limit}
        if after:
            params["after"] = after
        resp = _get(session, url, params, timeout, retries, server)
        if resp.status_code != 200:
            raise _refused(resp)
        try:
            ratings, nxt, lines = parse_page(resp.content)
        except (ValueError, KeyError, TypeError):
            raise PullError(_("{url} không trả lời như một máy chủ hailong", url=url)) from None
        if ratings:
            yield ratings, nxt or after, lines
        if not ratings or nxt is None:
            return
        after = nxt


#: the server's streamed `--raw` CSV (sync/server/api/ratings.py, 0.4) and what it says in its headers
PATH_RATINGS_CSV = "/api/v1/ratings.csv"
NEXT_HEADER, COUNT_HEADER = "X-Hailong-Next", "X-Hailong-Count"
#: rows a streamed request asks for: what a broken connection costs again, at most
STREAM_ROWS = 100_000


def stream_csv(server: str, token: str, after: str | None, writer: "_Writer", timeout: float, retries: int = 5,
               rows: int = STREAM_ROWS, session: requests.Session | None = None, bar=None,
               sleep: Callable[[float], None] = tenacity.nap.sleep) -> tuple[int, str | None] | None:
    """The ``--raw`` CSV rows after ``after`` from the server's streamed route, at the end of ``writer``'s file.

    Returns (rows written, cursor now), or None when the server has no such route (404, before 0.4: the
    caller pages the JSON route). Each request asks for ``rows`` rows; the server names the cursor after
    them (a header, before the first byte) and their count. A request cut short (the server stopped, the
    network broke, a body that does not end its last row) is cut back from the file and asked again, by
    the rule of :func:`_get`; when the tries run out the error stands and the caller cuts back the rest.
    """
    session = session or requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = server.rstrip("/") + PATH_RATINGS_CSV
    writer.fh.flush()
    fh = writer.fh.buffer
    count, cursor, first = 0, after, True
    while True:
        params = {"limit": rows, **({"after": cursor} if cursor else {})}
        pos = fh.tell()

        def once():
            fh.seek(pos)
            fh.truncate()
            try:
                resp = session.get(url, params=params, timeout=timeout, stream=True)
            except requests.RequestException as exc:
                raise TransientError(_("không có trả lời từ {server}: {why}", server=server,
                                       why=exc.__class__.__name__)) from None
            if resp.status_code != 200:
                resp.content    # noqa: B018 - read whole: the error's detail, and the connection freed
                if resp.status_code in RETRY_STATUS:
                    raise _RetryStatus(resp)
                return resp, None
            try:
                got = int(resp.headers[COUNT_HEADER])
                nxt = resp.headers.get(NEXT_HEADER)
                if got < 0 or (got > 0) != bool(nxt) or (nxt and not nxt.isdigit()):
                    raise ValueError
            except (KeyError, ValueError):
                resp.close()
                raise PullError(_("{url} không trả lời như một máy chủ hailong", url=url)) from None
            tail = b""
            try:
                for block in resp.iter_content(1 << 20):
                    fh.write(block)
                    tail = (tail + block)[-2:]
            except requests.RequestException as exc:
                raise TransientError(_("không có trả lời từ {server}: {why}", server=server,
                                       why=exc.__class__.__name__)) from None
            finally:
                resp.close()
            if got and tail != b"\r\n":
                raise TransientError(_("không có trả lời từ {server}: {why}", server=server, why="IncompleteRead"))
            return resp, (got, nxt)

        retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(TransientError),
                                     wait=BackoffWait(0.5, 10, after_cap=30),
                                     stop=tenacity.stop_after_attempt(retries + 1), sleep=sleep, reraise=True)
        try:
            resp, done = retrying(once)
        except _RetryStatus as exc:
            resp, done = exc.resp, None
        except TransientError as exc:
            raise PullError(str(exc)) from None
        if done is None:
            if first and resp.status_code == 404:
                return None
            raise _refused(resp)
        first = False
        got, nxt = done
        count += got
        writer.rows += got
        if bar is not None:
            bar.update(got)
        if not got:
            return count, cursor
        cursor = nxt
        if got < rows:      # caught up: what commits later comes with the next pull
            return count, cursor


def parse_page(body: bytes) -> tuple[list[dict], str | None, list[str] | None]:
    """A ratings page → (records, next, each record's JSON text as the server wrote it, or None).

    The server writes one record a line (``{"ratings":[`` / records followed
    by ``,`` / ``],"next":…}``); a raw newline cannot occur inside JSON text,
    so the lines are the records. They let `--format jsonl` write each
    record as received instead of encoding it again (half the client's time).
    Any other layout still parses, and gives None.
    """
    text = body.decode("utf-8")   # decoded here: requests would first guess the charset over MBs
    page = json.loads(text)
    ratings, nxt = page["ratings"], page["next"]
    parts = text.split("\n")
    if (ratings and len(parts) == len(ratings) + 2 and parts[0] == '{"ratings":['
            and parts[-1].startswith('],"next":')):
        lines = [p[:-1] for p in parts[1:-2]] + [parts[-2]]
        if all(p.endswith("},") for p in parts[1:-2]) and all(ln[:1] == "{" and ln[-1:] == "}" for ln in lines):
            return ratings, nxt, lines
    return ratings, nxt, None


def prefetched(pages):
    """Iterate ``pages`` in a thread, one page ahead: the next request is in flight while this one is written.

    An exception in the fetching thread is raised here, at the page it
    stopped at; when the consumer stops early the thread ends after its
    current request.
    """
    import queue
    import threading

    box: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def run():
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        box.put((page, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((done, None))
        except BaseException as exc:  # handed to the consumer
            box.put((done, exc))

    worker = threading.Thread(target=run, name="pull-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            page, exc = box.get()
            if page is done:
                if exc is not None:
                    raise exc
                return
            yield page
    finally:
        stop.set()


_COLUMN_VALUES = operator.itemgetter(*COLUMNS)
_LIST_AT = [COLUMNS.index(c) for c in LIST_FIELDS]
_ANSWERS_AT = COLUMNS.index("answers")


def _flat(rec: dict) -> list:
    """A record as the ``--raw`` row: field names' order, lists joined by "; ", answers as JSON text."""
    try:
        row = list(_COLUMN_VALUES(rec))
    except KeyError:   # a field missing: an empty cell
        row = [rec.get(col) for col in COLUMNS]
    for i in _LIST_AT:
        row[i] = "; ".join(row[i] or [])
    if row[_ANSWERS_AT]:   # protocol v2: question code → answer, as JSON text; a v1 record: empty
        row[_ANSWERS_AT] = json.dumps(row[_ANSWERS_AT], ensure_ascii=False, sort_keys=True)
    else:
        row[_ANSWERS_AT] = None
    return row


#: the admin API's names (sync/server/api/ratings.py PATH_NAMES), for the web export's words
PATH_NAMES = "/api/v1/names"
_CODES = columns.Lookups()     # a server without /names (before 0.3): the cells hold codes


def fetch_lookups(server: str, token: str, timeout: float, retries: int = 5,
                  session: requests.Session | None = None) -> columns.Lookups:
    """The names of units, desks, officers, procedures and the surveys' labels, from the server.

    A server older than 0.3 has no such route (404): the cells hold codes, as they did.
    Anything the server sends that is not the expected shape is left out, never trusted."""
    session = session or requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    resp = _get(session, server.rstrip("/") + PATH_NAMES, {}, timeout, retries, server)
    if resp.status_code == 404:
        return _CODES
    if resp.status_code != 200:
        raise _refused(resp)
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise PullError(_("{url} không trả lời như một máy chủ hailong", url=server))

    def names(key: str) -> dict[str, str]:
        got = doc.get(key)
        return {k: v for k, v in got.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(got, dict) else {}

    reasons = dict(protocol.DEFAULT_REASONS)
    for code, pair in (doc.get("reasons") or {}).items() if isinstance(doc.get("reasons"), dict) else ():
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair):
            reasons[code] = (pair[0], pair[1])
    surveys = {k: v for k, v in (doc.get("surveys") or {}).items()
               if isinstance(v, dict)} if isinstance(doc.get("surveys"), dict) else {}
    scale = doc.get("scale") if doc.get("scale") in protocol.SCALES else 3
    return columns.Lookups(units=names("units"), desks=names("desks"), officers=names("officers"),
                           procedures=names("procedures"), reasons=reasons, surveys=surveys,
                           fallback_levels={lv: vi for lv, vi, _en, _sat in protocol.SCALES[scale]})


def _human(rec: dict, look: columns.Lookups = _CODES) -> dict:
    """A record as the web export's cells (sync/columns.py): the kiosk's time is the rating's time."""
    return columns.values({**rec, "time": rec.get("created_at")}, look)


def header(fmt: str, raw: bool) -> list[str] | None:
    """The header row the file has: field names with ``--raw``, else the web export's; JSON Lines has none."""
    if fmt == "jsonl":
        return None
    return list(COLUMNS) if raw else list(columns.HEADERS)


def sniff(path: Path) -> str:
    """What an existing output holds: "xlsx" (a zip), "jsonl" (a JSON object first) or "csv"."""
    with path.open("rb") as fh:
        start = fh.read(8)
    if start.startswith(b"PK\x03\x04"):
        return "xlsx"
    if start.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":
        return "jsonl"
    return "csv"


def _existing_header(fmt: str, path: Path) -> list[str] | None:
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="", errors="replace") as fh:
            return next(csv.reader(fh), [])
    if fmt == "xlsx":
        from openpyxl import load_workbook
        book = load_workbook(path, read_only=True)
        try:
            first = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
        finally:
            book.close()
        return ["" if v is None else str(v) for v in first]
    return None


def _fsync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    """The rename itself made durable (POSIX; Windows has no directory handles to sync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tail_hash(path: Path, size: int) -> str:
    """SHA-256 of the last 4 KiB before ``size``: tells our own unfinished append from someone's edit."""
    with path.open("rb") as fh:
        fh.seek(max(0, size - 4096))
        return hashlib.sha256(fh.read(min(size, 4096))).hexdigest()


class _Writer:
    """Rows into ``path``: a new file (``append`` False: written whole, the caller renames it into place),
    or the end of an existing CSV / JSON Lines file. Excel is always a new file: ``keep`` holds the old rows."""

    def __init__(self, fmt: str, path: Path, raw: bool = False, append: bool = False, keep=None,
                 look: columns.Lookups = _CODES):
        self.fmt, self.path, self.raw, self.rows, self.look = fmt, path, raw, 0, look
        heads = header(fmt, raw)
        if fmt == "xlsx":
            try:
                from openpyxl import Workbook
            except ImportError:
                raise PullError("xlsx needs openpyxl: pip install 'hailong[server]'") from None
            self.book = Workbook(write_only=True)
            widths = [14] * len(heads) if raw else [columns.WIDTHS[k] for k in columns.KEYS]
            self.sheet = xlsx_sheet(self.book, "ratings" if raw else "Đánh giá", heads, widths)
            self._times = [False] * len(heads) if raw else [k in columns.TIME_KEYS for k in columns.KEYS]
            for row in keep or ():
                self._xlsx_row(list(row))
        elif fmt == "csv":
            if append:   # no BOM and no header in the middle of the file
                self.fh = path.open("a", newline="", encoding="utf-8")
            else:
                self.fh = path.open("w", newline="", encoding="utf-8-sig")
            self.csv = csv.writer(self.fh)
            if not append:
                self.csv.writerow(heads)
        else:
            self.fh = path.open("a" if append else "w", encoding="utf-8", newline="\n")
            self.dumps = json.JSONEncoder(ensure_ascii=False).encode

    def _xlsx_row(self, row: list) -> None:
        self.rows += 1
        if self.rows > XLSX_MAX_RATINGS:
            raise PullError(f"an Excel sheet holds at most {XLSX_MAX_RATINGS:,} ratings: "
                            "use --format csv or jsonl, or pull in parts with --after")
        sheet, fmt = self.sheet, columns.EXCEL_TIME_FORMAT
        self.sheet.append([xlsx_time(sheet, v, fmt) if t and isinstance(v, datetime) else xlsx_cell(sheet, v)
                           for v, t in zip(row, self._times)])

    def write_page(self, ratings: list[dict], lines: list[str] | None = None) -> None:
        if self.fmt == "xlsx":
            # text cells never a formula, control characters replaced (sync/cells.py); times as dates
            for rec in ratings:
                if self.raw:
                    self._xlsx_row(_flat(rec))
                else:
                    cells = _human(rec, self.look)
                    self._xlsx_row([cells[k] for k in columns.KEYS])
            return
        self.rows += len(ratings)
        if self.fmt == "csv":   # formula-leading cells escaped exactly as the web's CSV (sync/cells.py)
            if self.raw:
                self.csv.writerows([csv_cell(v) for v in _flat(rec)] for rec in ratings)
            else:
                look = self.look
                self.csv.writerows([csv_cell(v) for v in columns.csv_values(_human(rec, look))] for rec in ratings)
        elif lines is not None:
            self.fh.write("\n".join(lines) + "\n")
        else:
            dumps = self.dumps
            self.fh.write("".join([dumps(rec) + "\n" for rec in ratings]))

    def close(self) -> None:
        """Everything written reaches the disk (fsync) before this returns."""
        if self.fmt == "xlsx":
            xlsx_finish(self.sheet, len(self.sheet_header()), self.rows,
                        printed=None if self.raw else len(columns.PRINTED))
            self.book.save(self.path)
            with self.path.open("rb+") as fh:
                os.fsync(fh.fileno())
        else:
            try:
                _fsync(self.fh)
            finally:
                self.fh.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):   # already failing: the first error is the one reported
            if self.fmt == "xlsx":
                self.sheet.close()   # ends openpyxl's sheet writer (its temporary file), nothing saved
            else:
                self.fh.close()

    def sheet_header(self) -> list[str]:
        return header(self.fmt, self.raw)


def read_state(path: Path, server: str) -> str | None:
    """The cursor remembered in ``path`` for ``server`` (None when there is no state file)."""
    state = read_state_doc(path, server)
    return state.get("after") if state else None


def read_state_doc(path: Path, server: str) -> dict | None:
    try:
        state = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise PullError(_("{path}: không phải tệp trạng thái của pull (xóa nó, hoặc cho --after)", path=path)) from None
    if not isinstance(state, dict):
        raise PullError(_("{path}: không phải tệp trạng thái của pull (xóa nó, hoặc cho --after)", path=path))
    if state.get("server") != server.rstrip("/"):
        raise PullError(_("{path}: con trỏ thuộc về {owner}, không phải {server} (dùng --state hoặc --after)",
                          path=path, owner=state.get("server"), server=server))
    return state


FORMAT_NAMES = {"csv": "CSV", "xlsx": "Excel (.xlsx)", "jsonl": "JSON Lines"}


def check_appendable(fmt: str, out: Path, raw: bool, state: dict | None) -> None:
    """Refuse to add rows to ``out`` when they would not fit what it holds (another format, other columns)."""
    found = sniff(out)
    if found != fmt:
        raise PullError(_("{out} là tệp {found}, không phải {fmt}: không thêm vào được. Cho --out một tệp khác, "
                          "hoặc --full để thay nó bằng toàn bộ đánh giá.", out=out, found=FORMAT_NAMES[found],
                          fmt=FORMAT_NAMES[fmt]))
    if state and state.get("format") not in (None, fmt):
        raise PullError(_("{out}: lần lấy trước ghi dạng {was}, lần này {fmt}: cho --out một tệp khác, "
                          "hoặc --full để ghi lại toàn bộ.", out=out, was=FORMAT_NAMES.get(state["format"], "?"),
                          fmt=FORMAT_NAMES[fmt]))
    want = header(fmt, raw)
    if want is None:
        return
    try:
        have = _existing_header(fmt, out)
    except Exception:   # noqa: BLE001 - an unreadable workbook: said as such
        raise PullError(_("{out}: không đọc được tệp đang có; cho --out một tệp khác, hoặc --full để thay nó.",
                          out=out)) from None
    if have != want:
        if have == header(fmt, not raw):
            why = (_("tệp có tên trường (--raw), lần này là tiêu đề tiếng Việt") if not raw
                   else _("tệp có tiêu đề tiếng Việt, lần này là tên trường (--raw)"))
        else:
            why = _("tệp có các cột khác")
        raise PullError(_("{out}: hàng tiêu đề không khớp các cột sẽ ghi ({why}): không thêm vào để khỏi trộn cột. "
                          "Cho --out một tệp khác, hoặc --full để ghi lại toàn bộ.", out=out, why=why))


def _count_rows(fmt: str, out: Path) -> int:
    if fmt == "csv":
        with out.open(encoding="utf-8-sig", newline="", errors="replace") as fh:
            return max(0, sum(1 for _row in csv.reader(fh)) - 1)
    with out.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _old_xlsx_rows(out: Path) -> list:
    from openpyxl import load_workbook
    book = load_workbook(out, read_only=True)
    try:
        rows = [list(r) for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)]
    finally:
        book.close()
    return [r for r in rows if any(v is not None for v in r)]


def pull_to(server: str, token: str, fmt: str, out: Path, after: str | None, state_path: Path,
            limit: int = 1000, timeout: float = 30, progress: bool = False,
            retries: int = 5, raw: bool = False, replace: bool = False, stream: bool = True) -> tuple[int, str | None]:
    """Add the ratings after ``after`` to ``out``; returns (count added, cursor now).

    ``out`` missing (or ``replace``): a new file, written beside it and renamed
    into place. ``out`` there: CSV and JSON Lines get the rows at their end,
    Excel is written again with its rows and the new ones; refused when the
    file is of another format or has other columns. The state moves only
    after the rows are on the disk (fsync): an interrupted pull is fetched
    again, and the part it had added is cut off first (the state's size).
    ``stream`` False: CSV ``--raw`` from the JSON pages even when the server streams it.
    """
    return _pull(server, token, fmt, out, after, state_path, limit, timeout, progress, retries, raw, replace,
                 stream)[:2]


def _pull(server, token, fmt, out, after, state_path, limit, timeout, progress, retries, raw, replace,
          stream=True):
    state = None
    if not replace:   # an unreadable or foreign state with --after: only its size check is lost
        with contextlib.suppress(PullError):
            state = read_state_doc(state_path, server)
    append = not replace and out.exists() and out.stat().st_size > 0
    keep, total_before, cut = None, 0, False
    if append:
        check_appendable(fmt, out, raw, state)
        if fmt == "xlsx":
            keep = _old_xlsx_rows(out)
            total_before = len(keep)
        else:
            size = out.stat().st_size
            known = state.get("size") if state else None
            if (isinstance(known, int) and 0 < known < size
                    and _tail_hash(out, known) == state.get("tail")):
                with out.open("rb+") as fh:     # what an interrupted pull had added: fetched again below
                    fh.truncate(known)
                    os.fsync(fh.fileno())
                size, cut = known, True
            trusted = state and state.get("size") == size and isinstance(state.get("rows"), int)
            total_before = state["rows"] if trusted else _count_rows(fmt, out)
            if size:
                with out.open("rb") as fh:
                    fh.seek(size - 1)
                    ends_open = fh.read(1) not in (b"\n", b"\r")
                if ends_open:                   # a last line without its end (an editor's save): close it
                    with out.open("ab") as fh:
                        fh.write(b"\r\n" if fmt == "csv" else b"\n")
                        _fsync(fh)
    target = out if append and fmt != "xlsx" else out.with_name(out.name + ".part")
    start_size = out.stat().st_size if target is out else 0
    # the web export's words need the server's names (not for --raw, nor JSON Lines: records as sent)
    look = _CODES if raw or fmt == "jsonl" else fetch_lookups(server, token, timeout, retries)
    writer = _Writer(fmt, target, raw, append=target is out, keep=keep, look=look)
    count, cursor = 0, after
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(unit="rating", desc="pull")
    try:
        streamed = None
        if fmt == "csv" and raw and stream:   # the server's own CSV, streamed (a server before 0.4: None)
            streamed = stream_csv(server, token, after, writer, timeout, retries, bar=bar)
        if streamed is not None:
            count, cursor = streamed
        else:
            for ratings, nxt, lines in prefetched(fetch_pages(server, token, after, limit, timeout, retries)):
                writer.write_page(ratings, lines)
                count += len(ratings)
                cursor = nxt
                if bar is not None:
                    bar.update(len(ratings))
        writer.close()
    except BaseException:
        writer.abandon()
        if target is out:                       # the rows added so far go: the state did not move
            with out.open("rb+") as fh:
                fh.truncate(start_size)
                os.fsync(fh.fileno())
        else:
            target.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    if target is not out:
        try:
            os.replace(target, out)
        except OSError:
            target.unlink(missing_ok=True)
            raise
        _fsync_dir(out.parent)
    total = total_before + count if fmt != "xlsx" else writer.rows
    size = out.stat().st_size
    doc = {"server": server.rstrip("/"), "after": cursor, "count": count, "rows": total, "format": fmt,
           "raw": raw, "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if fmt != "xlsx":
        doc.update(size=size, tail=_tail_hash(out, size))
    state_tmp = state_path.with_name(state_path.name + ".part")
    with state_tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=1))
        _fsync(fh)
    os.replace(state_tmp, state_path)
    _fsync_dir(state_path.parent)
    return count, cursor, total, cut


def _token(token: str | None, token_file: Path | None) -> str:
    """The token to send: from --token-file, else --token / $HAILONG_TOKEN; messages never show it."""
    if token_file is not None:
        try:
            lines = token_file.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(_("--token-file {path}: không đọc được ({why})", path=token_file,
                                         why=getattr(exc, "strerror", None) or _("không phải văn bản UTF-8"))
                                       ) from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise click.ClickException(_("--token-file {path}: tệp trống", path=token_file))
    token = (token or "").strip()
    if not token:
        raise click.UsageError(_("chưa có mã API quản trị: đặt $HAILONG_TOKEN, hoặc cho --token-file FILE "
                                 "(hoặc --token T)"))
    return token


@click.command(help=_(
    "Lấy các lượt đánh giá từ máy chủ thị trấn vào một tệp CSV, Excel hoặc JSON Lines.\n\n"
    "Mã API quản trị lấy từ --token-file FILE, nếu không thì $HAILONG_TOKEN, nếu không thì --token T; "
    "mã ghi trên dòng lệnh thì mọi người dùng của máy đều thấy trong `ps`, nên hãy dùng tệp hoặc biến "
    "môi trường."))
@click.option("--server", required=True, help=_("địa chỉ máy chủ thị trấn, ví dụ https://hailong.xa-abc.gov.vn"))
@click.option("--token", default=None, envvar="HAILONG_TOKEN", show_envvar=True,
              help=_("mã API quản trị; tốt hơn là lấy từ $HAILONG_TOKEN hoặc --token-file, vì người dùng khác "
                     "không đọc được chúng trong `ps` như đọc một dòng lệnh"))
@click.option("--token-file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=_("đọc mã API quản trị từ tệp này (dòng đầu tiên)"))
@click.option("--after", default=None,
              help=_("con trỏ để bắt đầu sau đó [mặc định: của tệp trạng thái, nếu không thì từ đầu]"))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), required=True,
              help=_("định dạng tệp ra"))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=_("tệp ra"))
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_("nơi nhớ con trỏ [mặc định: <out>.cursor.json]"))
@click.option("--full", is_flag=True, help=_("bỏ qua con trỏ đã nhớ: lấy tất cả và thay tệp ra bằng chúng"))
@click.option("--raw", is_flag=True,
              help=_("cột là tên trường và mã như máy chủ gửi, thay cho tiêu đề tiếng Việt và chữ của trang xuất tệp"))
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 5000),
              help=_("số lượt đánh giá mỗi trang"))
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help=_("số giây chờ mỗi trang"))
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20),
              help=_("thử lại ngần ấy lần (giãn dần) khi máy chủ không trả lời"))
@click.option("--progress/--no-progress", default=None,
              help=_("thanh tiến độ [mặc định: khi đầu ra lỗi chuẩn là một màn hình dòng lệnh]"))
def pull(server, token, token_file, after, fmt, out, state_path, full, raw, limit, timeout, retries, progress):
    if not server.startswith(("http://", "https://")):
        raise click.ClickException(_("--server: phải bắt đầu bằng http:// hoặc https://"))
    token = _token(token, token_file)
    state_path = state_path or out.with_name(out.name + ".cursor.json")
    try:
        if after is None and not full:
            after = _resume_from(server, out, state_path)
        count, cursor, total, cut = _pull(server, token, fmt, out, after, state_path, limit, timeout,
                                          sys.stderr.isatty() if progress is None else progress, retries,
                                          raw, full)
    except PullError as exc:
        raise click.ClickException(str(exc)) from None
    except PermissionError as exc:   # on Windows, a file open in Excel cannot be written nor replaced
        raise click.ClickException(_("{path}: không ghi được ({why}); tệp đang mở trong Excel? Đóng nó rồi chạy "
                                     "lại: không mất gì, lần sau lấy lại đúng phần này.",
                                     path=exc.filename or out, why=exc.strerror)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out}: {exc.strerror}") from None
    if cut:
        click.echo(_("{out}: bỏ phần lần lấy trước (bị ngắt) đã ghi dở; phần đó được lấy lại.", out=out), err=True)
    click.echo(_("Đã thêm {count} dòng vào {out} (tổng {total}); lần lấy sau bắt đầu sau con trỏ {cursor}.",
                 count=_number(count), out=out, total=_number(total), cursor=cursor or _("đầu")))


def _number(n: int) -> str:
    """4.084 in Vietnamese, 4,084 in English."""
    text = f"{n:,}"
    return text.replace(",", ".") if _.language == "vi" else text


def _resume_from(server: str, out: Path, state_path: Path) -> str | None:
    """The cursor to go on from, given what is on the disk; says what it does when the two disagree."""
    state = read_state_doc(state_path, server)
    exists = out.exists() and out.stat().st_size > 0
    if state and not exists:
        if state.get("after"):
            click.echo(_("Không thấy {out} (lần lấy trước đã ghi vào đó đến con trỏ {cursor}): lấy lại tất cả "
                         "từ đầu vào một tệp mới.", out=out, cursor=state.get("after")), err=True)
        return None
    if exists and not state:
        raise PullError(_("{out} đã có nhưng không có tệp trạng thái {state}, nên không biết tệp dừng ở lượt nào: "
                          "không thêm vào để khỏi lặp dòng. Cho --full để thay nó bằng toàn bộ đánh giá, "
                          "--after CON_TRỎ để thêm sau con trỏ đó, hoặc --out một tệp khác.",
                          out=out, state=state_path))
    return state.get("after") if state else None
