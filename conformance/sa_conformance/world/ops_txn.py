"""The documented operations on a Session's transaction: autobegin, flush,
commit, rollback, SAVEPOINTs, close and reset (and expunge, which close uses).

One function per documented operation, its docstring quoting the sentence it
implements (docs.sqlalchemy.org/en/20/orm/session_transaction.html,
session_basics.html, session_state_management.html).  Nothing raises: an
operation the documentation says fails returns the error it names
(:class:`Expect`) and changes nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .model import GONE, Obj, Sess, Txn, World

ALREADY_ATTACHED = r"is already attached to session '%s' \(this is '%s'\)"
CLOSED_FOR_GOOD = re.escape("This Session has been permanently closed and is unable to handle any more transaction requests.")
PENDING_ROLLBACK = re.escape("This Session's transaction has been rolled back due to a previous exception during flush.")
ALREADY_BEGUN = re.escape("A transaction is already begun on this Session.")
ALREADY_PRESENT = re.escape("Scoped session is already present; no new arguments may be specified.")
MERGE_TRANSIENT = re.escape("merge() with load=False option does not support objects transient")
MERGE_DIRTY = re.escape("merge() with load=False option does not support objects marked as 'dirty'")
DELETED_ADD = re.escape("has been deleted.  Use the make_transient() function to send this object back to the transient state.")
DETACHED_REFRESH = re.escape("is not bound to a Session; attribute refresh operation cannot proceed")


@dataclass(frozen=True)
class Expect:
    """An error the documentation names: exception class name and a message
    pattern (``re.search``)."""

    exc: str
    pattern: str
    #: model Session ids whose hash keys fill the pattern's ``%s`` slots
    sids: tuple = ()


# -- transactions -----------------------------------------------------------------
def autobegin(w: World, s: Sess) -> Optional[Expect]:
    """"The Session ... will begin a new transaction automatically when it is
    first used" (autobegin); "Session.close_resets_only=False: ... the Session
    ... is closed permanently"."""
    if s.closed:
        return Expect("InvalidRequestError", CLOSED_FOR_GOOD)
    if s.txn is None:
        s.txn = Txn()
    return None


def connect(w: World, s: Sess) -> None:
    """"The Session ... procures a connection ... as soon as it needs to emit
    SQL" (no connection is held merely because a transaction autobegan)."""
    if not s.txn.connected:
        s.txn.connected = True
        s.txn.uncertain = set()


def flush(w: World, s: Sess, ids: dict, *, fails: bool = False) -> None:
    """"When the flush() method is called, ... pending objects become
    persistent ... an object marked with delete() moves to the deleted state
    ... changes to persistent objects are written as UPDATE" (inside the
    current transaction; ``ids``: {obj idx: primary key the INSERT got})."""
    if not w.has_work(s) and not fails:
        return
    autobegin(w, s)
    connect(w, s)
    if fails:
        failed_flush(w, s)
        return
    t, lvl = s.txn, s.txn.depth
    for o in w.in_session(s):
        count_write(w, o)
        if o.status == "pending":
            o.status, o.id, o.ins, o.dirty, o.base, o.stale_pk = "persistent", ids[o.idx], (s.sid, lvl), False, o.name, False
            o.pk_loaded = True
            t.delta[o.id] = o.name
            t.written.add(o.id)
        elif o.status == "persistent" and o.marked:
            if not o.pk_loaded:  # the DELETE's WHERE clause needs the expired key: every expired attribute loads
                o.name = o.base = w.view(s)[o.id] if not o.loaded else o.name
                o.loaded = o.pk_loaded = True
            o.status, o.marked, o.dele, o.dirty = "deleted", False, lvl, False
            t.delta[o.id] = GONE
            t.written.add(o.id)
        elif o.status == "persistent" and o.dirty:
            if o.modified:
                t.delta[o.id] = o.name
                t.written.add(o.id)
            # every object the flush took (net change, UPDATE, or not) is registered
            # under its identity key, read from its primary key: an expired one loads
            o.pk_loaded = True
            # flushed as modified in this transaction: a rollback of it expires the
            # object (see restore_snapshot)
            o.upd.add(lvl)
            o.dirty, o.base = False, o.name


def count_write(w: World, o: Obj) -> None:
    """"At flush time, the value of each attribute is compared to its
    previously saved value, and if there's no net change, no SQL operation
    will occur": a flush UPDATEs the rows of objects with a net change and
    DELETEs the rows of objects marked deleted (``w.writes``: [UPDATEd rows,
    DELETEd rows] of the current step)."""
    if w.writes is None:
        return
    if o.status == "persistent" and o.marked:
        w.writes[1] += 1
    elif o.status == "persistent" and o.dirty and o.modified:
        w.writes[0] += 1


def failed_flush(w: World, s: Sess) -> None:
    """"When a flush() fails ... the session's transaction is rolled back
    ... it is in an inactive state, and it must be explicitly rolled back by
    the calling application" (PendingRollbackError until rollback())."""
    w.writes = None  # what the failed flush sent before it failed is not predicted
    for o in w.new(s):
        o.stale_pk = True
        if o.id is None:
            o.pk_loaded = None  # the INSERT may have given it a key before the failure
        # (a key it already had, it keeps: the INSERT was sent with it)
    restore_snapshot(w, s, level=0, dirty_only=False)
    s.txn.delta, s.txn.saves, s.txn.written, s.txn.failed = {}, [], set(), True


def restore_snapshot(w: World, s: Sess, level: int, dirty_only: bool) -> None:
    """"When the transaction is rolled back, objects that were pending ... or
    INSERTed in it become transient; objects deleted in it are persistent
    again; persistent objects are expired" -- a SAVEPOINT rollback expires
    only objects modified within it ("dirty_only"): those with changes now
    (Session.dirty) and those a flush inside it took as modified, whether or
    not the flush found a net change to UPDATE (``upd``)."""
    for o in w.objs:
        if o.ins is not None and o.ins[0] == s.sid and o.ins[1] >= level and o.status != "gone":
            o.status, o.sid, o.stale_pk, o.ins, o.dirty, o.marked, o.dele = "transient", None, True, None, False, False, None
            o.upd = set()
            if not o.pk_loaded:  # its expired primary key is not loaded back
                o.id = None
    for o in w.in_session(s):
        if o.status == "pending":
            o.status, o.sid, o.marked = "transient", None, False
        elif o.status == "deleted" and o.dele is not None and o.dele >= level or o.marked:
            o.status, o.marked, o.dele = "persistent", False, None
    for o in w.identity_map(s):
        if not dirty_only or o.dirty or any(u >= level for u in o.upd):
            o.loaded, o.pk_loaded, o.dirty, o.base, o.name = False, False, False, None, None
        o.upd = {u for u in o.upd if u < level}


def commit(w: World, s: Sess, ids: dict) -> Optional[Expect]:
    """"commit() ... flushes pending changes and commits the current database
    transaction" -- with an open begin_nested() it "commits the outermost
    database transaction"; "all objects are fully expired after commit"
    unless expire_on_commit=False; deleted objects become detached."""
    err = autobegin(w, s)
    if err:
        return err
    flush(w, s, ids)
    for k, v in s.txn.delta.items():
        if v is GONE:
            w.committed.pop(k, None)
        else:
            w.committed[k] = v
    changed = set(s.txn.delta)
    for t in w.sessions.values():
        if t is not s and t.txn is not None and t.txn.connected and changed:
            t.txn.uncertain |= changed
    s.txn = None
    for o in w.objs:
        if o.ins is not None and o.ins[0] == s.sid:
            o.ins = None
        if o.sid != s.sid:
            continue
        o.upd, o.dele = set(), None
        if o.status == "deleted":
            o.status, o.sid, o.was_deleted = "detached", None, True
        elif o.status == "persistent" and s.expire_on_commit:
            o.loaded, o.pk_loaded, o.dirty, o.base, o.name = False, False, False, None, None
    return None


def rollback(w: World, s: Sess) -> None:
    """"rollback() rolls back the topmost database transaction" (also with a
    SAVEPOINT open); "objects ... transient when added ... become transient
    again; all persistent objects are expired" -- with no transaction it does
    nothing."""
    if s.txn is None:
        return
    if not s.txn.failed:
        # each open SAVEPOINT is rolled back first (innermost first), then the root
        for lvl in range(s.txn.depth, 0, -1):
            restore_snapshot(w, s, level=lvl, dirty_only=True)
        restore_snapshot(w, s, level=0, dirty_only=False)
    s.txn = None
    for o in w.objs:
        if o.ins is not None and o.ins[0] == s.sid:
            o.ins = None


def begin(w: World, s: Sess) -> Optional[Expect]:
    """"Session.begin() ... raises InvalidRequestError if a transaction is
    already begun" ("A transaction is already begun on this Session.")."""
    if s.txn is not None:
        return Expect("InvalidRequestError", ALREADY_BEGUN)
    return autobegin(w, s)


def begin_nested(w: World, s: Sess, ids: dict) -> Optional[Expect]:
    """"begin_nested() ... emits SAVEPOINT ... the Session is flushed first"
    (unconditionally, whatever autoflush says); a Session that holds no
    connection yet emits the SAVEPOINT when it first procures one."""
    err = autobegin(w, s)
    if err:
        return err
    flush(w, s, ids)
    s.txn.saves.append(dict(s.txn.delta))
    return None


def release_savepoint(w: World, s: Sess, ids: dict) -> None:
    """"committing the nested transaction emits RELEASE SAVEPOINT" after a
    flush; what it wrote becomes part of the enclosing transaction."""
    flush(w, s, ids)
    lvl = s.txn.depth
    s.txn.saves.pop()
    for o in w.objs:
        if o.ins is not None and o.ins[0] == s.sid and o.ins[1] == lvl:
            o.ins = (s.sid, lvl - 1)
        if o.sid == s.sid:
            if o.dele == lvl:
                o.dele = lvl - 1
            o.upd = {u if u < lvl else lvl - 1 for u in o.upd}


def rollback_savepoint(w: World, s: Sess) -> None:
    """"rolling it back emits ROLLBACK TO SAVEPOINT": only the writes inside
    it are discarded; objects added inside become transient, objects deleted
    inside persistent again; only objects modified inside are expired."""
    lvl = s.txn.depth
    restore_snapshot(w, s, level=lvl, dirty_only=True)
    s.txn.delta = s.txn.saves.pop()


def close(w: World, s: Sess) -> None:
    """"close() ... expunges all ORM objects and ends the transaction
    (releasing connections)"; with close_resets_only=False "the Session ...
    cannot be used again"."""
    expunge_all(w, s)
    s.txn = None
    for o in w.objs:
        if o.ins is not None and o.ins[0] == s.sid:
            o.ins = None
    if not s.close_resets_only:
        s.closed = True


def reset(w: World, s: Sess) -> None:
    """"reset() ... expunges all ORM objects, ends the transaction ... the
    Session is as though it were newly constructed" -- it never closes it for
    good."""
    closed = s.closed
    s.close_resets_only, keep = True, s.close_resets_only
    close(w, s)
    s.close_resets_only, s.closed = keep, closed


def expunge(w: World, s: Sess, o: Obj) -> None:
    """"expunge() removes an object from the Session, sending persistent
    instances to the detached state, and pending instances to the transient
    state"."""
    o.status = "transient" if o.status == "pending" else "detached"
    o.sid, o.marked = None, False


def expunge_all(w: World, s: Sess) -> None:
    """"expunge_all() ... removes all objects from this Session"."""
    for o in w.in_session(s):
        expunge(w, s, o)


