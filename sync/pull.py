"""``hailong pull``: copy ratings out of the town server through the admin API.

Pages through ``GET /api/v1/ratings?after=<cursor>`` and writes CSV (UTF-8
with BOM, so Excel shows Vietnamese right), Excel (.xlsx) or JSON Lines. The
cursor reached is remembered in a state file (default ``<out>.cursor.json``)
and the next run without ``--after`` starts from it, so each pull brings only
what is new. The output and the state are written to temporary files and
renamed at the end: an interrupted pull leaves the previous ones intact.
A page the server does not serve is retried (``--retries``) by the same
tenacity rule as the sync agent's (sync/retry.py). The token is read from
``--token-file`` or ``$HAILONG_TOKEN`` (or ``--token``, which ``ps`` shows).
CSV and Excel cells are written by sync/cells.py's rule, the web export's:
never a formula, no control character.
"""
from __future__ import annotations

import csv
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

from sync import protocol
from sync.cells import csv_cell, xlsx_cell
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
            try:
                detail = resp.json().get("detail")
            except ValueError:
                detail = resp.reason
            raise PullError(_("máy chủ trả lời {status}: {detail}", status=resp.status_code, detail=detail))
        try:
            ratings, nxt, lines = parse_page(resp.content)
        except (ValueError, KeyError, TypeError):
            raise PullError(_("{url} không trả lời như một máy chủ hailong", url=url)) from None
        if ratings:
            yield ratings, nxt or after, lines
        if not ratings or nxt is None:
            return
        after = nxt


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


class _Writer:
    def __init__(self, fmt: str, path: Path):
        self.fmt, self.path = fmt, path
        if fmt == "xlsx":
            try:
                from openpyxl import Workbook
            except ImportError:
                raise PullError("xlsx needs openpyxl: pip install 'hailong[server]'") from None
            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet("ratings")
            self.sheet.append(COLUMNS)
            self.rows = 0
        elif fmt == "csv":
            self.fh = path.open("w", newline="", encoding="utf-8-sig")
            self.csv = csv.writer(self.fh)
            self.csv.writerow(COLUMNS)
        else:
            self.fh = path.open("w", encoding="utf-8")
            self.dumps = json.JSONEncoder(ensure_ascii=False).encode

    def write_page(self, ratings: list[dict], lines: list[str] | None = None) -> None:
        if self.fmt == "xlsx":
            self.rows += len(ratings)
            if self.rows > XLSX_MAX_RATINGS:
                raise PullError(f"an Excel sheet holds at most {XLSX_MAX_RATINGS:,} ratings: "
                                "use --format csv or jsonl, or pull in parts with --after")
            sheet = self.sheet
            for rec in ratings:   # text cells, never a formula, control characters replaced (sync/cells.py)
                sheet.append([xlsx_cell(sheet, v) for v in _flat(rec)])
        elif self.fmt == "csv":   # formula-leading cells escaped exactly as the web's CSV (sync/cells.py)
            self.csv.writerows([csv_cell(v) for v in _flat(rec)] for rec in ratings)
        elif lines is not None:
            self.fh.write("\n".join(lines) + "\n")
        else:
            dumps = self.dumps
            self.fh.write("".join([dumps(rec) + "\n" for rec in ratings]))

    def close(self) -> None:
        if self.fmt == "xlsx":
            self.book.save(self.path)
        else:
            self.fh.close()


def read_state(path: Path, server: str) -> str | None:
    try:
        state = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise PullError(_("{path}: không phải tệp trạng thái của pull (xóa nó, hoặc cho --after)", path=path)) from None
    if state.get("server") != server.rstrip("/"):
        raise PullError(_("{path}: con trỏ thuộc về {owner}, không phải {server} (dùng --state hoặc --after)",
                          path=path, owner=state.get("server"), server=server))
    return state.get("after")


def pull_to(server: str, token: str, fmt: str, out: Path, after: str | None, state_path: Path,
            limit: int = 1000, timeout: float = 30, progress: bool = False,
            retries: int = 5) -> tuple[int, str | None]:
    """Write the ratings after ``after`` to ``out``; returns (count, cursor now)."""
    tmp = out.with_name(out.name + ".part")
    writer = _Writer(fmt, tmp)
    count, cursor = 0, after
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(unit="rating", desc="pull")
    try:
        for ratings, nxt, lines in prefetched(fetch_pages(server, token, after, limit, timeout, retries)):
            writer.write_page(ratings, lines)
            count += len(ratings)
            cursor = nxt
            if bar is not None:
                bar.update(len(ratings))
        writer.close()
    except BaseException:
        try:
            writer.close()
        finally:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    os.replace(tmp, out)
    state_tmp = state_path.with_name(state_path.name + ".part")
    state_tmp.write_text(json.dumps({
        "server": server.rstrip("/"), "after": cursor, "count": count,
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, indent=1), "utf-8")
    os.replace(state_tmp, state_path)
    return count, cursor


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
@click.option("--full", is_flag=True, help=_("bỏ qua con trỏ đã nhớ: lấy tất cả"))
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 5000),
              help=_("số lượt đánh giá mỗi trang"))
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help=_("số giây chờ mỗi trang"))
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20),
              help=_("thử lại ngần ấy lần (giãn dần) khi máy chủ không trả lời"))
@click.option("--progress/--no-progress", default=None,
              help=_("thanh tiến độ [mặc định: khi đầu ra lỗi chuẩn là một màn hình dòng lệnh]"))
def pull(server, token, token_file, after, fmt, out, state_path, full, limit, timeout, retries, progress):
    if not server.startswith(("http://", "https://")):
        raise click.ClickException(_("--server: phải bắt đầu bằng http:// hoặc https://"))
    token = _token(token, token_file)
    state_path = state_path or out.with_name(out.name + ".cursor.json")
    try:
        if after is None and not full:
            after = read_state(state_path, server)
        count, cursor = pull_to(server, token, fmt, out, after, state_path, limit, timeout,
                                sys.stderr.isatty() if progress is None else progress, retries)
    except PullError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out}: {exc.strerror}") from None
    click.echo(_("Đã ghi {count} lượt đánh giá vào {out} (lần lấy sau bắt đầu sau con trỏ {cursor})",
                 count=count, out=out, cursor=cursor or _("đầu")))
