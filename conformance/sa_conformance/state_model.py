"""A small pure-Python reference model of a Session's object states.

The model knows nothing about SQLAlchemy: it encodes what the documentation
("State Management", "Session Basics", "Transactions and Connection
Management") says each operation does to each object's state, to the
Session's collections (``new``, ``dirty``, ``deleted``, identity map) and to
the rows of the ``items`` table, and the state-machine test
(``conformance/sa_conformance/suite/test_states_machine.py``) compares a real Session with it
after every step.

Each object of interest is an :class:`Obj`; a Session plus its database is a
:class:`Model`.  Every operation is a method that first says whether it
applies (``can_<op>``, the rule's precondition) and then updates the model.

Deliberate limits (kept out of the random walk so the model stays small; each
is covered by a dedicated test instead): autoflush triggered by attribute
loads (refresh only runs on a clean Session), ``close()``/``expunge_all()``
while flushed-deleted objects exist (SQLAlchemy leaves those attached and
``deleted``), and re-adding a transient object that still carries a
rolled-back primary key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

STATES = ("transient", "pending", "persistent", "deleted", "detached")
ATTACHED = ("pending", "persistent", "deleted")


@dataclass
class Obj:
    idx: int
    name: str
    status: str = "transient"
    id: Optional[int] = None
    #: ``name`` is present in the instance dict (not expired / unloaded)
    loaded: bool = True
    #: an attribute change not yet flushed
    dirty: bool = False
    #: ``Session.delete()`` called, not yet flushed
    marked: bool = False
    #: INSERTed by a flush of the current transaction
    inserted_in_txn: bool = False
    #: transient again after a rollback, still carrying its old primary key
    stale_pk: bool = False
    #: detached by the commit of its deletion (``InstanceState.was_deleted``)
    was_deleted: bool = False


@dataclass
class Model:
    objs: list[Obj] = field(default_factory=list)
    in_txn: bool = False
    committed: dict[int, str] = field(default_factory=dict)
    txn_rows: Optional[dict[int, str]] = None

    # -- views -------------------------------------------------------------
    def view(self) -> dict[int, str]:
        """Rows as the Session's transaction sees them."""
        return self.txn_rows if self.txn_rows is not None else self.committed

    def attached(self) -> list[Obj]:
        return [o for o in self.objs if o.status in ATTACHED]

    def new(self) -> list[Obj]:
        return [o for o in self.objs if o.status == "pending"]

    def dirty_set(self) -> list[Obj]:
        return [o for o in self.objs if o.status == "persistent" and o.dirty and not o.marked]

    def deleted_set(self) -> list[Obj]:
        return [o for o in self.objs if o.status == "persistent" and o.marked]

    def identity_keys(self) -> set[int]:
        return {o.id for o in self.objs if o.status == "persistent"}

    def holder(self, pk: int) -> Optional[Obj]:
        for o in self.objs:
            if o.status in ("persistent", "deleted") and o.id == pk:
                return o
        return None

    def has_work(self) -> bool:
        return bool(self.new() or self.dirty_set() or self.deleted_set())

    def _begin(self) -> None:
        if not self.in_txn:
            self.in_txn = True
        if self.txn_rows is None:
            self.txn_rows = dict(self.committed)

    # -- operations ----------------------------------------------------------
    def new_object(self, name: str) -> Obj:
        obj = Obj(idx=len(self.objs), name=name)
        self.objs.append(obj)
        return obj

    def can_add(self, o: Obj) -> bool:
        if o.status == "transient":
            return not o.stale_pk
        if o.status in ("pending", "persistent"):
            return True
        if o.status == "detached":
            # (add() of a was_deleted object raises: it must be made transient first)
            return o.id in self.view() and self.holder(o.id) is None and not o.was_deleted
        return False

    def add(self, o: Obj) -> None:
        if o.status == "transient":
            o.status = "pending"
        elif o.status == "detached":
            o.status = "persistent"
        o.marked = False  # add() of an object marked for deletion un-marks it
        self.in_txn = True

    def flush(self, assigned_ids: dict[int, int]) -> None:
        """``assigned_ids``: {obj idx: primary key the database gave it}."""
        if not self.has_work():
            return
        self._begin()
        rows = self.txn_rows
        for o in self.objs:
            if o.status == "pending":
                o.status, o.id, o.inserted_in_txn, o.dirty = "persistent", assigned_ids[o.idx], True, False
                rows[o.id] = o.name
            elif o.status == "persistent" and o.marked:
                # the DELETE reads the primary key, loading an expired row
                o.status, o.marked, o.dirty, o.loaded = "deleted", False, False, True
                rows.pop(o.id, None)
            elif o.status == "persistent" and o.dirty:
                rows[o.id] = o.name
                o.dirty = False

    def commit(self, assigned_ids: dict[int, int]) -> None:
        self.flush(assigned_ids)
        if self.txn_rows is not None:
            self.committed = self.txn_rows
        self.txn_rows, self.in_txn = None, False
        for o in self.objs:
            o.inserted_in_txn = False
            if o.status == "deleted":
                o.status, o.was_deleted = "detached", True
            elif o.status == "persistent":
                o.loaded = False  # expire_on_commit (even with no transaction)

    def rollback(self) -> None:
        if not self.in_txn:
            return
        for o in self.objs:
            if o.status == "pending":
                o.status = "transient"
            elif o.status in ("persistent", "deleted", "detached") and o.inserted_in_txn:
                # a row INSERTed by this transaction, even if expunged since
                o.status, o.id, o.stale_pk, o.dirty, o.marked = "transient", None, True, False, False
            elif o.status in ("persistent", "deleted"):
                o.status, o.loaded, o.dirty, o.marked = "persistent", False, False, False
            o.inserted_in_txn = False
        self.txn_rows, self.in_txn = None, False

    def can_delete(self, o: Obj) -> bool:
        # (a persistent object whose row a rollback removed - e.g. one merge()
        # loaded from a row INSERTed earlier in that transaction - cannot be
        # loaded or deleted: ObjectDeletedError; kept out of the walk)
        return o.status == "persistent" and o.id in self.view()

    def delete(self, o: Obj) -> None:
        o.marked = True
        self.in_txn = True

    def can_expunge(self, o: Obj) -> bool:
        return o.status in ("pending", "persistent")

    def expunge(self, o: Obj) -> None:
        o.status = "transient" if o.status == "pending" else "detached"
        o.marked = False

    def can_expunge_all(self) -> bool:
        return not any(o.status == "deleted" for o in self.objs)

    def expunge_all(self) -> None:
        for o in self.attached():
            self.expunge(o)

    can_close = can_expunge_all

    def close(self) -> None:
        self.expunge_all()
        self.txn_rows, self.in_txn = None, False
        for o in self.objs:
            o.inserted_in_txn = False

    def can_merge(self, o: Obj) -> bool:
        if o.status == "transient":
            return not o.stale_pk
        if o.status == "detached":
            h = self.holder(o.id)
            if h is None:
                # loading a row only this transaction INSERTed would leave a
                # persistent object without a row after rollback (its key may
                # then be reused by SQLite): kept out of the walk
                return o.id in self.view() and self.committed.get(o.id) == self.view()[o.id]
            return o.id in self.view() and h.status == "persistent" and not h.marked
        return False

    def merge(self, o: Obj, new_idx: int, assigned_ids: dict[int, int]) -> Obj:
        """Returns the model of the instance merge() gives back (a new Obj
        appended to ``objs`` unless an identity-map instance is reused).
        merge() (load=True) autoflushes first."""
        self.flush(assigned_ids)
        if o.status == "transient":
            self.in_txn = True
            m = Obj(idx=new_idx, name=o.name, status="pending")
            self.objs.append(m)
            return m
        h = self.holder(o.id)
        if h is None:  # loaded with a SELECT
            self._begin()
            m = Obj(idx=new_idx, name=self.view()[o.id], status="persistent", id=o.id)
            self.objs.append(m)
        else:  # the identity map's instance; nothing to copy, nothing begins
            m = h
        if o.loaded:  # loaded attributes are copied onto it: a change
            self._begin()
            m.name, m.dirty, m.loaded = o.name, True, True
        return m

    def can_expire(self, o: Obj) -> bool:
        return o.status == "persistent" and not o.marked

    def expire(self, o: Obj) -> None:
        o.loaded, o.dirty = False, False

    def can_refresh(self, o: Obj) -> bool:
        return self.can_expire(o) and o.id in self.view() and not self.has_work()

    def refresh(self, o: Obj) -> None:
        self._begin()
        o.loaded, o.dirty, o.name = True, False, self.view()[o.id]

    def can_rename(self, o: Obj) -> bool:
        return o.status == "persistent" and not o.marked and o.id in self.view()

    def rename(self, o: Obj, name: str) -> None:
        o.name, o.dirty, o.loaded = name, True, True
        self.in_txn = True
