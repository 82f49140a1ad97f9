"""The documented operations on ORM objects: add, delete, make_transient
(_to_detached), merge, attribute changes, expiry, refresh and loading.

One function per documented operation, its docstring quoting the sentence it
implements (docs.sqlalchemy.org/en/20/orm/session_state_management.html,
session_basics.html, session_api.html).
"""

from __future__ import annotations

from typing import Optional

from .model import Obj, Sess, World
from .ops_txn import (
    ALREADY_ATTACHED,
    CLOSED_FOR_GOOD,
    DELETED_ADD,
    MERGE_DIRTY,
    MERGE_TRANSIENT,
    Expect,
    autobegin,
    connect,
    flush,
)


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
    and moves to the deleted state at the next flush"; "The object is assumed
    to be either persistent or detached when passed": a detached one is
    attached to the Session (persistent, in Session.deleted)."""
    autobegin(w, s)
    if o.status == "detached":
        o.status, o.sid = "persistent", s.sid
    o.marked = True


def make_transient(w: World, o: Obj) -> None:
    """"make_transient() ... alters the state of the given instance so that it
    is transient ... its identity key removed ... loaded attributes remain"."""
    o.status, o.sid, o.marked, o.dirty, o.was_deleted = "transient", None, False, False, False
    unknown = o.pk_loaded is None  # a key a failed INSERT may have given it: it may still hold one
    if not o.pk_loaded:  # expired attributes (the primary key too) are not loaded back
        o.id = None
    o.stale_pk, o.base, o.upd, o.dele = o.id is not None or unknown, None, set(), None


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
            m = Obj(idx=new_idx, name=row, base=row, pk_loaded=True, status="persistent", sid=s.sid, id=o.id)
        else:
            m = Obj(idx=new_idx, name=o.name, base=o.name, loaded=o.loaded, pk_loaded=o.pk_loaded,
                    status="persistent", sid=s.sid, id=o.id)
        w.objs.append(m)
        if not load:
            return m
    else:
        m = h
        if load and not h.loaded and o.loaded:  # copying loaded values onto an expired instance loads it first
            autobegin(w, s)  # (a SELECT: the Session autobegins)
            connect(w, s)
            h.name = h.base = w.view(s)[h.id]
            h.loaded = h.pk_loaded = True
    if o.loaded:  # the loaded attributes are set on the target: a change event
        set_name(w, m, o.name)
    elif o.pk_loaded:  # only the key is loaded: setting it (unchanged) puts the target in dirty, "optimistic"
        m.base, m.dirty = (m.name if m.loaded else None), True
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


def expire_attrs(w: World, o: Obj) -> None:
    """"attribute_names: optional list of string attribute names indicating a
    subset of attributes to be expired" -- ``expire(obj, ['name'])`` leaves
    the primary key loaded (the walks expire a subset only of clean objects)."""
    o.loaded, o.base, o.name = False, None, None


def expire_all(w: World, s: Sess) -> None:
    """"expire_all() expires all persistent instances within this Session"."""
    for o in w.identity_map(s):
        expire(w, o)


def _load_name(w: World, s: Sess, o: Obj, ids: dict) -> None:
    """The SELECT that loads ``name``: an autoflush first when autoflush is on,
    then the value in the Session's transaction (which it begins)."""
    if s.autoflush:
        flush(w, s, ids)
    autobegin(w, s)
    connect(w, s)
    o.name = o.base = w.view(s)[o.id]
    o.loaded = True


def refresh(w: World, s: Sess, o: Obj, ids: dict) -> None:
    """"refresh() ... all attributes are expired ... a query will be issued
    immediately" (after an autoflush when autoflush is on): current values
    from the transaction's view, pending changes discarded."""
    expire(w, o)
    _load_name(w, s, o, ids)
    o.pk_loaded = True


def refresh_attrs(w: World, s: Sess, o: Obj, ids: dict) -> None:
    """"refresh(obj, ['name']) ... attribute_names: optional ... a subset of
    attributes to be refreshed": only ``name`` is expired and loaded at once
    (after an autoflush when autoflush is on); the primary key keeps its
    state (an expired one stays expired)."""
    o.loaded, o.dirty, o.base, o.name = False, False, None, None
    _load_name(w, s, o, ids)


def read(w: World, s: Sess, o: Obj, ids: dict) -> str:
    """"the next access [of an expired attribute] will load from the database"
    -- autoflushing first when autoflush is on; a detached expired object
    raises DetachedInstanceError ("... is not bound to a Session; attribute
    refresh operation cannot proceed")."""
    if o.loaded:
        return o.name
    _load_name(w, s, o, ids)
    o.pk_loaded = True
    return o.name


def query_names(w: World, s: Sess, ids: dict, no_autoflush: bool) -> list:
    """"All query operations ... issue a flush() first when autoflush is on";
    inside ``with session.no_autoflush:`` they do not."""
    autobegin(w, s)
    if s.autoflush and not no_autoflush:
        flush(w, s, ids)
    connect(w, s)
    return sorted(w.view(s).values())
