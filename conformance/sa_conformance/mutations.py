"""Mutation smoke: deliberate, plausible regressions of SQLAlchemy's session
behaviour, to prove the suite notices them.

Each :class:`Mutation` monkeypatches SQLAlchemy the way a real bug would
change it, and names the claim ids whose tests must turn red.  A mutation is
applied only inside a pytest process that loads this module as a plugin
*and* names it in the environment::

    SA_CONFORMANCE_MUTATION=remove-does-not-close \\
        pytest -p sa_conformance.mutations --backend sqlite-memory conformance/sa_conformance/suite/test_remove.py

``conformance/selftests/test_mutation_smoke.py`` does exactly that, one
subprocess per mutation, and asserts the named claims failed.  Loading the
plugin without the variable changes nothing; importing this module (e.g. to
read :data:`MUTATIONS`) never patches anything.  The patches are undone at
``pytest_unconfigure``.

A mutation whose ``gap`` is set is one the suite does not catch yet: the
smoke test reports it as an expected failure naming the missing test, and
turns into a hard failure (strict xfail) once some test starts catching it,
so the entry gets its ``claims`` then.
"""

from __future__ import annotations

import os
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

ENV = "SA_CONFORMANCE_MUTATION"


@dataclass(frozen=True)
class Mutation:
    name: str
    description: str
    #: claim ids that must turn red (fail or error) under this mutation
    claims: tuple[str, ...]
    #: installs the patch with the given ``pytest.MonkeyPatch`` (its ``undo()`` restores)
    apply: Callable[[pytest.MonkeyPatch], None] = field(repr=False)
    #: also run against the MySQL-family backend in the smoke test
    mysql: bool = False
    #: further claims that must turn red on the MySQL-family backend (their
    #: tests need capabilities sqlite-memory lacks, e.g. independent_connections)
    mysql_claims: tuple[str, ...] = ()
    #: extra test modules (globs under conformance/sa_conformance/suite) to run besides the
    #: claims' family modules
    modules: tuple[str, ...] = ()
    #: set when no claim catches it yet: what test is missing
    gap: str | None = None


# -- the regressions ----------------------------------------------------------------
def _registry_new_session_each_call(p: pytest.MonkeyPatch) -> None:
    """ScopedRegistry/ThreadLocalRegistry create (and store) a new Session on
    every call instead of returning the one already in the scope."""
    from sqlalchemy.util import ScopedRegistry, ThreadLocalRegistry

    def call(self):  # type: ignore[no-untyped-def]
        value = self.createfunc()
        self.set(value)
        return value

    p.setattr(ScopedRegistry, "__call__", call)
    p.setattr(ThreadLocalRegistry, "__call__", call)


def _remove_does_not_close(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import scoped_session

    def remove(self):  # type: ignore[no-untyped-def]
        self.registry.clear()  # forgets the Session without closing it

    p.setattr(scoped_session, "remove", remove)


def _remove_keeps_registry(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import scoped_session

    def remove(self):  # type: ignore[no-untyped-def]
        if self.registry.has():
            self.registry().close()  # closed, but still the scope's Session

    p.setattr(scoped_session, "remove", remove)


def _kwargs_ignored_when_present(p: pytest.MonkeyPatch) -> None:
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


def _close_keeps_connection(p: pytest.MonkeyPatch) -> None:
    """Session.close() (and therefore remove()) expunges the objects but
    leaves the transaction open, holding its pool connection."""
    from sqlalchemy.orm import Session

    def _close_impl(self, *args, **kw):  # type: ignore[no-untyped-def]
        self.expunge_all()

    p.setattr(Session, "_close_impl", _close_impl)


def _rollback_keeps_pending(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    original = Session.rollback

    def rollback(self):  # type: ignore[no-untyped-def]
        pending = list(self.new)
        original(self)
        for obj in pending:  # what rollback should have expunged comes back
            self.add(obj)

    p.setattr(Session, "rollback", rollback)


def _merge_returns_source(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    original = Session.merge

    def merge(self, instance, *args, **kw):  # type: ignore[no-untyped-def]
        original(self, instance, *args, **kw)
        return instance  # the given object instead of the Session's copy

    p.setattr(Session, "merge", merge)


def _begin_nested_no_savepoint(p: pytest.MonkeyPatch) -> None:
    """begin_nested() bookkeeping happens, but no SAVEPOINT / ROLLBACK TO /
    RELEASE reaches the database."""
    from sqlalchemy.engine.default import DefaultDialect

    def noop(self, connection, name):  # type: ignore[no-untyped-def]
        return None

    for meth in ("do_savepoint", "do_rollback_to_savepoint", "do_release_savepoint"):
        p.setattr(DefaultDialect, meth, noop)


def _expire_on_commit_ignored(p: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    original = Session.__init__

    def __init__(self, *args, **kw):  # type: ignore[no-untyped-def]
        original(self, *args, **kw)
        self.expire_on_commit = False

    p.setattr(Session, "__init__", __init__)


def _add_attached_elsewhere_allowed(p: pytest.MonkeyPatch) -> None:
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


def _threadlocal_shared(p: pytest.MonkeyPatch) -> None:
    """ThreadLocalRegistry keeps one value for all threads (a plain object
    where a threading.local belongs)."""
    from sqlalchemy.util import ThreadLocalRegistry

    original = ThreadLocalRegistry.__init__

    def __init__(self, createfunc):  # type: ignore[no-untyped-def]
        original(self, createfunc)
        self.registry = types.SimpleNamespace()

    p.setattr(ThreadLocalRegistry, "__init__", __init__)


def _scopefunc_ignored(p: pytest.MonkeyPatch) -> None:
    """ScopedRegistry keys every scope alike: scopefunc is never consulted."""
    from sqlalchemy.util import ScopedRegistry

    original = ScopedRegistry.__init__

    def __init__(self, createfunc, scopefunc):  # type: ignore[no-untyped-def]
        original(self, createfunc, lambda: "one-scope")

    p.setattr(ScopedRegistry, "__init__", __init__)


# -- seed 002 members that used to be checked for presence only (H12) ----------------
def _get_one_returns_none(p: pytest.MonkeyPatch) -> None:
    """Session.get_one() behaves as get(): None instead of NoResultFound."""
    from sqlalchemy.orm import Session

    p.setattr(Session, "get_one", lambda self, entity, ident, **kw: self.get(entity, ident, **kw))


def _bulk_save_attaches(p: pytest.MonkeyPatch) -> None:
    """bulk_save_objects() implemented as add_all() + flush(): the objects end up in the Session."""
    from sqlalchemy.orm import Session

    def bulk_save_objects(self, objects, *args, **kw):  # type: ignore[no-untyped-def]
        for obj in objects:
            self.merge(obj, load=False) if getattr(obj, "_sa_instance_state").key else self.add(obj)
        self.flush()

    p.setattr(Session, "bulk_save_objects", bulk_save_objects)


def _is_active_needs_transaction(p: pytest.MonkeyPatch) -> None:
    """Session.is_active False whenever no transaction is in progress (what the reference's
    'Changed in version 1.4' sentence claims)."""
    from sqlalchemy.orm import Session

    original = Session.is_active
    p.setattr(Session, "is_active", property(lambda self: self.in_transaction() and original.fget(self)))


def _get_skips_identity_map(p: pytest.MonkeyPatch) -> None:
    """Session.get() always SELECTs (populate_existing forced)."""
    from sqlalchemy.orm import Session

    original = Session.get

    def get(self, entity, ident, **kw):  # type: ignore[no-untyped-def]
        kw["populate_existing"] = True
        return original(self, entity, ident, **kw)

    p.setattr(Session, "get", get)


def _no_autoflush_noop(p: pytest.MonkeyPatch) -> None:
    """Session.no_autoflush returns a context manager that leaves autoflush on."""
    import contextlib

    from sqlalchemy.orm import Session

    p.setattr(Session, "no_autoflush", property(lambda self: contextlib.nullcontext(self)))


def _expunge_no_cascade(p: pytest.MonkeyPatch) -> None:
    """Session.expunge() removes only the given object (no 'expunge' cascade)."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    def expunge(self, instance):  # type: ignore[no-untyped-def]
        self._expunge_states([inspect(instance)])

    p.setattr(Session, "expunge", expunge)


def _delete_transient_ignored(p: pytest.MonkeyPatch) -> None:
    """Session.delete() of a transient object silently does nothing."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    original = Session.delete

    def delete(self, instance):  # type: ignore[no-untyped-def]
        if inspect(instance).transient:
            return None
        return original(self, instance)

    p.setattr(Session, "delete", delete)


MUTATIONS: dict[str, Mutation] = {
    m.name: m
    for m in (
        Mutation(
            "registry-new-session-each-call",
            "the scoped registry returns a new Session on every call",
            ("registry.same-session-in-scope", "registry.factory-called-once-per-scope",
             "proxy.methods-act-on-current-scope"),
            _registry_new_session_each_call,
            mysql=True,
        ),
        Mutation(
            "remove-does-not-close",
            "scoped_session.remove() forgets the Session without closing it",
            ("remove.closes-session", "remove.objects-detached"),
            _remove_does_not_close,
            mysql=True,
            mysql_claims=("remove.rolls-back-transaction",),
        ),
        Mutation(
            "remove-keeps-registry",
            "scoped_session.remove() closes the Session but leaves it in the registry",
            ("remove.next-call-new-session", "reargs.allowed-after-remove", "registry.has-reflects-presence"),
            _remove_keeps_registry,
        ),
        Mutation(
            "kwargs-ignored-when-present",
            "scoped_session(**kw) with a Session present returns it, silently ignoring kw",
            ("reargs.present-raises",),
            _kwargs_ignored_when_present,
        ),
        Mutation(
            "close-keeps-connection",
            "Session.close() expunges objects but keeps its transaction and pool connection",
            ("remove.closes-session", "transactions.close-releases-connection"),
            _close_keeps_connection,
            # not on mysql: the open transaction's row locks make the next
            # test's DELETE wait innodb_lock_wait_timeout (50 s) per test
        ),
        Mutation(
            "rollback-keeps-pending",
            "Session.rollback() leaves pending objects in the Session",
            ("states.rollback-pending-to-transient",),
            _rollback_keeps_pending,
        ),
        Mutation(
            "merge-returns-source",
            "Session.merge() returns the given instance instead of the Session's own copy",
            ("states.merge-returns-other-instance",),
            _merge_returns_source,
        ),
        Mutation(
            "begin-nested-no-savepoint",
            "Session.begin_nested() emits no SAVEPOINT (nor ROLLBACK TO / RELEASE)",
            ("savepoint.begin-nested-emits-savepoint", "savepoint.nested-rollback-keeps-outer"),
            _begin_nested_no_savepoint,
            mysql=True,
        ),
        Mutation(
            "expire-on-commit-ignored",
            "Session(expire_on_commit=True) does not expire instances at commit",
            ("expire.commit-expires-all",),
            _expire_on_commit_ignored,
        ),
        Mutation(
            "add-attached-elsewhere-allowed",
            "Session.add() of an object attached to another Session silently moves it",
            ("cross-session.already-attached-raises", "cross-session.persistent-also-raises",
             "cross-session.other-thread-session-raises"),
            _add_attached_elsewhere_allowed,
        ),
        Mutation(
            "threadlocal-shared",
            "ThreadLocalRegistry shares one Session across all threads",
            ("registry.distinct-sessions-across-threads", "threads.registry-is-a-scope-map",
             "threads.storage-gone-with-thread"),
            _threadlocal_shared,
        ),
        Mutation(
            "scopefunc-ignored",
            "scoped_session(scopefunc=...) keys every scope alike",
            ("registry.distinct-sessions-across-scopefunc-tokens", "remove.other-scope-untouched"),
            _scopefunc_ignored,
        ),
        Mutation(
            "get-one-returns-none",
            "Session.get_one() returns None for a missing row (as get() does)",
            ("scoped-api.get-one-missing-raises",),
            _get_one_returns_none,
        ),
        Mutation(
            "bulk-save-attaches",
            "bulk_save_objects() leaves the objects in the Session",
            ("scoped-api.bulk-save-objects-not-attached",),
            _bulk_save_attaches,
        ),
        Mutation(
            "is-active-needs-transaction",
            "Session.is_active is False outside a transaction",
            ("scoped-api.is-active-outside-transaction",),
            _is_active_needs_transaction,
        ),
        Mutation(
            "get-skips-identity-map",
            "Session.get() SELECTs even when the identity map holds the object",
            ("scoped-api.get-identity-map-no-sql",),
            _get_skips_identity_map,
        ),
        Mutation(
            "no-autoflush-noop",
            "Session.no_autoflush does not suspend autoflush",
            ("scoped-api.no-autoflush-block",),
            _no_autoflush_noop,
        ),
        Mutation(
            "expunge-no-cascade",
            "Session.expunge() does not cascade to related objects",
            ("scoped-api.expunge-cascades",),
            _expunge_no_cascade,
        ),
        Mutation(
            "delete-transient-ignored",
            "Session.delete() of a transient object raises nothing",
            ("scoped-api.delete-transient-raises",),
            _delete_transient_ignored,
        ),
    )
}

_ACTIVE: list[pytest.MonkeyPatch] = []
_LOCK = threading.Lock()


def apply(name: str) -> pytest.MonkeyPatch:
    """Install mutation ``name`` in this process; returns the patcher (call
    ``undo()`` to restore)."""
    try:
        mutation = MUTATIONS[name]
    except KeyError:
        raise ValueError(f"unknown mutation {name!r} (from {ENV}); choose from: {', '.join(MUTATIONS)}") from None
    patcher = pytest.MonkeyPatch()
    mutation.apply(patcher)
    return patcher


# -- pytest plugin (only with -p sa_conformance.mutations) ------------------------------
def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get(ENV, "").strip()
    if not name:
        return
    try:
        patcher = apply(name)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    with _LOCK:
        _ACTIVE.append(patcher)


def pytest_report_header(config: pytest.Config) -> list[str]:
    name = os.environ.get(ENV, "").strip()
    return [f"MUTATION ACTIVE: {name} ({MUTATIONS[name].description})"] if name in MUTATIONS else []


def pytest_unconfigure(config: pytest.Config) -> None:
    with _LOCK:
        while _ACTIVE:
            _ACTIVE.pop().undo()
