"""``hailong kiosk provision FILE``: start a kiosk from a bundle, with no network.

The bundle (sync/bundle.py: what it holds, why it is sealed with a
passphrase) comes from ``hailong admin kiosk-bundle`` on the town server,
on a USB stick. Applying it:

1. opens it with the passphrase (a wrong one, or a file altered on the way,
   is refused before anything is written);
2. refuses what would mix two kiosks' ratings (kiosk.db holding ratings of
   another kiosk id) and a bundle older than the one applied last (unless
   ``--force``); the same bundle twice changes nothing;
3. writes the roster, officers' photos (beside kiosk.db in ``photos/``, as
   the agent keeps them), surveys and receipt key into kiosk.db, creating or
   migrating it; ratings are never touched;
4. writes config.toml's ``[kiosk] id, unit_code, desk_id`` and, from a full
   bundle, ``[server] url, token, key``, keeping every other setting and
   comment of an existing file (tomlkit), atomically and 0600.

The kiosk then rates and prints receipts at once; its agent syncs when the
link comes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from sync import bundle
from sync.bundle import BundleError
from sync.cli_i18n import _
from sync.filemodes import private_dir, replace_private


class ProvisionError(Exception):
    """What stops a bundle from being applied; the message says what and what to do."""


class Missing(ProvisionError):
    """The bundle file named does not exist (exit status 2, like a usage error)."""


@dataclass
class Provisioned:
    kiosk_id: str
    unit_code: str
    desk_id: str
    config_path: Path
    db_path: Path
    officers: int
    photos: int
    surveys: int
    receipt_key: bool
    credentials: bool
    created_at: str
    unchanged: bool = False   # the same bundle was applied already


def read_bundle(path: str | Path) -> bytes:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > bundle.MAX_BYTES:
            raise BundleError(_("{path}: {size} byte, lớn hơn mức một tệp cài đặt ki-ốt có thể có.",
                                path=path, size=size))
        return path.read_bytes()
    except FileNotFoundError:
        raise Missing(_("{path}: không có tệp này.", path=path)) from None
    except IsADirectoryError:
        raise ProvisionError(_("{path}: là một thư mục, không phải tệp cài đặt.", path=path)) from None
    except OSError as exc:
        raise ProvisionError(_("{path}: không đọc được ({why}).", path=path, why=exc.strerror or exc)) from None


def _existing_config(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        doc = tomlkit.document()
        doc.add(tomlkit.comment("hailong kiosk settings, written by `hailong kiosk provision`. Other keys "
                                "(printer, scanner, ui): see the README's config.toml table."))
        return doc
    try:
        return tomlkit.parse(path.read_text("utf-8"))
    except (UnicodeDecodeError, TOMLKitError) as exc:
        raise ProvisionError(_("{path}: không phải TOML hợp lệ ({why}); hãy sửa hoặc chuyển nó đi rồi cài lại.",
                               path=path, why=exc)) from None


def _table(doc, name: str):
    if name not in doc:
        doc[name] = tomlkit.table()
    if not isinstance(doc[name], dict):
        raise ProvisionError(_("[{name}]: phải là một bảng.", name=name))
    return doc[name]


def provision(bundle_path: str | Path, config_path: str | Path, passphrase: str, *, db: str | None = None,
              force: bool = False) -> Provisioned:
    """Apply the bundle at ``bundle_path`` to the kiosk of ``config_path`` (created when missing)."""
    from kiosk.config import ConfigError, check
    from kiosk.store import KioskStore
    from sync.agent import apply_config

    contents = bundle.open_bundle(read_bundle(bundle_path), passphrase)
    kiosk, config = contents["kiosk"], contents["config"]
    config_path = Path(config_path).absolute()
    doc = _existing_config(config_path)
    k, s = _table(doc, "kiosk"), _table(doc, "server")
    was = str(k.get("id", "") or "")
    if db is not None:
        k["db"] = db
    elif "db" not in k:
        k["db"] = "kiosk.db"
    k["id"], k["unit_code"], k["desk_id"] = kiosk["id"], kiosk["unit_code"], kiosk["desk_id"]
    if "server" in contents:
        for name in ("url", "token", "key"):
            s[name] = contents["server"][name]
    try:
        cfg = check(doc.unwrap(), config_path)
    except ConfigError as exc:
        raise ProvisionError(f"{config_path}: {exc}") from None
    if not cfg.server["key"] and not cfg.kiosk["key"]:
        raise ProvisionError(_("Tệp này không có mã truy cập và khóa (làm với --roster-only) mà ki-ốt chưa có: "
                               "hãy cài từ một tệp đầy đủ trước."))

    private_dir(cfg.db_path.parent)
    store = KioskStore.from_config(cfg)
    try:
        store.init()
        held = store.conn.execute("SELECT kiosk_id, count(*) FROM ratings GROUP BY kiosk_id").fetchall()
        others = {kid: n for kid, n in held if kid != kiosk["id"]}
        if others:
            kid, n = next(iter(others.items()))
            raise ProvisionError(_("{db} đang giữ {n} lượt đánh giá của ki-ốt {other}, còn tệp là của ki-ốt "
                                   "{kiosk}: mỗi kiosk.db giữ chuỗi của một ki-ốt; hãy cho ki-ốt này kiosk.db "
                                   "riêng (--config khác, hoặc --db).",
                                   db=cfg.db_path, n=n, other=kid, kiosk=kiosk["id"]))
        applied = store.get_meta("bundle_created_at")
        result = Provisioned(
            kiosk_id=kiosk["id"], unit_code=kiosk["unit_code"], desk_id=kiosk["desk_id"], config_path=config_path,
            db_path=cfg.db_path, officers=len(config["roster"].get("officers", [])), photos=0,
            surveys=len(config.get("surveys", [])), receipt_key=bool(config.get("receipt_key")),
            credentials="server" in contents, created_at=contents["created_at"])
        if applied and was == kiosk["id"] and not force:
            if applied == contents["created_at"]:
                result.unchanged = True
                return result
            if applied > contents["created_at"]:
                raise ProvisionError(_("Tệp này làm lúc {made}, trước tệp đã áp dụng ở đây ({applied}): nó sẽ đưa "
                                       "danh sách cũ trở lại (--force để vẫn áp dụng).",
                                       made=contents["created_at"], applied=applied))
        photo_dir = cfg.db_path.parent / "photos"
        for officer in config["roster"].get("officers", []):
            officer["photo"] = _write_photo(photo_dir, officer)
            result.photos += officer["photo"] is not None
        apply_config(store, config, etag=None)   # the next sync fetches the server's config in full
        store.set_meta("bundle_created_at", contents["created_at"])
    finally:
        store.close()
    replace_private(config_path, tomlkit.dumps(doc))
    return result


def _write_photo(photo_dir: Path, officer: dict) -> str | None:
    data = bundle.photo_bytes(officer)
    if data is None:
        return None
    want = officer.get("photo_sha256")
    if want and hashlib.sha256(data).hexdigest() != want:
        raise BundleError(f"kiosk bundle: officer {officer['id']}'s photo does not match its sha256")
    private_dir(photo_dir)
    path = photo_dir / officer["photo"]["name"]
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return str(path)
