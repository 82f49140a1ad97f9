"""Plausible SQLAlchemy breakages outside the registry/states families, to
measure what the property tests alone catch (``scripts/property_catch_rate.py``).

Like ``sa_conformance.mutations`` (same :class:`Mutation` record, patches
through ``pytest.MonkeyPatch``), but applied by this plugin only::

    SA_CONFORMANCE_PROPERTY_FAULT=reset-closes-for-good \\
        pytest -p sa_conformance.world.faults -m property conformance/sa_conformance/suite
"""

from __future__ import annotations

import contextlib
import os

import pytest

from sa_conformance.mutations import Mutation

ENV = "SA_CONFORMANCE_PROPERTY_FAULT"


def _merge_load_false_loads(p):
    from sqlalchemy.orm import Session
    original = Session.merge

    def merge(self, instance, *, load=True, **kw):
        return original(self, instance, load=True, **kw)
    p.setattr(Session, "merge", merge)


def _expire_on_commit_false_ignored(p):
    from sqlalchemy.orm import Session
    original = Session.__init__

    def init(self, *a, **kw):
        kw["expire_on_commit"] = True
        original(self, *a, **kw)
    p.setattr(Session, "__init__", init)


def _no_autoflush_flushes(p):
    from sqlalchemy.orm import Session
    p.setattr(Session, "no_autoflush", property(lambda self: contextlib.nullcontext(self)))


def _nested_rollback_rolls_back_all(p):
    from sqlalchemy.orm.session import SessionTransaction
    original = SessionTransaction.rollback

    def rollback(self, *a, **kw):
        if self.nested:
            return self.session.rollback()
        return original(self, *a, **kw)
    p.setattr(SessionTransaction, "rollback", rollback)


def _expunge_pending_stays(p):
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session
    original = Session.expunge

    def expunge(self, instance):
        if inspect(instance).pending:
            return None
        return original(self, instance)
    p.setattr(Session, "expunge", expunge)


def _remove_clears_every_scope(p):
    from sqlalchemy.orm import scoped_session
    from sqlalchemy.util import ScopedRegistry
    original = scoped_session.remove

    def remove(self):
        original(self)
        if isinstance(self.registry, ScopedRegistry):
            for s in list(self.registry.registry.values()):
                s.close()
            self.registry.registry.clear()
    p.setattr(scoped_session, "remove", remove)


def _reset_closes_for_good(p):
    from sqlalchemy.orm import Session
    p.setattr(Session, "reset", lambda self: self.close())


def _commit_releases_savepoint_only(p):
    from sqlalchemy.orm import Session
    original = Session.commit

    def commit(self):
        if self.in_nested_transaction():
            return self.get_nested_transaction().commit()
        return original(self)
    p.setattr(Session, "commit", commit)


def _refresh_only_expires(p):
    from sqlalchemy.orm import Session
    p.setattr(Session, "refresh", lambda self, instance, attribute_names=None, with_for_update=None: self.expire(instance))


def _failed_flush_auto_rollback(p):
    from sqlalchemy.orm import Session
    original = Session.flush

    def flush(self, objects=None):
        try:
            return original(self, objects)
        except Exception:
            self.rollback()
            raise
    p.setattr(Session, "flush", flush)


def _close_resets_only_ignored(p):
    from sqlalchemy.orm import Session
    original = Session.__init__

    def init(self, *a, **kw):
        kw.pop("close_resets_only", None)
        original(self, *a, **kw)
    p.setattr(Session, "__init__", init)


def _is_modified_means_dirty(p):
    from sqlalchemy.orm import Session
    p.setattr(Session, "is_modified", lambda self, instance, include_collections=True: instance in self.dirty)


def _async_remove_skips_close(p):
    from sqlalchemy.ext.asyncio import async_scoped_session

    async def remove(self):
        self.registry.clear()
    p.setattr(async_scoped_session, "remove", remove)


def _query_property_new_session(p):
    from sqlalchemy.orm import scoped_session
    original = scoped_session.query_property

    def query_property(self, query_cls=None):
        desc = original(self, query_cls)
        outer = self

        class Fresh(type(desc)):
            def __get__(self, instance, owner):
                q = desc.__get__(instance, owner)
                return q.with_session(outer.session_factory())
        fresh = Fresh.__new__(Fresh)
        fresh.__dict__.update(desc.__dict__)
        return fresh
    p.setattr(scoped_session, "query_property", query_property)


FAULTS: dict[str, Mutation] = {
    m.name: m
    for m in (
        Mutation("merge-load-false-loads", "merge(load=False) of a loaded object SELECTs like load=True",
                 ("scoped-api.merge-load-false",), _merge_load_false_loads),
        Mutation("expire-on-commit-false-ignored", "Session(expire_on_commit=False) still expires at commit",
                 ("expire.expire-on-commit-false",), _expire_on_commit_false_ignored),
        Mutation("no-autoflush-flushes", "`with session.no_autoflush:` does not suspend autoflush",
                 ("scoped-api.no-autoflush-block",), _no_autoflush_flushes),
        Mutation("nested-rollback-rolls-back-all", "rolling back a begin_nested() rolls back the whole transaction",
                 ("savepoint.nested-rollback-keeps-outer",), _nested_rollback_rolls_back_all),
        Mutation("expunge-pending-stays", "Session.expunge() of a pending object leaves it pending",
                 ("states.expunge-detaches",), _expunge_pending_stays),
        Mutation("remove-clears-every-scope", "scoped_session.remove() also closes and forgets the other scopes' Sessions",
                 ("remove.other-scope-untouched",), _remove_clears_every_scope),
        Mutation("reset-closes-for-good",
                 "Session.reset() behaves as close() (closing a close_resets_only=False Session for good)",
                 ("transactions.reset-keeps-usable",), _reset_closes_for_good),
        Mutation("commit-releases-savepoint-only", "Session.commit() with a SAVEPOINT open only releases it (1.x behaviour)",
                 ("savepoint.session-commit-commits-outermost",), _commit_releases_savepoint_only),
        Mutation("refresh-only-expires", "Session.refresh() expires without the immediate SELECT",
                 ("expire.refresh-immediate-select",), _refresh_only_expires),
        Mutation("failed-flush-auto-rollback", "a failed flush rolls back by itself (no PendingRollbackError)",
                 ("transactions.pending-rollback-after-failed-flush",), _failed_flush_auto_rollback),
        Mutation("close-resets-only-ignored", "Session(close_resets_only=False) is ignored: close() only resets",
                 ("transactions.close-resets-only-false",), _close_resets_only_ignored),
        Mutation("is-modified-means-dirty", "is_modified() answers 'in session.dirty' (no net-change check)",
                 ("scoped-api.is-modified-net-change",), _is_modified_means_dirty),
        Mutation("async-remove-skips-close", "await async_scoped_session.remove() forgets the AsyncSession without closing it",
                 ("async.remove-awaits-close",), _async_remove_skips_close),
        Mutation("query-property-new-session", "query_property() binds each Query to a new Session, not the scope's",
                 ("query-property.current-scope-session",), _query_property_new_session),
    )
}

_ACTIVE: list[pytest.MonkeyPatch] = []


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get(ENV, "").strip()
    if not name:
        return
    if name not in FAULTS:
        raise pytest.UsageError(f"unknown property fault {name!r} (from {ENV}); choose from: {', '.join(FAULTS)}")
    patcher = pytest.MonkeyPatch()
    FAULTS[name].apply(patcher)
    _ACTIVE.append(patcher)


def pytest_report_header(config: pytest.Config) -> list[str]:
    name = os.environ.get(ENV, "").strip()
    return [f"PROPERTY FAULT ACTIVE: {name} ({FAULTS[name].description})"] if name in FAULTS else []


def pytest_unconfigure(config: pytest.Config) -> None:
    while _ACTIVE:
        _ACTIVE.pop().undo()
