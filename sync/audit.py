"""``hailong audit --server URL [--state FILE] [--key KEY]``: check that the town's public log was never rewritten.

An auditor (the province, a newspaper, a citizen's association) runs it now
and then. The first run trusts the log's key (or the one ``--key`` gives)
and pins it, with the checkpoint, in the state file (0600). Every later run:

1. fetches ``/api/v1/log/checkpoint`` and checks its signature with the
   pinned key, and that its origin and size did not go back;
2. fetches ``/api/v1/log/consistency?from=<saved size>&to=<new size>`` and
   checks (RFC 9162 §2.1.4.2) that the new tree extends the saved one;
3. spot-checks inclusion proofs of some leaves (``/api/v1/log/leaf``): the
   first and last of the saved size and :data:`SAMPLES` at random (every
   256-leaf chunk when the log is small), since the server's proofs are
   recomputed from the ratings themselves: a rating rewritten in the
   database fails its chunk's proofs (docs/public-log.md).

Exit 0: consistent (the state file now holds the new checkpoint); 1: the
log was rewritten or its signature is wrong (the state is kept as it was,
the evidence printed); 2: usage or network errors. Imports only sync/, so
an auditor installs the base package, never the server.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import click
import requests

from sync import tlog
from sync.cli_i18n import _
from sync.filemodes import replace_private

#: how many leaves besides the first and last are checked at random each run
SAMPLES = 16
CHUNK = 256


class Broken(Exception):
    """The log was rewritten (or is signed by another key): exit 1."""


class Unreachable(Exception):
    """The server could not be asked: exit 2."""


def _get(server: str, path: str, params=None, timeout: float = 30) -> requests.Response:
    try:
        resp = requests.get(server.rstrip("/") + path, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise Unreachable(_("không có trả lời từ {server}: {why}", server=server, why=exc.__class__.__name__)) from None
    if resp.status_code != 200:
        raise Unreachable(_("máy chủ trả lời {status} cho {path}: {detail}", status=resp.status_code, path=path,
                            detail=resp.text[:200]))
    return resp


def _hashes(body: dict, key: str) -> list[bytes]:
    try:
        return [bytes.fromhex(h) for h in body[key]]
    except (KeyError, TypeError, ValueError):
        raise Broken(_("câu trả lời của máy chủ không phải một chứng minh: {what}", what=key)) from None


def check_leaf(server: str, index: int, cp: tlog.Checkpoint) -> None:
    """Leaf ``index``'s inclusion proof against ``cp``; Broken when it does not verify."""
    body = _get(server, "/api/v1/log/leaf", {"index": str(index)}).json()
    try:
        leaf = bytes.fromhex(body["leaf_hash"])
        size = int(body["tree_size"])
    except (KeyError, TypeError, ValueError):
        raise Broken(_("câu trả lời của máy chủ không phải một chứng minh: {what}", what="leaf_hash")) from None
    if size != cp.size:     # a newer checkpoint was signed meanwhile: checked against it, once consistent
        raise Unreachable(_("nhật ký vừa thay đổi trong lúc kiểm tra; hãy chạy lại"))
    try:
        tlog.verify_inclusion(index, cp.size, leaf, _hashes(body, "hashes"), cp.root)
    except tlog.ProofError as exc:
        raise Broken(_("lá số {index} không nằm trong cây đã ký: {why}", index=index, why=str(exc))) from None


def audit(server: str, state_path: Path, key: str | None, samples: int = SAMPLES) -> str:
    """One audit; the message of success. Raises Broken (exit 1) or Unreachable (exit 2)."""
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else None
    pinned = (state or {}).get("key") or key
    if pinned is None:
        pinned = _get(server, "/api/v1/log/key").text.strip()
    elif key and key.strip() != pinned:
        raise Broken(_("khóa --key khác khóa đã ghi trong {path}", path=str(state_path)))
    try:
        verifier = tlog.parse_verifier_key(pinned)
    except tlog.ProofError as exc:
        raise Unreachable(_("khóa của nhật ký không hợp lệ: {why}", why=str(exc))) from None
    note = _get(server, "/api/v1/log/checkpoint").text
    try:
        cp = tlog.open_checkpoint(note, verifier)
    except tlog.ProofError as exc:
        raise Broken(_("chữ ký của điểm kiểm tra không đúng: {why}", why=str(exc))) from None
    if cp.origin != verifier.name:
        raise Broken(_("điểm kiểm tra mang tên {origin}, không phải {name}", origin=cp.origin, name=verifier.name))
    if state and state.get("size"):
        old_size, old_root = int(state["size"]), bytes.fromhex(state["root"])
        if cp.size < old_size:
            raise Broken(_("nhật ký bị viết lại: cây còn {new} lá, lần trước đã có {old}", new=cp.size, old=old_size))
        body = _get(server, "/api/v1/log/consistency", {"from": str(old_size), "to": str(cp.size)}).json()
        try:
            tlog.verify_consistency(old_size, cp.size, old_root, cp.root, _hashes(body, "hashes"))
        except tlog.ProofError as exc:
            raise Broken(_("nhật ký bị viết lại: cây {new} lá không nối tiếp cây {old} lá đã thấy ({why})",
                           new=cp.size, old=old_size, why=str(exc))) from None
    chunks = (cp.size + CHUNK - 1) // CHUNK
    rng = random.SystemRandom()
    wanted = {0, cp.size - 1}
    if chunks <= samples:
        wanted |= {c * CHUNK for c in range(chunks)}
    else:
        wanted |= {rng.randrange(cp.size) for _i in range(samples)}
    for index in sorted(wanted):
        try:
            check_leaf(server, index, cp)
        except Broken as exc:
            raise Broken(_("nhật ký bị viết lại: {why}", why=str(exc))) from None
    replace_private(state_path, json.dumps({"server": server, "key": pinned, "size": cp.size,
                                          "root": cp.root.hex(), "checkpoint": note}, ensure_ascii=False, indent=1))
    if state is None:
        return _("đã ghi nhớ khóa và điểm kiểm tra: {size} lá (lần đầu kiểm tra)", size=cp.size)
    return _("nhật ký nhất quán: {old} → {new} lá", old=state.get("size"), new=cp.size)


@click.command("audit", help=_("Kiểm tra nhật ký công khai của máy chủ thị trấn: chữ ký, tính nhất quán với "
                               "lần kiểm tra trước; thoát 1 khi nhật ký bị viết lại."))
@click.option("--server", required=True, help=_("địa chỉ máy chủ, ví dụ http://127.0.0.1:8080"))
@click.option("--state", "state", default="hailong-audit.json", show_default=True, type=click.Path(dir_okay=False),
              help=_("tệp ghi khóa và điểm kiểm tra đã thấy lần trước"))
@click.option("--key", default=None, help=_("khóa của nhật ký (name+keyid+key) để tin ngay lần đầu"))
def audit_command(server: str, state: str, key: str | None) -> None:
    try:
        click.echo(audit(server, Path(state), key))
    except Broken as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except (Unreachable, OSError, ValueError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
