"""The kiosk bundle: one file with everything a kiosk needs to start with no network.

``hailong admin kiosk-bundle`` (sync/server/core/kiosk_bundle.py) writes it on
the town server; an installer carries it on a USB stick to the kiosk, where
``hailong kiosk provision FILE`` (kiosk/provision.py) applies it. This module
is the one place that knows the file's format; both ends import it, so it
holds only the standard library, ``cryptography`` and ``sync.protocol``.

Why encrypted, with a passphrase: the bundle carries the kiosk's bearer
token and HMAC key. Whoever holds them can send ratings as that kiosk. A lost
USB stick must not hand them out, so the contents are sealed with AES-256-GCM
under a key derived by scrypt from a passphrase the server makes (20
characters of Crockford's base32, 100 bits, shown once to the admin, to be
carried apart from the stick: on paper, by phone). GCM also makes any change
to the file, the clear header included (it is the associated data), fail to
open: a bundle is applied whole and as made, or not at all.

The file is UTF-8 JSON::

    {"format": "hailong-kiosk-bundle", "version": 1,
     "kiosk_id": …, "unit_code": …, "desk_id": …, "created_at": "…Z",
     "credentials": true | false,
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": <base64>},
     "cipher": "AES-256-GCM", "nonce": <base64>, "ciphertext": <base64>}

The header is readable without the passphrase (which kiosk, which desk, when)
so an installer can tell two sticks apart. The sealed contents are JSON too::

    {"kiosk": {"id", "unit_code", "desk_id"},
     "server": {"url", "token", "key"}            # absent in a --roster-only bundle
     "config": <the kiosk config document GET /api/v1/kiosks/{id}/config returns,
                each officer's "photo" replaced by {"name", "data": base64} or null>,
     "created_at": …}
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from datetime import datetime
from typing import Any

from sync.cli_i18n import _
from sync.protocol import HEX64_PATTERN, IDENT, canonical_json, nfc

FORMAT = "hailong-kiosk-bundle"
VERSION = 1
#: a bundle bigger than this is not one (photos of a desk's officers are a few hundred KB)
MAX_BYTES = 64 * 1024 * 1024
#: scrypt's cost: 32 MB and ~0.1 s on a Raspberry Pi 4, so guessing 100 bits stays out of reach
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}
#: Crockford's base32: no I, L, O or U, so nothing is misread off paper
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PASSPHRASE_LENGTH = 20
_READ_AS = {"O": "0", "I": "1", "L": "1"}
_HEX64 = re.compile(HEX64_PATTERN)


class BundleError(Exception):
    """A file that is not a bundle, a wrong passphrase, a bundle altered or incomplete: the message says which."""


def new_passphrase() -> str:
    """20 random characters of :data:`ALPHABET` in groups of five: ``K7QMX-3RTPA-…``."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(PASSPHRASE_LENGTH))
    return "-".join(chars[i:i + 5] for i in range(0, PASSPHRASE_LENGTH, 5))


def normalize_passphrase(text: str) -> str:
    """What an installer typed, as the key is derived from: dashes and spaces dropped, upper case,
    O read as 0 and I, L as 1 (Crockford's rule). A passphrase the admin chose is kept as typed
    (NFC, surrounding spaces dropped) when it is not made of base32 groups."""
    text = nfc(str(text)).strip()
    squeezed = re.sub(r"[\s-]+", "", text).upper()
    squeezed = "".join(_READ_AS.get(c, c) for c in squeezed)
    if len(squeezed) == PASSPHRASE_LENGTH and all(c in ALPHABET for c in squeezed):
        return squeezed
    return text


def _key(passphrase: str, salt: bytes, kdf: dict) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        normalize_passphrase(passphrase).encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(contents: dict, passphrase: str) -> bytes:
    """The bundle file's bytes: ``contents`` (see the module's docstring) sealed under ``passphrase``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    check_contents(contents)
    kiosk = contents["kiosk"]
    header = {"format": FORMAT, "version": VERSION, "kiosk_id": kiosk["id"], "unit_code": kiosk["unit_code"],
              "desk_id": kiosk["desk_id"], "created_at": contents["created_at"],
              "credentials": "server" in contents,
              "kdf": {"name": "scrypt", **SCRYPT, "salt": _b64(secrets.token_bytes(16))},
              "cipher": "AES-256-GCM"}
    nonce = secrets.token_bytes(12)
    key = _key(passphrase, base64.b64decode(header["kdf"]["salt"]), header["kdf"])
    sealed = AESGCM(key).encrypt(nonce, canonical_json(contents), canonical_json(header))
    return json.dumps({**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)},
                      ensure_ascii=False, indent=1).encode("utf-8")


def read_header(data: bytes) -> dict:
    """The clear header of a bundle file (no passphrase needed); BundleError when it is not a bundle."""
    if len(data) > MAX_BYTES:
        raise BundleError(_("Không phải tệp cài đặt ki-ốt: {size} byte, lớn hơn mức một tệp có thể có ({most}).",
                            size=len(data), most=MAX_BYTES))
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleError(_("Không phải tệp cài đặt ki-ốt (không phải tệp JSON mà `hailong admin kiosk-bundle` "
                            "ghi).")) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BundleError(_("Không phải tệp cài đặt ki-ốt (\"format\" của nó không phải hailong-kiosk-bundle)."))
    if doc.get("version") != VERSION:
        raise BundleError(_("Tệp cài đặt ki-ốt phiên bản {got}; hailong này đọc phiên bản {version}: hãy cập nhật "
                            "hailong trên ki-ốt, hoặc làm tệp bằng cùng phiên bản.",
                            got=repr(doc.get("version")), version=VERSION))
    kdf = doc.get("kdf")
    if not (isinstance(kdf, dict) and kdf.get("name") == "scrypt"
            and all(isinstance(kdf.get(k), int) and not isinstance(kdf.get(k), bool) for k in ("n", "r", "p"))
            and 2 <= kdf["n"] <= 2 ** 20 and kdf["n"] & (kdf["n"] - 1) == 0
            and 1 <= kdf["r"] <= 32 and 1 <= kdf["p"] <= 16):
        raise BundleError("kiosk bundle: its \"kdf\" is not scrypt with sane costs")
    if doc.get("cipher") != "AES-256-GCM":
        raise BundleError("kiosk bundle: its \"cipher\" is not AES-256-GCM")
    for name in ("kiosk_id", "unit_code", "desk_id"):
        if not isinstance(doc.get(name), str) or not IDENT.match(doc[name]):
            raise BundleError(f"kiosk bundle: \"{name}\" is missing or not an id")
    if not isinstance(doc.get("created_at"), str) or not isinstance(doc.get("credentials"), bool):
        raise BundleError("kiosk bundle: \"created_at\" or \"credentials\" is missing")
    for holder, name in ((doc, "nonce"), (doc, "ciphertext"), (kdf, "salt")):
        try:
            base64.b64decode(holder.get(name), validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise BundleError(f"kiosk bundle: \"{name}\" is not base64") from None
    return doc


def open_bundle(data: bytes, passphrase: str) -> dict:
    """The checked contents of a bundle file; BundleError naming what is wrong (never the secrets)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    doc = read_header(data)
    header = {k: v for k, v in doc.items() if k not in ("nonce", "ciphertext")}
    key = _key(passphrase, base64.b64decode(doc["kdf"]["salt"]), doc["kdf"])
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(doc["nonce"]), base64.b64decode(doc["ciphertext"]),
                                    canonical_json(header))
    except (InvalidTag, ValueError):
        raise BundleError(_("Sai cụm mật khẩu, hoặc tệp đã bị sửa đổi (không mở được tệp).")) from None
    try:
        contents = nfc(json.loads(plain.decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        raise BundleError("kiosk bundle: its sealed contents are not JSON") from None
    check_contents(contents)
    kiosk = contents["kiosk"]
    if (kiosk["id"], kiosk["unit_code"], kiosk["desk_id"], contents["created_at"], "server" in contents) != (
            doc["kiosk_id"], doc["unit_code"], doc["desk_id"], doc["created_at"], doc["credentials"]):
        raise BundleError("kiosk bundle: its header does not match its sealed contents")
    return contents


def valid_server_url(url: Any) -> bool:
    """The address a kiosk reaches its server at, as a bundle may carry it: http(s), no space, at most 2000."""
    return (isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) <= 2000
            and not any(c.isspace() for c in url))


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise BundleError(f"kiosk bundle: {what}")


def check_contents(contents: Any) -> None:
    """The rules of a bundle's contents (both ends: the writer before sealing, the kiosk after opening)."""
    _need(isinstance(contents, dict), "its contents are not an object")
    kiosk = contents.get("kiosk")
    _need(isinstance(kiosk, dict), "\"kiosk\" is missing")
    for name in ("id", "unit_code", "desk_id"):
        _need(isinstance(kiosk.get(name), str) and bool(IDENT.match(kiosk[name])), f"kiosk \"{name}\" is not an id")
    created = contents.get("created_at")
    try:
        _need(isinstance(created, str) and datetime.fromisoformat(created.replace("Z", "+00:00")).tzinfo is not None,
              "\"created_at\" is not a time with its offset")
    except ValueError:
        raise BundleError("kiosk bundle: \"created_at\" is not a time with its offset") from None
    if "server" in contents:
        server = contents["server"]
        _need(isinstance(server, dict), "\"server\" is not an object")
        _need(valid_server_url(server.get("url")), "server \"url\" must start with http:// or https://")
        _need(isinstance(server.get("token"), str) and 16 <= len(server["token"]) <= 200
              and server["token"].isprintable() and '"' not in server["token"], "server \"token\" is not a token")
        _need(isinstance(server.get("key"), str) and bool(_HEX64.match(server["key"])),
              "server \"key\" is not 64 hexadecimal digits")
    config = contents.get("config")
    _need(isinstance(config, dict), "\"config\" is missing")
    _need(config.get("kiosk_id") == kiosk["id"] and config.get("unit_code") == kiosk["unit_code"],
          "\"config\" is of another kiosk")
    roster = config.get("roster")
    _need(isinstance(roster, dict), "the roster is missing")
    for table, keys in (("units", ("code", "name")), ("desks", ("id", "unit_code", "name")),
                        ("officers", ("id", "name")), ("procedures", ("code", "name"))):
        rows = roster.get(table, [])
        _need(isinstance(rows, list) and all(isinstance(r, dict) for r in rows), f"roster \"{table}\" is not a list")
        for row in rows:
            _need(all(isinstance(row.get(k), str) and row[k] for k in keys),
                  f"a roster row of \"{table}\" lacks {', '.join(keys)}")
    _need(any(d["id"] == kiosk["desk_id"] for d in roster.get("desks", [])),
          f"desk {kiosk['desk_id']!r} is not in the roster")
    for officer in roster.get("officers", []):
        photo = officer.get("photo")
        if photo is None:
            continue
        _need(isinstance(photo, dict) and isinstance(photo.get("name"), str) and isinstance(photo.get("data"), str),
              f"officer {officer['id']}'s photo is not {{name, data}}")
        _need(bool(re.fullmatch(r"[A-Za-z0-9._-]{1,80}\.(jpg|jpeg|png|webp)", photo["name"]))
              and ".." not in photo["name"], f"officer {officer['id']}'s photo name {photo['name']!r} is not allowed")
    receipt_key = config.get("receipt_key")
    _need(receipt_key in (None, "") or (isinstance(receipt_key, str) and bool(_HEX64.match(receipt_key))),
          "\"receipt_key\" is not 64 hexadecimal digits")
    for name in ("surveys",):
        _need(isinstance(config.get(name, []), list), f"\"{name}\" is not a list")


def photo_bytes(officer: dict) -> bytes | None:
    """An officer's photo from a bundle's roster (None: none); BundleError when it is not base64."""
    photo = officer.get("photo")
    if not photo:
        return None
    try:
        return base64.b64decode(photo["data"], validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise BundleError(f"kiosk bundle: officer {officer.get('id')}'s photo is not base64") from None


def photo_entry(name: str, data: bytes) -> dict:
    """An officer's photo as a bundle holds it."""
    return {"name": name, "data": _b64(data)}
