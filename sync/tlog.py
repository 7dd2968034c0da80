"""The public log's pure parts, shared by the town server and ``hailong audit`` (stdlib + cryptography).

A Merkle tree as RFC 9162 section 2.1 defines it, over SHA-256, and the
C2SP signed note / tlog-checkpoint that carries its root:

* leaf hash = SHA-256(0x00 ‖ bytes.fromhex(record hash)) (DESIGN.md "The
  public log": the leaf is the rating's own ``hash``, so nothing in a leaf
  or a proof tells the level); interior node = SHA-256(0x01 ‖ left ‖ right)
  (RFC 9162 §2.1.1), the split at the largest power of two smaller than the
  size (the non-power-of-two rule).
* :func:`inclusion_proof` / :func:`verify_inclusion`: RFC 9162 §2.1.3.1
  (PATH) and §2.1.3.2 (the verifier's algorithm).
* :func:`consistency_proof` / :func:`verify_consistency`: RFC 9162 §2.1.4.1
  (PROOF / SUBPROOF) and §2.1.4.2.
* :func:`checkpoint_body`, :func:`sign_note`, :func:`open_checkpoint`:
  https://c2sp.org/tlog-checkpoint and https://c2sp.org/signed-note (Ed25519,
  key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]).

The proof builders take ``subtree(lo, hi)``, a function returning MTH of
leaves ``[lo, hi)``: the tests give one over a list, the server one over its
node cache and leaves (sync/server/core/tlog_store.py). Every subtree it is
asked for is one RFC 9162's recursion reaches: ``lo`` aligned on the largest
power of two not smaller than ``hi - lo``.

No import of the server: an auditor installs the base package only.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: the signature type byte of Ed25519 in a signed note's key id and verifier key (C2SP signed-note)
ED25519 = b"\x01"
#: what starts a signature line of a signed note: U+2014 EM DASH, a space
SIG_PREFIX = "\u2014 "

Subtree = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof, note or key that does not verify; the message says what."""


def leaf_hash(record_hash_hex: str) -> bytes:
    """RFC 9162 §2.1.1 leaf hash of one rating: SHA-256(0x00 ‖ bytes.fromhex(its hash))."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(record_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where RFC 9162 §2.1.1 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes, bottom-up (RFC 9162 §2.1.1), O(n)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])   # the last node of an odd level is carried up (RFC 9162's split)
        level = nxt
    return level[0]


def list_subtree(leaves: list[bytes]) -> Subtree:
    """``subtree(lo, hi)`` over an in-memory list of leaf hashes."""
    return lambda lo, hi: root_of(leaves[lo:hi])


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} not in a tree of size {size}")
    path = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo = lo + k
    return path[::-1]


def consistency_proof(m: int, n: int, subtree: Subtree) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1 (SUBPROOF(m, D[n], true)); empty when m == n."""
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from {m} to {n}")
    out: list[bytes] = []
    lo, hi, whole = 0, n, True     # SUBPROOF(m - lo, D[lo:hi], whole)
    while True:
        size, mm = hi - lo, m - lo
        if mm == size:
            if not whole:
                out.append(subtree(lo, hi))
            break
        k = split(size)
        if mm <= k:                # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            out.append(subtree(lo + k, hi))
            hi = lo + k
        else:                      # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            out.append(subtree(lo, lo + k))
            lo, whole = lo + k, False
    return out[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raise ProofError unless ``proof`` puts ``leaf`` at ``index`` under ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless the tree of size ``n`` extends the one of size ``m``."""
    if not 0 < m <= n:
        raise ProofError(f"no consistency proof from {m} to {n}")
    if m == n:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("two different roots for the same size")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if m & (m - 1) == 0:           # m a power of two: the old root is the proof's first node
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the root of size {m} seen before")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root of size {n}")


# --- C2SP signed note and tlog-checkpoint ---------------------------------------------------------

def key_id(name: str, public: bytes) -> bytes:
    """C2SP signed-note key id: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public).digest()[:4]


def check_name(name: str) -> str:
    """A key name (and our origin): non-empty, no whitespace, no '+' (C2SP signed-note)."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise ProofError(f"not a signed-note key name: {name!r}")
    return name


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public: bytes) -> str:
    """``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>``, the signed-note verifier key."""
    check_name(name)
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(ED25519 + public).decode()}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public: bytes


def parse_verifier_key(text: str) -> Verifier:
    """A verifier key back to (name, key id, Ed25519 public key); ProofError if malformed or inconsistent."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise ProofError("a verifier key is name+keyid+key")
    name, hexid, b64 = parts
    check_name(name)
    try:
        kid = bytes.fromhex(hexid)
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise ProofError("verifier key: key id or key not hex / base64") from None
    if len(kid) != 4 or len(raw) != 33 or raw[:1] != ED25519:
        raise ProofError("verifier key: not an Ed25519 key of the signed-note format")
    if key_id(name, raw[1:]) != kid:
        raise ProofError("verifier key: the key id does not match the name and key")
    return Verifier(name, kid, raw[1:])


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The checkpoint's text (C2SP tlog-checkpoint): origin, tree size, base64 root, each ending in a newline."""
    check_name(origin)
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """A signed note: ``body``, a blank line, one signature line ``— <name> <base64(key id ‖ sig)>``."""
    if not body.endswith("\n"):
        raise ValueError("a note's text ends in a newline")
    sig = key.sign(body.encode("utf-8"))
    line = base64.b64encode(key_id(name, public_bytes(key)) + sig).decode()
    return f"{body}\n{SIG_PREFIX}{name} {line}\n"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a signed note once a signature line of ``verifier`` checks; ProofError otherwise."""
    if not note.endswith("\n"):
        raise ProofError("a signed note ends in a newline")
    head, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise ProofError("a signed note has a blank line before its signatures")
    body = head + "\n"
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise ProofError("a signature line starts with an em dash and a space")
        try:
            name, b64 = line[len(SIG_PREFIX):].split(" ")
            raw = base64.b64decode(b64, validate=True)
        except ValueError:
            raise ProofError("signature line not '— name base64'") from None
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue                 # another signer's line: unknown keys are skipped (signed-note)
        if len(raw) != 68:
            raise ProofError("an Ed25519 signature line carries 4 + 64 bytes")
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public).verify(raw[4:], body.encode("utf-8"))
        except InvalidSignature:
            raise ProofError("the checkpoint's signature does not verify with the log's key") from None
        return body
    raise ProofError(f"no signature by {verifier.name} on the note")


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """A signed checkpoint checked with ``verifier`` and parsed (origin, size, root)."""
    body = open_note(note, verifier)
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise ProofError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise ProofError("checkpoint: the tree size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise ProofError("checkpoint: the root hash is not base64") from None
    if len(root) != 32:
        raise ProofError("checkpoint: the root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root, note)
