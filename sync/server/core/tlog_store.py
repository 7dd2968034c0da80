"""The public log on the server: leaves, the node cache, signed checkpoints, proofs (docs/public-log.md).

Every rating the town stores is a leaf of an RFC 9162 Merkle tree, in
storage order (sync/tlog.py holds the hashing and the proofs; this module
the storage).

* **Leaf index** — ``log_leaves(idx, rating_pk)``: :func:`append` gives the
  ratings stored after the log's last one (``pk`` greater than its
  highest) the next indexes, in pk order, in the caller's transaction. The
  batch calls it in its own transaction (core/ingest.py) after its insert,
  under the ratings lock (PostgreSQL) or the one writer (SQLite), so pk
  order is commit order and no rating is ever given an index after a later
  one. A rating stored by anything else (a tool, a test's fixture) is
  picked up by the next append or the background round: nothing is left
  out of the log. The leaf hash is *not* stored: it is computed from
  ``ratings.hash`` every time, so a rating rewritten behind the server's
  back changes what the server proves (see below).
* **Node cache** — ``log_nodes(level, idx, hash)``: the root of every
  complete subtree of 2**level leaves, level >= :data:`CHUNK_LEVEL` (256
  leaves), written once, when its last leaf arrives. At 10 M leaves that is
  ~78,000 rows (2.5 % of the leaves). A node below that level is computed
  from the (at most 256) leaves under it. An append of b leaves costs O(b)
  index rows, and, when it completes chunks, the chunk's leaves (<= 255
  read back) plus one node per level: O(b + log n), no recomputation.
  A root or proof reads O(log n) cached nodes and the leaves of at most
  two or three chunks.
* **Checkpoints** — :func:`sign_checkpoint`: the root of the current size,
  as a C2SP tlog-checkpoint signed with the log key, kept in
  ``log_checkpoints`` (every one of them: the size and time of each, and
  the note exactly as served). Signed by a batch that added ratings when
  the last checkpoint is older than :data:`SIGN_EVERY` (1 s: a citizen's
  proof is there at once when batches are sparse; a backlog signs about
  once a second, not per batch: measured in benchmarks/tlog_append.py), and
  by the background round (core/tasks.py, every minute) for what is left.
* **Key and origin** — :func:`ensure_log`: the log's own Ed25519 key in
  ``settings`` (``log_signing_key``), not the evidence pack's: the pack's
  key may be replaced (a new pack then says so) while an auditor's pinned
  log key must stay as long as the log does; one key, one purpose. The
  origin (also the key's name) is made once: the host and path of
  ``--public-url`` when given at the first start, else
  ``hailong.town/<16 hex random>``; stored, never changed afterwards.

**A leaf rewritten in town.db.** Cached nodes pin the past: a root or proof
built from them still matches the checkpoints signed before. What is not
pinned is recomputed from ``ratings.hash``: the chunk of the leaf an
inclusion proof is for (its siblings inside the chunk), the partial chunk
at the end of the tree (which every new checkpoint covers) and at a
consistency proof's old size. So a rewritten rating fails every inclusion
proof of a leaf of its chunk (``hailong audit`` asks for some at random
each run, and for every chunk of a small log), and a rewrite of a recent
leaf makes the next checkpoint inconsistent with the last.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.engine import Connection

from sync import tlog
from sync.server.core import leases
from sync.server.core.clock import iso, utcnow
from sync.server.core.db import (
    bulk_insert,
    log_checkpoints,
    log_leaves,
    log_nodes,
    ratings,
)
from sync.server.core.settings import get_setting, set_setting

#: the lowest level of the node cache: complete subtrees of 2**8 = 256 leaves and more are stored
CHUNK_LEVEL = 8
CHUNK = 1 << CHUNK_LEVEL
KEY_SETTING = "log_signing_key"
ORIGIN_SETTING = "log_origin"


class NotInLog(LookupError):
    """No such rating, or not yet in a signed checkpoint: the message says which."""

    def __init__(self, message: str, pending: bool = False):
        super().__init__(message)
        self.pending = pending


# --- key and origin ---------------------------------------------------------------------------------

def origin_for(public_url: str | None) -> str:
    """The log's origin line: ``host[:port]/path`` of the public URL, else a random stable name."""
    if public_url:
        parts = urlsplit(public_url)
        name = (parts.netloc + parts.path.rstrip("/")).replace("+", "-")
        name = "".join(c for c in name if not c.isspace() and c.isprintable())
        if name and "@" not in name:
            return name
    return f"hailong.town/{secrets.token_hex(8)}"


def ensure_log(conn: Connection, public_url: str | None = None) -> None:
    """Make the log key and origin once (server start, or the first append); never changed after."""
    if not get_setting(conn, KEY_SETTING):
        set_setting(conn, KEY_SETTING, Ed25519PrivateKey.generate().private_bytes_raw().hex())
    if not get_setting(conn, ORIGIN_SETTING):
        set_setting(conn, ORIGIN_SETTING, origin_for(public_url))


def _key(conn: Connection) -> tuple[str, Ed25519PrivateKey] | None:
    key, origin = get_setting(conn, KEY_SETTING), get_setting(conn, ORIGIN_SETTING)
    if not key or not origin:
        return None
    return origin, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key))


def verifier_key(conn: Connection) -> str | None:
    """The log's verifier key (``name+keyid+base64``), None before the server made one."""
    found = _key(conn)
    return tlog.verifier_key(found[0], tlog.public_bytes(found[1])) if found else None


# --- the tree over the database ---------------------------------------------------------------------

def size(conn: Connection) -> int:
    """How many leaves the log holds (signed or not yet)."""
    last = conn.execute(select(func.max(log_leaves.c.idx))).scalar()
    return 0 if last is None else last + 1


def leaf_hashes(conn: Connection, lo: int, hi: int) -> list[bytes]:
    """Leaf hashes of ``[lo, hi)``, computed from the ratings' ``hash`` (never a stored copy)."""
    rows = conn.execute(select(log_leaves.c.idx, ratings.c.hash)
                        .select_from(log_leaves.outerjoin(ratings, ratings.c.pk == log_leaves.c.rating_pk))
                        .where(and_(log_leaves.c.idx >= lo, log_leaves.c.idx < hi))
                        .order_by(log_leaves.c.idx)).all()
    out = []
    for want, row in zip(range(lo, hi), rows):
        out.append(_leaf(row.hash) if row.idx == want else _MISSING)
    out += [_MISSING] * (hi - lo - len(out))
    return out


#: the hash a missing or unreadable leaf is given: no proof through it verifies, and no page fails
_MISSING = b"\xff" * 32


def _leaf(hash_hex) -> bytes:
    try:
        return tlog.leaf_hash(hash_hex)
    except (TypeError, ValueError):
        return _MISSING


class Tree:
    """``subtree(lo, hi)`` of the log as it is in ``conn``'s snapshot (sync/tlog.py's proof builders take it).

    Cached nodes for complete aligned subtrees of 256 leaves and more;
    anything else from the leaves, one chunk read at a time (memoised).
    """

    def __init__(self, conn: Connection):
        self.conn = conn
        self._chunks: dict[int, list[bytes]] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}

    def prefetch(self, wanted: list[tuple[int, int]]) -> None:
        """Read these cached nodes (level, idx) in one query."""
        wanted = [w for w in wanted if w not in self._nodes]
        for part in range(0, len(wanted), 200):
            cond = or_(*(and_(log_nodes.c.level == lv, log_nodes.c.idx == i) for lv, i in wanted[part:part + 200]))
            for row in self.conn.execute(select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(cond)):
                self._nodes[(row.level, row.idx)] = bytes.fromhex(row.hash)

    def _node(self, level: int, idx: int) -> bytes | None:
        if (level, idx) not in self._nodes:
            self.prefetch([(level, idx)])
        return self._nodes.get((level, idx))

    def _chunk(self, c: int) -> list[bytes]:
        if c not in self._chunks:
            self._chunks[c] = leaf_hashes(self.conn, c * CHUNK, (c + 1) * CHUNK)
        return self._chunks[c]

    def subtree(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n <= CHUNK and lo // CHUNK == (hi - 1) // CHUNK:
            base = (lo // CHUNK) * CHUNK
            return tlog.root_of(self._chunk(lo // CHUNK)[lo - base:hi - base])
        if n & (n - 1) == 0 and lo % n == 0:
            found = self._node(n.bit_length() - 1, lo // n)
            if found is not None:
                return found
        k = tlog.split(n)
        return tlog.node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def root(self, n: int) -> bytes:
        """MTH of the first ``n`` leaves: the cached nodes of n's binary digits, then the last chunk's leaves."""
        if n == 0:
            return tlog.EMPTY_ROOT
        self.prefetch(_digits(n))
        return self.subtree(0, n)


def _digits(n: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees (level, idx) of 256 leaves and more that MTH(D[n]) is made of."""
    out, lo = [], 0
    for level in range(n.bit_length() - 1, CHUNK_LEVEL - 1, -1):
        if n - lo >= 1 << level:
            out.append((level, lo >> level))
            lo += 1 << level
    return out


def _covered_chunks(conn: Connection) -> int:
    last = conn.execute(select(func.max(log_nodes.c.idx)).where(log_nodes.c.level == CHUNK_LEVEL)).scalar()
    return 0 if last is None else last + 1


def extend_cache(conn: Connection, n: int, fresh: dict[int, bytes] | None = None, limit: int | None = None) -> int:
    """Write the cached nodes of every chunk completed below ``n`` leaves (and their parents); how many chunks.

    ``fresh``: leaf hashes the caller has in hand (index → hash), so a batch
    reads back only the older leaves of its first chunk. ``limit``: at most
    so many chunks (the background round builds a backfilled cache in steps).
    """
    done = _covered_chunks(conn)
    target = n >> CHUNK_LEVEL
    if limit is not None:
        target = min(target, done + limit)
    if target <= done:
        return 0
    fresh = fresh or {}
    rows, made = [], {}
    start = done * CHUNK
    first_fresh = min(fresh) if fresh else target * CHUNK
    older = leaf_hashes(conn, start, min(first_fresh, target * CHUNK)) if first_fresh > start else []
    leaves = older + [fresh[i] for i in range(start + len(older), target * CHUNK)]
    for c in range(done, target):
        h = tlog.root_of(leaves[(c - done) * CHUNK:(c - done + 1) * CHUNK])
        made[(CHUNK_LEVEL, c)] = h
    tree = Tree(conn)
    k = 1
    while target >> k:             # parents completed now: complete below target, not complete below done
        level = CHUNK_LEVEL + k
        for p in range(done >> k, target >> k):
            left = made.get((level - 1, 2 * p)) or tree._node(level - 1, 2 * p)
            right = made.get((level - 1, 2 * p + 1)) or tree._node(level - 1, 2 * p + 1)
            if left is None or right is None:
                raise RuntimeError(f"log node cache incomplete at level {level - 1}")
            made[(level, p)] = tlog.node_hash(left, right)
        k += 1
    for (lv, i), h in made.items():
        rows.append({"level": lv, "idx": i, "hash": h.hex()})
    bulk_insert(conn, log_nodes, rows)
    return target - done


#: built once: every batch runs them
_LAST_LEAF = select(log_leaves.c.idx, log_leaves.c.rating_pk).order_by(log_leaves.c.idx.desc()).limit(1)
_NEW_RATINGS = select(ratings.c.pk, ratings.c.hash).where(ratings.c.pk > bindparam("after")).order_by(ratings.c.pk)


def append(conn: Connection, now=None, sign: bool = True) -> int:
    """Give the ratings stored after the log's last one their leaves, extend the cache, sign; the new size.

    Called in the batch's transaction after its insert (core/ingest.py),
    under the ratings lock: pk order is commit order.
    """
    last = conn.execute(_LAST_LEAF).first()
    n = 0 if last is None else last.idx + 1       # leaves are given in pk order: the last has the highest pk
    new = conn.execute(_NEW_RATINGS, {"after": -1 if last is None else last.rating_pk}).all()
    if new:
        bulk_insert(conn, log_leaves, [{"idx": n + i, "rating_pk": r.pk} for i, r in enumerate(new)])
        old, n = n, n + len(new)
        if n >> CHUNK_LEVEL > old >> CHUNK_LEVEL:   # a chunk completed (a backfilled cache: the round's)
            extend_cache(conn, n, {old + i: _leaf(r.hash) for i, r in enumerate(new)})
    if sign and (not new or not _signed_lately(conn, now)):
        sign_checkpoint(conn, n, now)
    return n


#: a batch signs a checkpoint unless this process signed one less than this many seconds ago (a
#: backlog arriving batch after batch then signs about once a second; the round signs what is left).
#: Kept in the process, not asked of the database: no query per batch; another process signing
#: meanwhile costs one checkpoint more, never one less.
SIGN_EVERY = 1.0
_last_signed: dict[str, float] = {}


def _signed_lately(conn: Connection, now) -> bool:
    import time
    where = str(conn.engine.url)
    t = time.monotonic()
    if t - _last_signed.get(where, float("-inf")) < SIGN_EVERY:
        return True
    _last_signed[where] = t
    return False


def sign_now(conn: Connection) -> int | None:
    """A checkpoint of every leaf so far, signed in this transaction under the ratings lock (so no batch
    inserts meanwhile): for whoever shows or hands over the log next — the phone page right after its
    rating, an evidence pack before it is written. Its size (None: nothing to sign yet)."""
    leases.ratings_lock(conn)
    return sign_checkpoint(conn)


def sign_checkpoint(conn: Connection, n: int | None = None, now=None) -> int | None:
    """Sign and keep the checkpoint of size ``n`` (the log's size) unless it is signed already; its size."""
    n = size(conn) if n is None else n
    if n == 0:
        return None
    if conn.execute(select(log_checkpoints.c.tree_size).where(log_checkpoints.c.tree_size == n)).first():
        return n
    if _covered_chunks(conn) < n >> CHUNK_LEVEL:
        return None                  # the cache of a backfilled log is still being built (core/tasks.py)
    found = _key(conn)
    if found is None:
        ensure_log(conn)
        found = _key(conn)
    origin, key = found
    root = Tree(conn).root(n)
    note = tlog.sign_note(tlog.checkpoint_body(origin, n, root), origin, key)
    conn.execute(log_checkpoints.insert().values(tree_size=n, root_hash=root.hex(),
                                                 signed_at=iso(now or utcnow()), note=note))
    return n


# --- reads: checkpoints and proofs (a query-only connection is enough) ------------------------------

@dataclass(frozen=True)
class Signed:
    tree_size: int
    root_hash: str
    signed_at: str
    note: str


def latest(conn: Connection) -> Signed | None:
    """The newest signed checkpoint, None before the first."""
    row = conn.execute(select(log_checkpoints).order_by(log_checkpoints.c.tree_size.desc()).limit(1)).first()
    return Signed(row.tree_size, row.root_hash, row.signed_at, row.note) if row else None


def checkpoint_of(conn: Connection, n: int) -> Signed | None:
    row = conn.execute(select(log_checkpoints).where(log_checkpoints.c.tree_size == n)).first()
    return Signed(row.tree_size, row.root_hash, row.signed_at, row.note) if row else None


@dataclass(frozen=True)
class Proof:
    """An inclusion proof against a signed checkpoint (the API's answer, plus the checkpoint's time and note)."""
    index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]
    signed_at: str
    note: str

    def answer(self) -> dict:
        """What ``GET /api/v1/log/proof`` returns: never the level, nor anything else of the rating."""
        return {"index": self.index, "tree_size": self.tree_size, "leaf_hash": self.leaf_hash,
                "hashes": self.hashes}


def proof_by_index(conn: Connection, index: int, tree_size: int | None = None) -> Proof:
    """Inclusion proof of leaf ``index`` against the newest checkpoint (or the one of ``tree_size``)."""
    cp = latest(conn) if tree_size is None else checkpoint_of(conn, tree_size)
    if cp is None:
        raise NotInLog("no signed checkpoint of that size" if tree_size else "no signed checkpoint yet",
                       pending=tree_size is None)
    if not 0 <= index < cp.tree_size:
        raise NotInLog(f"leaf {index} is not yet in a signed checkpoint (size {cp.tree_size}); "
                       "try again in a minute", pending=True)
    tree = Tree(conn)
    hashes = tlog.inclusion_proof(index, cp.tree_size, tree.subtree)
    leaf = tree._chunk(index // CHUNK)[index % CHUNK]
    return Proof(index, cp.tree_size, leaf.hex(), [h.hex() for h in hashes], cp.signed_at, cp.note)


def receipt_proof(conn: Connection, receipt_id: str) -> Proof:
    """THE call for a receipt: the index, checkpoint size, time and note, and the inclusion proof.

    The receipt's first rating (lowest pk: a second rating of one receipt is
    flagged ``duplicate_receipt`` and not counted). :class:`NotInLog` when no
    rating holds the receipt, or when it is not yet in a signed checkpoint
    (``.pending``: try again in a minute).
    """
    pk = conn.execute(select(func.min(ratings.c.pk)).where(ratings.c.receipt_id == receipt_id)).scalar()
    if pk is None:
        raise NotInLog("no rating of this receipt is held by the server")
    idx = conn.execute(select(log_leaves.c.idx).where(log_leaves.c.rating_pk == pk)).scalar()
    if idx is None:
        raise NotInLog("the rating of this receipt is not yet in a signed checkpoint; try again in a minute",
                       pending=True)
    return proof_by_index(conn, idx)


def consistency(conn: Connection, first: int, second: int) -> list[str]:
    """RFC 9162 consistency proof (hex) from size ``first`` to ``second``, both <= the newest checkpoint."""
    return [h.hex() for h in tlog.consistency_proof(first, second, Tree(conn).subtree)]
