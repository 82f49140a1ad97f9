"""One function per documented operation of the session world.

Each function's docstring quotes the documentation sentence it implements
(docs.sqlalchemy.org/en/20/orm/: session_state_management, session_basics,
session_transaction, contextual, session_api).  ``can_*`` functions are the
preconditions under which the documentation says what happens (the walks stay
inside them).  Nothing raises: an operation the documentation says fails
returns the error it names (:class:`Expect`) and changes nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .model import GONE, Obj, Sess, Txn, World  # noqa: F401 (Sess re-exported)

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
        if o.status == "pending":
            o.status, o.id, o.ins, o.dirty, o.base, o.stale_pk = "persistent", ids[o.idx], (s.sid, lvl), False, o.name, False
            o.pk_loaded = True
            t.delta[o.id] = o.name
            t.written.add(o.id)
        elif o.status == "persistent" and o.marked:
            # the DELETE needs the row's columns: expired attributes are loaded
            o.status, o.marked, o.dele, o.dirty, o.loaded, o.pk_loaded = "deleted", False, lvl, False, True, True
            o.name = o.base = w.view(s)[o.id] if o.name is None or o.base is None else o.name
            t.delta[o.id] = GONE
            t.written.add(o.id)
        elif o.status == "persistent" and o.dirty:
            if o.modified:
                t.delta[o.id] = o.name
                t.written.add(o.id)
                o.upd.add(lvl)
            o.dirty, o.base = False, o.name


def failed_flush(w: World, s: Sess) -> None:
    """"When a flush() fails ... the session's transaction is rolled back
    ... it is in an inactive state, and it must be explicitly rolled back by
    the calling application" (PendingRollbackError until rollback())."""
    for o in w.new(s):
        o.stale_pk = True  # the INSERT may have given it a key before the failure
    restore_snapshot(w, s, level=0, dirty_only=False)
    s.txn.delta, s.txn.saves, s.txn.written, s.txn.failed = {}, [], set(), True


def restore_snapshot(w: World, s: Sess, level: int, dirty_only: bool) -> None:
    """"When the transaction is rolled back, objects that were pending ... or
    INSERTed in it become transient; objects deleted in it are persistent
    again; persistent objects are expired" -- a SAVEPOINT rollback expires
    only objects modified within it ("dirty_only")."""
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


# -- objects -------------------------------------------------------------------------
def add(w: World, s: Sess, o: Obj) -> Optional[Expect]:
    """"Objects that are in the transient state when passed to add() will
    move to the pending state ... detached ... will move to the persistent
    state directly"; an object attached to another Session raises "Object
    ... is already attached to session '<other>' (this is '<this>')"; a
    deleted one "... has been deleted.  Use the make_transient() function
    ..."."""
    if o.status == "deleted":  # checked before the Session autobegins
        return Expect("InvalidRequestError", DELETED_ADD)
    err = autobegin(w, s)
    if err:
        return err
    if o.sid is not None and o.sid != s.sid:
        return Expect("InvalidRequestError", ALREADY_ATTACHED, (o.sid, s.sid))
    if o.status == "transient":
        o.status, o.sid = "pending", s.sid
    elif o.status == "detached":
        o.status, o.sid = "persistent", s.sid
    o.marked = False
    return None


def delete(w: World, s: Sess, o: Obj) -> None:
    """"delete() ... marks an instance as deleted ... it is in Session.deleted
    and moves to the deleted state at the next flush"."""
    autobegin(w, s)
    o.marked = True


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


def make_transient(w: World, o: Obj) -> None:
    """"make_transient() ... alters the state of the given instance so that it
    is transient ... its identity key removed ... loaded attributes remain"."""
    o.status, o.sid, o.marked, o.dirty, o.was_deleted = "transient", None, False, False, False
    if not o.pk_loaded:  # expired attributes (the primary key too) are not loaded back
        o.id = None
    o.stale_pk, o.base, o.upd, o.dele = o.id is not None, None, set(), None


def make_transient_to_detached(w: World, o: Obj) -> None:
    """"make_transient_to_detached() ... makes the given transient instance
    detached ... all attributes not present are marked expired" (an
    identity key is generated from its primary key)."""
    o.status, o.stale_pk, o.was_deleted, o.base = "detached", False, False, o.name


def merge(w: World, s: Sess, o: Obj, new_idx: int, ids: dict, load: bool = True):
    """"merge() ... examines the primary key of the instance; if present, it
    attempts to locate that instance in the local identity map; if not
    found it is loaded from the database ... if not found a new instance is
    created"; "the state of the given instance is then copied onto the
    located/newly created instance"; with load=False "no SQL is emitted ...
    objects transient or marked dirty are rejected".  Returns the Obj merge()
    hands back (appended to ``w.objs`` unless the identity map's own)."""
    if not load:  # rejected before the Session autobegins
        if o.status == "transient":
            return Expect("InvalidRequestError", MERGE_TRANSIENT)
        if o.dirty:
            return Expect("InvalidRequestError", MERGE_DIRTY)
    if s.closed:
        return Expect("InvalidRequestError", CLOSED_FOR_GOOD)
    if load and s.autoflush:
        flush(w, s, ids)
    h = w.holder(s, o.id) if o.status == "detached" else None
    if h is None:  # a new instance is attached (or loaded): the Session autobegins
        autobegin(w, s)
    if o.status == "transient":
        m = Obj(idx=new_idx, name=o.name, status="pending", sid=s.sid)
        w.objs.append(m)
        return m
    if h is None:
        if load:  # "loaded from the database": SELECT
            connect(w, s)
            row = w.view(s)[o.id]
            m = Obj(idx=new_idx, name=row, base=row, status="persistent", sid=s.sid, id=o.id)
        else:
            m = Obj(idx=new_idx, name=o.name, base=o.name, loaded=o.loaded, pk_loaded=True, status="persistent",
                    sid=s.sid, id=o.id)
        w.objs.append(m)
        if not load:
            return m
    else:
        m = h
        if load and not h.loaded and o.loaded:  # copying loaded values onto an expired instance loads it first
            connect(w, s)
            h.name = h.base = w.view(s)[h.id]
            h.loaded = h.pk_loaded = True
    if o.loaded:  # the loaded attributes are set on the target: a change event
        set_name(w, m, o.name)
    return m


def set_name(w: World, o: Obj, value: str) -> None:
    """"an object in Session.dirty ... is_modified() ... returns True only if
    there is a net change": setting an attribute always puts the object in
    dirty; is_modified() compares with the loaded value (an expired one is
    unknown: always a change)."""
    if o.sid is not None:  # the change event autobegins the owning Session
        autobegin(w, w.sessions[o.sid])
    if not o.dirty:
        o.base = o.name if o.loaded else None
    o.name, o.loaded = value, True
    if o.status in ("persistent", "detached"):
        o.dirty = True  # (state.modified travels with a detached object)


# -- expiry --------------------------------------------------------------------------
def expire(w: World, o: Obj) -> None:
    """"expire() ... marks the attributes of an instance as out of date ... the
    next access will load from the database" (pending changes discarded)."""
    o.loaded, o.pk_loaded, o.dirty, o.base, o.name = False, False, False, None, None


def expire_all(w: World, s: Sess) -> None:
    """"expire_all() expires all persistent instances within this Session"."""
    for o in w.identity_map(s):
        expire(w, o)


def refresh(w: World, s: Sess, o: Obj, ids: dict) -> None:
    """"refresh() ... all attributes are expired ... a query will be issued
    immediately" (after an autoflush when autoflush is on): current values
    from the transaction's view, pending changes discarded."""
    expire(w, o)
    if s.autoflush:
        flush(w, s, ids)
    autobegin(w, s)
    connect(w, s)
    o.name = o.base = w.view(s)[o.id]
    o.loaded = o.pk_loaded = True


def read(w: World, s: Sess, o: Obj, ids: dict) -> str:
    """"the next access [of an expired attribute] will load from the database"
    -- autoflushing first when autoflush is on; a detached expired object
    raises DetachedInstanceError ("... is not bound to a Session; attribute
    refresh operation cannot proceed")."""
    if o.loaded:
        return o.name
    if s.autoflush:
        flush(w, s, ids)
    autobegin(w, s)
    connect(w, s)
    o.name = o.base = w.view(s)[o.id]
    o.loaded = o.pk_loaded = True
    return o.name


def query_names(w: World, s: Sess, ids: dict, no_autoflush: bool) -> list:
    """"All query operations ... issue a flush() first when autoflush is on";
    inside ``with session.no_autoflush:`` they do not."""
    autobegin(w, s)
    if s.autoflush and not no_autoflush:
        flush(w, s, ids)
    connect(w, s)
    return sorted(w.view(s).values())


# -- scoped registries ----------------------------------------------------------------
def registry_call(w: World, key, new_sid: int, kwargs: Optional[dict] = None):
    """"scoped_session ... will create the Session when first called, and
    return the same Session on subsequent calls within the scope"; "Scoped
    session is already present; no new arguments may be specified"."""
    if key in w.scopes:
        if kwargs:
            return Expect("InvalidRequestError", ALREADY_PRESENT)
        return w.scopes[key]
    w.scopes[key] = new_sid
    return new_sid


def registry_remove(w: World, key) -> None:
    """"remove() ... calls close() on the current Session ... and discards it;
    the next call creates a new Session"."""
    sid = w.scopes.pop(key, None)
    if sid is not None:
        close(w, w.sessions[sid])
