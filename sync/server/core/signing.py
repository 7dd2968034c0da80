"""The server's Ed25519 signing key: it signs evidence packs (and, later, the public log).

The private key (32 bytes, hex) lives in the ``settings`` table under
``evidence_signing_key``, beside the receipt key: town.db is the server's
secret store (0600 in a 0700 folder). It is made once, at the server's
start (``create_app``) or on first use by a command, never by a page (pages
read through a query-only connection). The public key is printed on every
periodic report and written into every pack, so an inspector can pin it
and check a pack offline (``hailong verify-pack --key``).
"""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.engine import Connection

from sync.server.core.settings import get_setting, set_setting

SETTING = "evidence_signing_key"


def ensure_signing_key(conn: Connection) -> Ed25519PrivateKey:
    """The server's signing key, made on first use (needs a writable connection then)."""
    key = get_setting(conn, SETTING)
    if not key:
        key = Ed25519PrivateKey.generate().private_bytes_raw().hex()
        set_setting(conn, SETTING, key)
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key))


def signing_key(conn: Connection) -> Ed25519PrivateKey | None:
    """The signing key if one was made (a read-only connection may call this)."""
    key = get_setting(conn, SETTING)
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key)) if key else None


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """64 hex digits: the raw Ed25519 public key, as packs carry it and --key takes it."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def public_key_shown(conn: Connection) -> str | None:
    """The public key as a report prints it (groups of 4 hex digits), None before one exists."""
    key = signing_key(conn)
    if key is None:
        return None
    text = public_key_hex(key)
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))
