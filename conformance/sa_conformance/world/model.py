"""The data of the world model: rows, Sessions, registries, objects.

Deliberate limits (kept out of the random walks by preconditions in
``ops``; each is covered by an example test instead): primary keys are never
changed; ``close()``/``expunge_all()`` are not called while flushed-deleted
objects exist; a Session never reads a row another Session committed after it
acquired its connection (what it sees then depends on the isolation level of
the backend); no two open transactions write the same row (that would wait on
a row lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

ATTACHED = ("pending", "persistent", "deleted")
class _Gone:
    """A deleted row inside a transaction's delta (one instance, also under copy)."""

    def __repr__(self) -> str:
        return "GONE"

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


GONE = _Gone()


@dataclass
class Obj:
    """One ORM object (``Item(name=...)``) the application holds."""

    idx: int
    name: Optional[str]
    status: str = "transient"  # transient | pending | persistent | deleted | detached | gone
    sid: Optional[int] = None  # the Session it is attached to (object_session)
    id: Optional[int] = None  # primary key attribute value
    loaded: bool = True  # ``name`` in the instance __dict__
    #: ``id`` in the instance __dict__: not before the INSERT fetched it; expires with the rest
    #: (``expire(obj, ['name'])`` and ``refresh(obj, ['name'])`` leave it as it is); None: unknown
    pk_loaded: Optional[bool] = False
    dirty: bool = False  # in Session.dirty (an attribute set event since the last flush)
    base: Optional[str] = None  # value loaded from the row (None: unknown -> is_modified)
    marked: bool = False  # Session.delete() called, not yet flushed
    was_deleted: bool = False  # detached by the commit of its deletion
    stale_pk: bool = False  # transient, but its id attribute still carries (or may carry) a key
    #: the transaction bookkeeping of the Session that INSERTed/DELETEd/UPDATEd it:
    ins: Optional[tuple[int, int]] = None  # (sid, savepoint level) of the INSERT
    dele: Optional[int] = None  # savepoint level of a flushed DELETE
    upd: set = field(default_factory=set)  # transaction levels whose flushes took it as modified (UPDATE or none)

    @property
    def modified(self) -> bool:
        """What ``Session.is_modified()`` answers: a net change of ``name``."""
        return self.dirty and (self.base is None or self.base != self.name)


@dataclass
class Txn:
    """A Session's transaction: ``delta`` is what it wrote (row id -> name or
    GONE) on top of the committed rows; ``saves`` the delta at each open
    SAVEPOINT."""

    connected: bool = False
    delta: dict = field(default_factory=dict)
    saves: list = field(default_factory=list)
    written: set = field(default_factory=set)  # rows this transaction locked
    uncertain: set = field(default_factory=set)  # rows others committed since it connected
    failed: bool = False  # a flush raised: PendingRollbackError until rollback()

    @property
    def depth(self) -> int:
        return len(self.saves)


@dataclass
class Sess:
    sid: int
    label: str
    expire_on_commit: bool = True
    autoflush: bool = True
    close_resets_only: bool = True
    closed: bool = False  # closed for good (close_resets_only=False, then close())
    txn: Optional[Txn] = None
    info: dict = field(default_factory=dict)


@dataclass
class World:
    committed: dict = field(default_factory=dict)  # row id -> name, as an independent connection sees
    sessions: dict = field(default_factory=dict)  # sid -> Sess
    objs: list = field(default_factory=list)
    #: scoped registries: (registry name, scope) -> sid of the Session present
    scopes: dict = field(default_factory=dict)
    #: how many Sessions the scoped registry's factory has made
    made: int = 0
    #: the settings the scoped registry's sessionmaker / each sessionmaker gives new Sessions
    scoped_cfg: dict = field(default_factory=dict)
    maker_cfg: dict = field(default_factory=dict)
    #: rows the current step's flushes UPDATEd / DELETEd (None: not predicted, a flush failed)
    writes: Optional[list] = None

    # -- views ----------------------------------------------------------------
    def view(self, s: Sess) -> dict:
        """The rows as Session ``s``'s transaction sees them."""
        rows = dict(self.committed)
        if s.txn is not None:
            for k, v in s.txn.delta.items():
                if v is GONE:
                    rows.pop(k, None)
                else:
                    rows[k] = v
        return rows

    def in_session(self, s: Sess) -> list:
        return [o for o in self.objs if o.sid == s.sid and o.status in ATTACHED]

    def new(self, s: Sess) -> list:
        return [o for o in self.in_session(s) if o.status == "pending"]

    def dirty(self, s: Sess) -> list:
        return [o for o in self.in_session(s) if o.status == "persistent" and o.dirty and not o.marked]

    def deleted(self, s: Sess) -> list:
        return [o for o in self.in_session(s) if o.status == "persistent" and o.marked]

    def identity_map(self, s: Sess) -> list:
        return [o for o in self.in_session(s) if o.status == "persistent"]

    def holder(self, s: Sess, pk: int) -> Optional[Obj]:
        for o in self.in_session(s):
            if o.status in ("persistent", "deleted") and o.id == pk:
                return o
        return None

    def has_work(self, s: Sess) -> bool:
        return bool(self.new(s) or self.deleted(s) or any(o.dirty for o in self.dirty(s)))

    def locked_by_others(self, s: Sess) -> set:
        out: set = set()
        for t in self.sessions.values():
            if t is not s and t.txn is not None:
                out |= t.txn.written
        return out

    def other_writer(self, s: Sess) -> bool:
        return any(t is not s and t.txn is not None and t.txn.written for t in self.sessions.values())

    def other_connected(self, s: Sess) -> bool:
        return any(t is not s and t.txn is not None and t.txn.connected for t in self.sessions.values())

    def any_connected(self) -> bool:
        return any(t.txn is not None and t.txn.connected for t in self.sessions.values())
