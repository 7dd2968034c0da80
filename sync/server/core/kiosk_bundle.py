"""A kiosk's bundle for offline provisioning: what goes in, taken from town.db (the format: sync/bundle.py).

``hailong admin kiosk-bundle`` and the kiosks page's download call
:func:`make_bundle`. A full bundle carries the kiosk's credentials; since the
server keeps only a hash of each kiosk's bearer token, making one gives the
kiosk a **new token** (the previous one stops working at once, as when a
kiosk is enrolled anew) and keeps its HMAC key, so the ratings it already
sealed stay valid. A ``roster_only`` bundle carries no credentials and
changes nothing on the server: it brings a kiosk that is already provisioned
a newer roster, surveys and receipt key.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from sync import bundle
from sync.server.core.admin_ops import AdminError, Missing
from sync.server.core.clock import iso, utcnow
from sync.server.core.db import desks, kiosks, officers
from sync.server.core.security import new_token, token_hash
from sync.server.core.settings import ensure_receipt_key, kiosk_config


class Revoked(AdminError):
    """The kiosk named is revoked: no bundle for it."""


class BadServerURL(AdminError):
    """The server URL given is not one a kiosk can be sent to."""


@dataclass
class Bundle:
    data: bytes          # the file's bytes
    passphrase: str      # shown once to whoever made it
    kiosk_id: str
    desk_id: str
    officers: int
    photos: int
    credentials: bool


def desks_of(conn: Connection, unit_code: str) -> list[str]:
    return [r.id for r in conn.execute(select(desks.c.id).where(desks.c.unit_code == unit_code).order_by(desks.c.id))]


def make_bundle(conn: Connection, kiosk_id: str, *, desk_id: str | None, server_url: str, media_dir: str | Path,
                roster_only: bool = False, passphrase: str | None = None) -> Bundle:
    """The sealed bundle of ``kiosk_id`` at ``desk_id`` (None: the unit's only desk).

    Raises Missing (no such kiosk, desk) or AdminError (revoked, bad URL, no roster) with a message
    that names what is wrong; run it in a transaction (the token changes with a full bundle).
    """
    kiosk = conn.execute(select(kiosks).where(kiosks.c.id == kiosk_id)).mappings().first()
    if kiosk is None:
        raise Missing("kiosk", kiosk_id)
    if kiosk["revoked"]:
        raise Revoked(f"kiosk {kiosk_id} is revoked: enrol it anew (a new id) before making its bundle")
    kiosk = dict(kiosk)
    known = desks_of(conn, kiosk["unit_code"])
    if not known:
        raise AdminError(f"unit {kiosk['unit_code']} has no desks yet: import the roster first "
                         "(hailong admin import-roster)")
    if desk_id is None:
        if len(known) > 1:
            raise AdminError(f"unit {kiosk['unit_code']} has {len(known)} desks: name the kiosk's desk "
                             f"(--desk: {', '.join(known)})")
        desk_id = known[0]
    if desk_id not in known:
        raise Missing("desk", desk_id, f"no desk {desk_id!r} in unit {kiosk['unit_code']} "
                      f"(its desks: {', '.join(known)})")
    url = (server_url or "").strip().rstrip("/")
    if not roster_only and not bundle.valid_server_url(url):
        raise BadServerURL("server URL: the address the kiosk reaches this server at, starting with http:// "
                         "or https://, e.g. https://hailong.xa-abc.gov.vn")
    ensure_receipt_key(conn)
    config = kiosk_config(conn, kiosk, "{officer_id}")
    files = dict(conn.execute(select(officers.c.id, officers.c.photo)).all())
    photos = 0
    for officer in config["roster"]["officers"]:
        name = files.get(officer["id"])
        path = Path(media_dir) / name if name else None
        if officer["photo"] and path is not None and path.is_file():
            officer["photo"] = bundle.photo_entry(Path(name).name, path.read_bytes())
            photos += 1
        else:
            officer["photo"] = None   # its photo file is missing on the server: the kiosk shows the initials
    contents = {"kiosk": {"id": kiosk_id, "unit_code": kiosk["unit_code"], "desk_id": desk_id},
                "config": config, "created_at": iso(utcnow())}
    if not roster_only:
        token = new_token("hk")
        conn.execute(kiosks.update().where(kiosks.c.id == kiosk_id).values(token_hash=token_hash(token)))
        contents["server"] = {"url": url, "token": token, "key": kiosk["key_hex"]}
    passphrase = passphrase or bundle.new_passphrase()
    return Bundle(data=bundle.seal(contents, passphrase), passphrase=passphrase, kiosk_id=kiosk_id,
                  desk_id=desk_id, officers=len(config["roster"]["officers"]), photos=photos,
                  credentials=not roster_only)
