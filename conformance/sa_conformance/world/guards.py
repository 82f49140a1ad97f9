"""Which steps a walk may take on a backend, from its capabilities.

The documentation's behaviour is the same everywhere; what differs is what a
database allows two open transactions to do at once.  These guards keep the
walks inside what every backend with the given capabilities does without
waiting or failing for reasons the session documentation does not describe:

* without ``independent_connections`` (one shared DBAPI connection) only one
  Session may hold a connection at a time;
* with ``database_write_lock`` only one open transaction writes, and a
  transaction that saw another's commit does not write;
* everywhere, no transaction writes a row another open transaction wrote
  (a row lock), and no Session reads a row committed by another Session
  after it acquired its connection (that depends on the isolation level).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Obj, Sess, World


@dataclass(frozen=True)
class Caps:
    independent: bool
    write_lock: bool
    savepoints: bool

    @classmethod
    def of(cls, backend) -> "Caps":
        return cls(
            independent=backend.has("independent_connections"),
            write_lock=backend.has("database_write_lock"),
            savepoints=backend.has("savepoints"),
        )


def may_connect(w: World, s: Sess, caps: Caps) -> bool:
    if s.txn is not None and s.txn.connected:
        return True
    return caps.independent or not w.other_connected(s)


def may_read(w: World, s: Sess, caps: Caps, rows) -> bool:
    if not may_connect(w, s, caps):
        return False
    return not (s.txn is not None and s.txn.uncertain & set(rows))


def flush_rows(w: World, s: Sess) -> set:
    """Existing rows a flush of ``s`` would UPDATE or DELETE (or collide with)."""
    out = {o.id for o in w.deleted(s)}
    out |= {o.id for o in w.dirty(s) if o.modified}
    out |= {o.id for o in w.new(s) if o.id is not None}
    return out


def dup_pending(w: World, s: Sess) -> bool:
    """A pending object carrying the primary key of an existing row: the flush
    fails with IntegrityError."""
    view = w.view(s)
    return any(o.id is not None and o.id in view for o in w.new(s))


def may_write(w: World, s: Sess, caps: Caps, rows) -> bool:
    if not may_connect(w, s, caps):
        return False
    if s.txn is not None and s.txn.uncertain & set(rows):
        return False
    if set(rows) & w.locked_by_others(s):
        return False
    if caps.write_lock and (w.other_writer(s) or (s.txn is not None and s.txn.uncertain)):
        return False
    return True


def may_flush(w: World, s: Sess, caps: Caps, *, allow_dup: bool = False) -> bool:
    """A flush of ``s`` (explicit or autoflush) is inside the walk."""
    if s.txn is not None and s.txn.failed:
        return False
    if not w.has_work(s):
        return True
    if dup_pending(w, s) and not (allow_dup and s.txn is not None and s.txn.depth == 0):
        return False
    view = w.view(s)
    if any(o.id not in view for o in w.deleted(s) + [o for o in w.dirty(s) if o.modified]):
        return False  # the row went away (another Session's commit): ObjectDeletedError / StaleDataError
    return may_write(w, s, caps, flush_rows(w, s))


def may_autoflush(w: World, s: Sess, caps: Caps) -> bool:
    return not s.autoflush or may_flush(w, s, caps)


def readable(w: World, s: Sess, o: Obj) -> bool:
    """``o``'s row exists in ``s``'s view."""
    return o.id is not None and o.id in w.view(s)
