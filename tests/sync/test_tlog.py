"""sync/tlog.py against an independent implementation written here from RFC 9162 §2.1's recursive definitions.

MTH, PATH and PROOF/SUBPROOF exactly as the RFC writes them (recursion over
lists), for every size 1..70 and random pairs; the verifiers accept the
proofs and refuse tampered ones; the signed note round-trips and is read by
an independent parse; the key id is C2SP's.
"""
from __future__ import annotations

import base64
import hashlib
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync import tlog


def H(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def k_of(n: int) -> int:          # the largest power of two smaller than n
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def MTH(d: list[bytes]) -> bytes:  # D: the leaf *entries* (here: record hash bytes)
    if not d:
        return H(b"")
    if len(d) == 1:
        return H(b"\x00" + d[0])
    k = k_of(len(d))
    return H(b"\x01" + MTH(d[:k]) + MTH(d[k:]))


def PATH(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = k_of(len(d))
    if m < k:
        return PATH(m, d[:k]) + [MTH(d[k:])]
    return PATH(m - k, d[k:]) + [MTH(d[:k])]


def SUBPROOF(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [MTH(d)]
    k = k_of(n)
    if m <= k:
        return SUBPROOF(m, d[:k], b) + [MTH(d[k:])]
    return SUBPROOF(m - k, d[k:], False) + [MTH(d[:k])]


def PROOF(m: int, d: list[bytes]) -> list[bytes]:
    return SUBPROOF(m, d, True)


def entries(n: int) -> list[bytes]:
    return [H(str(i).encode()) for i in range(n)]


def test_leaf_and_node_hash_as_design_md_says():
    rec = "ab" * 32
    assert tlog.leaf_hash(rec) == H(b"\x00" + bytes.fromhex(rec))
    assert tlog.node_hash(b"L" * 32, b"R" * 32) == H(b"\x01" + b"L" * 32 + b"R" * 32)


@pytest.mark.parametrize("n", range(1, 71))
def test_root_and_every_inclusion_proof(n):
    d = entries(n)
    leaves = [tlog.leaf_hash(e.hex()) for e in d]
    root = MTH(d)
    assert tlog.root_of(leaves) == root
    sub = tlog.list_subtree(leaves)
    for i in range(n):
        proof = tlog.inclusion_proof(i, n, sub)
        assert proof == PATH(i, d)
        tlog.verify_inclusion(i, n, leaves[i], proof, root)
        if proof:
            bad = list(proof)
            bad[random.randrange(len(bad))] = H(b"x")
            with pytest.raises(tlog.ProofError):
                tlog.verify_inclusion(i, n, leaves[i], bad, root)
            with pytest.raises(tlog.ProofError):
                tlog.verify_inclusion(i, n, leaves[i], proof[:-1], root)
        with pytest.raises(tlog.ProofError):
            tlog.verify_inclusion(i, n, H(b"other"), proof, root)


@pytest.mark.parametrize("n", range(1, 71))
def test_every_consistency_proof(n):
    d = entries(n)
    leaves = [tlog.leaf_hash(e.hex()) for e in d]
    sub = tlog.list_subtree(leaves)
    new_root = MTH(d)
    for m in range(1, n + 1):
        proof = tlog.consistency_proof(m, n, sub)
        assert proof == PROOF(m, d), (m, n)
        tlog.verify_consistency(m, n, MTH(d[:m]), new_root, proof)
        if m < n:
            with pytest.raises(tlog.ProofError):   # a rewritten old leaf
                rewritten = list(d[:m])
                rewritten[random.randrange(m)] = H(b"rewritten")
                tlog.verify_consistency(m, n, MTH(rewritten), new_root, proof)
            bad = list(proof)
            bad[random.randrange(len(bad))] = H(b"x")
            with pytest.raises(tlog.ProofError):
                tlog.verify_consistency(m, n, MTH(d[:m]), new_root, bad)


def test_random_large_pairs():
    rng = random.Random(15)
    d = entries(3000)
    leaves = [tlog.leaf_hash(e.hex()) for e in d]
    sub = tlog.list_subtree(leaves)
    for _ in range(30):
        m, n = sorted(rng.sample(range(1, 3001), 2))
        proof = tlog.consistency_proof(m, n, sub)
        assert proof == PROOF(m, d[:n])
        tlog.verify_consistency(m, n, tlog.root_of(leaves[:m]), tlog.root_of(leaves[:n]), proof)
        i = rng.randrange(n)
        tlog.verify_inclusion(i, n, leaves[i], tlog.inclusion_proof(i, n, sub), tlog.root_of(leaves[:n]))


def test_key_id_and_verifier_key_per_c2sp():
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = "town.example/log"
    kid = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4]
    assert tlog.key_id(name, pub) == kid
    vkey = tlog.verifier_key(name, pub)
    b64 = base64.b64encode(b"\x01" + pub).decode()
    assert vkey == f"{name}+{kid.hex()}+{b64}"
    v = tlog.parse_verifier_key(vkey)
    assert (v.name, v.key_id, v.public) == (name, kid, pub)
    with pytest.raises(tlog.ProofError):
        tlog.parse_verifier_key(f"other.name+{kid.hex()}+{b64}")


def test_signed_checkpoint_round_trip_and_independent_parse():
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = "town.example/log"
    root = H(b"root")
    note = tlog.sign_note(tlog.checkpoint_body(name, 42, root), name, key)
    # independent parse: text, blank line, "— name base64(keyid ‖ sig)"
    text, sigs = note.split("\n\n")
    assert text.split("\n") == [name, "42", base64.b64encode(root).decode()]
    line = sigs.rstrip("\n")
    assert line.startswith("\u2014 " + name + " ")
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    key.public_key().verify(raw[4:], (text + "\n").encode())
    cp = tlog.open_checkpoint(note, tlog.parse_verifier_key(tlog.verifier_key(name, pub)))
    assert (cp.origin, cp.size, cp.root) == (name, 42, root)
    other = tlog.parse_verifier_key(tlog.verifier_key(name, tlog.public_bytes(Ed25519PrivateKey.generate())))
    with pytest.raises(tlog.ProofError):
        tlog.open_checkpoint(note, other)
    with pytest.raises(tlog.ProofError):
        tlog.open_checkpoint(note.replace("\n42\n", "\n43\n"), tlog.parse_verifier_key(tlog.verifier_key(name, pub)))
