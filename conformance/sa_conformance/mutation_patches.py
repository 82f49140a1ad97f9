"""The deliberate regressions of :mod:`sa_conformance.mutations`: each
function installs one with the ``pytest.MonkeyPatch`` it is given (whose
``undo()`` restores SQLAlchemy).  Importing this module patches nothing.
"""

from __future__ import annotations

import types

import pytest


def registry_new_session_each_call(p: pytest.MonkeyPatch) -> None:
    """ScopedRegistry/ThreadLocalRegistry create (and store) a new Session on
    every call instead of returning the one already in the scope."""
    from sqlalchemy.util import ScopedRegistry, ThreadLocalRegistry

    def call(self):  # type: ignore[no-untyped-def]
        value = self.createfunc()
        self.set(value)
        return value

    p.setattr(ScopedRegistry, "__call__", call)
    p.setattr(ThreadLocalRegistry, "__call__", call)


def remove_does_not_close(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import scoped_session

    def remove(self):  # type: ignore[no-untyped-def]
        self.registry.clear()  # forgets the Session without closing it

    p.setattr(scoped_session, "remove", remove)


def remove_keeps_registry(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import scoped_session

    def remove(self):  # type: ignore[no-untyped-def]
        if self.registry.has():
            self.registry().close()  # closed, but still the scope's Session

    p.setattr(scoped_session, "remove", remove)


def kwargs_ignored_when_present(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import scoped_session

    original = scoped_session.__call__

    def call(self, **kw):  # type: ignore[no-untyped-def]
        if kw and self.registry.has():
            return self.registry()  # silently drops the arguments
        return original(self, **kw)

    p.setattr(scoped_session, "__call__", call)
    try:
        from sqlalchemy.ext.asyncio import async_scoped_session
    except ImportError:  # pragma: no cover - asyncio extension always ships
        return
    original_async = async_scoped_session.__call__

    def call_async(self, **kw):  # type: ignore[no-untyped-def]
        if kw and self.registry.has():
            return self.registry()
        return original_async(self, **kw)

    p.setattr(async_scoped_session, "__call__", call_async)


def close_keeps_connection(p: pytest.MonkeyPatch) -> None:
    """Session.close() (and therefore remove()) expunges the objects but
    leaves the transaction open, holding its pool connection."""
    from sqlalchemy.orm import Session

    def _close_impl(self, *args, **kw):  # type: ignore[no-untyped-def]
        self.expunge_all()

    p.setattr(Session, "_close_impl", _close_impl)


def rollback_keeps_pending(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    original = Session.rollback

    def rollback(self):  # type: ignore[no-untyped-def]
        pending = list(self.new)
        original(self)
        for obj in pending:  # what rollback should have expunged comes back
            self.add(obj)

    p.setattr(Session, "rollback", rollback)


def merge_returns_source(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    original = Session.merge

    def merge(self, instance, *args, **kw):  # type: ignore[no-untyped-def]
        original(self, instance, *args, **kw)
        return instance  # the given object instead of the Session's copy

    p.setattr(Session, "merge", merge)


def begin_nested_no_savepoint(p: pytest.MonkeyPatch) -> None:
    """begin_nested() bookkeeping happens, but no SAVEPOINT / ROLLBACK TO /
    RELEASE reaches the database."""
    from sqlalchemy.engine.default import DefaultDialect

    def noop(self, connection, name):  # type: ignore[no-untyped-def]
        return None

    for meth in ("do_savepoint", "do_rollback_to_savepoint", "do_release_savepoint"):
        p.setattr(DefaultDialect, meth, noop)


def expire_on_commit_ignored(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    original = Session.__init__

    def __init__(self, *args, **kw):  # type: ignore[no-untyped-def]
        original(self, *args, **kw)
        self.expire_on_commit = False

    p.setattr(Session, "__init__", __init__)


def add_attached_elsewhere_allowed(p: pytest.MonkeyPatch) -> None:
    """add() of an object that belongs to another live Session silently
    steals it instead of raising InvalidRequestError."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm import session as session_mod

    original = Session._before_attach

    def _before_attach(self, state, obj):  # type: ignore[no-untyped-def]
        other = state.session_id and session_mod._sessions.get(state.session_id)
        if other is not None and other is not self:
            other.expunge(obj)
        return original(self, state, obj)

    p.setattr(Session, "_before_attach", _before_attach)


def threadlocal_shared(p: pytest.MonkeyPatch) -> None:
    """ThreadLocalRegistry keeps one value for all threads (a plain object
    where a threading.local belongs)."""
    from sqlalchemy.util import ThreadLocalRegistry

    original = ThreadLocalRegistry.__init__

    def __init__(self, createfunc):  # type: ignore[no-untyped-def]
        original(self, createfunc)
        self.registry = types.SimpleNamespace()

    p.setattr(ThreadLocalRegistry, "__init__", __init__)


def scopefunc_ignored(p: pytest.MonkeyPatch) -> None:
    """ScopedRegistry keys every scope alike: scopefunc is never consulted."""
    from sqlalchemy.util import ScopedRegistry

    original = ScopedRegistry.__init__

    def __init__(self, createfunc, scopefunc):  # type: ignore[no-untyped-def]
        original(self, createfunc, lambda: "one-scope")

    p.setattr(ScopedRegistry, "__init__", __init__)


# -- seed 002 members that used to be checked for presence only ------------------------
def get_one_returns_none(p: pytest.MonkeyPatch) -> None:
    """Session.get_one() behaves as get(): None instead of NoResultFound."""
    from sqlalchemy.orm import Session

    p.setattr(Session, "get_one", lambda self, entity, ident, **kw: self.get(entity, ident, **kw))


def bulk_save_attaches(p: pytest.MonkeyPatch) -> None:
    """bulk_save_objects() implemented as add_all() + flush(): the objects end up in the Session."""
    from sqlalchemy.orm import Session

    def bulk_save_objects(self, objects, *args, **kw):  # type: ignore[no-untyped-def]
        for obj in objects:
            self.merge(obj, load=False) if obj._sa_instance_state.key else self.add(obj)
        self.flush()

    p.setattr(Session, "bulk_save_objects", bulk_save_objects)


def is_active_needs_transaction(p: pytest.MonkeyPatch) -> None:
    """Session.is_active False whenever no transaction is in progress (what the reference's
    'Changed in version 1.4' sentence claims)."""
    from sqlalchemy.orm import Session

    original = Session.is_active
    p.setattr(Session, "is_active", property(lambda self: self.in_transaction() and original.fget(self)))


def get_skips_identity_map(p: pytest.MonkeyPatch) -> None:
    """Session.get() always SELECTs (populate_existing forced)."""
    from sqlalchemy.orm import Session

    original = Session.get

    def get(self, entity, ident, **kw):  # type: ignore[no-untyped-def]
        kw["populate_existing"] = True
        return original(self, entity, ident, **kw)

    p.setattr(Session, "get", get)


def no_autoflush_noop(p: pytest.MonkeyPatch) -> None:
    """Session.no_autoflush returns a context manager that leaves autoflush on."""
    import contextlib

    from sqlalchemy.orm import Session

    p.setattr(Session, "no_autoflush", property(lambda self: contextlib.nullcontext(self)))


def expunge_no_cascade(p: pytest.MonkeyPatch) -> None:
    """Session.expunge() removes only the given object (no 'expunge' cascade)."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    def expunge(self, instance):  # type: ignore[no-untyped-def]
        self._expunge_states([inspect(instance)])

    p.setattr(Session, "expunge", expunge)


def delete_transient_ignored(p: pytest.MonkeyPatch) -> None:
    """Session.delete() of a transient object silently does nothing."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    original = Session.delete

    def delete(self, instance):  # type: ignore[no-untyped-def]
        if inspect(instance).transient:
            return None
        return original(self, instance)

    p.setattr(Session, "delete", delete)
