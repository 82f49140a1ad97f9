"""Thirty plausible SQLAlchemy breakages, written independently of the suite's
own ``sa_conformance/world/faults.py`` and ``sa_conformance/mutations.py``,
to measure what the property-based tests alone catch
(``scripts/property_catch_rate.py --faults scripts/property_faults_external.py``).

Self-contained (imports only pytest and SQLAlchemy), so anyone can write a
module like it: a pytest plugin that reads one fault name from the
environment variable ``ENV`` and applies that fault's monkeypatch at
``pytest_configure`` (undone at ``pytest_unconfigure``); nothing in
SQLAlchemy's files changes.  ``FAULTS`` maps name -> :class:`Fault`.

    SA_CONFORMANCE_EXTERNAL_FAULT=expire-all-skips-modified PYTHONPATH=scripts \\
        pytest -p property_faults_external -m property conformance/sa_conformance/suite
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Callable

import pytest

ENV = "SA_CONFORMANCE_EXTERNAL_FAULT"


@dataclass(frozen=True)
class Fault:
    name: str
    family: str  # the catalogue family whose documented behaviour it breaks
    claim: str  # the claim it contradicts
    description: str
    apply: Callable[[pytest.MonkeyPatch], None] = field(repr=False)


# -- async ------------------------------------------------------------------------------
def _async_reargs_ignored(p):
    """async_scoped_session(**kw) with an AsyncSession present returns it, ignoring kw."""
    from sqlalchemy.ext.asyncio import async_scoped_session
    original = async_scoped_session.__call__

    def call(self, **kw):
        if kw and self.registry.has():
            return self.registry()
        return original(self, **kw)
    p.setattr(async_scoped_session, "__call__", call)


def _async_remove_keeps_session(p):
    """await async_scoped_session.remove() closes the AsyncSession but leaves it registered."""
    from sqlalchemy.ext.asyncio import async_scoped_session

    async def remove(self):
        if self.registry.has():
            await self.registry().close()
    p.setattr(async_scoped_session, "remove", remove)


# -- cross-session ----------------------------------------------------------------------
def _attached_message_ids_swapped(p):
    """The 'already attached to session X (this is Y)' message names the two Sessions the other way round."""
    from sqlalchemy import exc
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.base import state_str
    original = Session._before_attach

    def before_attach(self, state, obj):
        try:
            return original(self, state, obj)
        except exc.InvalidRequestError as err:
            if "already attached" not in str(err):
                raise
            raise exc.InvalidRequestError(
                f"Object '{state_str(state)}' is already attached to session '{self.hash_key}' "
                f"(this is '{state.session_id}')") from None
    p.setattr(Session, "_before_attach", before_attach)


def _expunge_keeps_session_id(p):
    """Session.expunge() of a persistent object forgets it but leaves its session_id set."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session
    original = Session.expunge

    def expunge(self, instance):
        state = inspect(instance)
        was_persistent = state.persistent
        original(self, instance)
        if was_persistent:
            state.session_id = self.hash_key
    p.setattr(Session, "expunge", expunge)


# -- expire -----------------------------------------------------------------------------
def _expire_all_skips_modified(p):
    """Session.expire_all() leaves objects with pending changes alone."""
    from sqlalchemy.orm import Session

    def expire_all(self):
        for state in self.identity_map.all_states():
            if not state.modified:
                state._expire(state.dict, self.identity_map._modified)
    p.setattr(Session, "expire_all", expire_all)


def _expire_names_ignored(p):
    """Session.expire(obj, ['name']) expires every attribute, not only the named ones."""
    from sqlalchemy.orm import Session
    original = Session._expire_state

    def expire_state(self, state, attribute_names):
        return original(self, state, None)
    p.setattr(Session, "_expire_state", expire_state)


# -- legacy-api -------------------------------------------------------------------------
def _get_transaction_innermost(p):
    """Session.get_transaction() returns the innermost (SAVEPOINT) transaction, not the root."""
    from sqlalchemy.orm import Session
    p.setattr(Session, "get_transaction", lambda self: self._transaction)


def _autocommit_false_warns(p):
    """Session(autocommit=False) emits a deprecation warning."""
    import warnings

    from sqlalchemy import exc
    from sqlalchemy.orm import Session
    original = Session.__init__

    def init(self, *a, **kw):
        if "autocommit" in kw:
            warnings.warn("The Session.autocommit parameter is deprecated", exc.SADeprecationWarning, stacklevel=2)
        original(self, *a, **kw)
    p.setattr(Session, "__init__", init)


# -- proxy ------------------------------------------------------------------------------
def _proxy_attribute_setter_lost(p):
    """scoped_session.autoflush is a read-only proxy: setting it raises AttributeError."""
    from sqlalchemy.orm import scoped_session
    p.setattr(scoped_session, "autoflush", property(lambda self: self._proxied.autoflush))


def _proxy_classmethod_creates_session(p):
    """scoped_session.object_session() creates the scope's Session before answering."""
    from sqlalchemy.orm import Session, scoped_session

    def object_session(self, instance):
        self.registry()
        return Session.object_session(instance)
    p.setattr(scoped_session, "object_session", object_session)


# -- query-property ---------------------------------------------------------------------
def _query_property_ignores_configured_cls(p):
    """query_property() without query_cls makes a plain Query, not the Session's configured query class."""
    from sqlalchemy.orm import Query, scoped_session
    original = scoped_session.query_property

    def query_property(self, query_cls=None):
        return original(self, query_cls or Query)
    p.setattr(scoped_session, "query_property", query_property)


def _query_property_cached(p):
    """A query property hands back the Query it made at first access, whatever the scope."""
    from sqlalchemy.orm import scoped_session
    original = scoped_session.query_property

    def query_property(self, query_cls=None):
        inner = original(self, query_cls)
        cache: dict = {}

        class Cached:
            def __get__(self, instance, owner):
                if owner not in cache:
                    cache[owner] = inner.__get__(instance, owner)
                return cache[owner]
        return Cached()
    p.setattr(scoped_session, "query_property", query_property)


# -- reargs -----------------------------------------------------------------------------
def _reargs_any_scope_present(p):
    """scoped_session(**kw) raises 'already present' when any scope holds a Session."""
    from sqlalchemy import exc
    from sqlalchemy.orm import scoped_session
    original = scoped_session.__call__

    def call(self, **kw):
        store = getattr(self.registry, "registry", None)
        if kw and isinstance(store, dict) and store:
            raise exc.InvalidRequestError("Scoped session is already present; no new arguments may be specified.")
        return original(self, **kw)
    p.setattr(scoped_session, "__call__", call)


def _configure_silent_when_present(p):
    """scoped_session.configure() with a Session present reconfigures without the documented warning."""
    from sqlalchemy.orm import scoped_session
    p.setattr(scoped_session, "configure", lambda self, **kw: self.session_factory.configure(**kw))


# -- registry ---------------------------------------------------------------------------
def _factory_called_each_call(p):
    """ScopedRegistry calls the factory on every call (setdefault(key, createfunc()))."""
    from sqlalchemy.util import ScopedRegistry

    def call(self):
        return self.registry.setdefault(self.scopefunc(), self.createfunc())
    p.setattr(ScopedRegistry, "__call__", call)


# -- remove -----------------------------------------------------------------------------
def _remove_empty_creates(p):
    """scoped_session.remove() on an empty scope creates a Session to close it."""
    from sqlalchemy.orm import scoped_session

    def remove(self):
        self.registry().close()
        self.registry.clear()
    p.setattr(scoped_session, "remove", remove)


# -- savepoint --------------------------------------------------------------------------
def _release_savepoint_expires(p):
    """Committing a begin_nested() transaction (RELEASE SAVEPOINT) expires every object."""
    from sqlalchemy.orm.session import SessionTransaction
    original = SessionTransaction.commit

    def commit(self, _to_root=False):
        nested, session = self.nested, self.session
        out = original(self, _to_root=_to_root)
        if nested and not _to_root:
            session.expire_all()
        return out
    p.setattr(SessionTransaction, "commit", commit)


def _nested_rollback_keeps_inserted(p):
    """Rolling back a SAVEPOINT keeps objects INSERTed inside it persistent (only unflushed ones are expunged)."""
    from sqlalchemy.orm.session import SessionTransaction
    original = SessionTransaction._restore_snapshot

    def restore(self, dirty_only=False):
        if self.nested:
            inserted = dict(self._new)
            self._new.clear()
            try:
                return original(self, dirty_only)
            finally:
                for s, obj in inserted.items():
                    if s.key is not None and s.session_id == self.session.hash_key:
                        self._parent._new[s] = obj
        return original(self, dirty_only)
    p.setattr(SessionTransaction, "_restore_snapshot", restore)


# -- scoped-api -------------------------------------------------------------------------
def _rollback_without_transaction_expires(p):
    """Session.rollback() with no transaction begins one and rolls it back (expiring every object)."""
    from sqlalchemy.orm import Session

    def rollback(self):
        self._autobegin_t()
        self._transaction.rollback(_to_root=True)
    p.setattr(Session, "rollback", rollback)


def _delete_detached_raises(p):
    """Session.delete() of a detached object raises 'is not persisted' instead of attaching it."""
    from sqlalchemy import exc, inspect
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.base import state_str
    original = Session.delete

    def delete(self, instance):
        state = inspect(instance)
        if state.detached:
            raise exc.InvalidRequestError(f"Instance '{state_str(state)}' is not persisted")
        return original(self, instance)
    p.setattr(Session, "delete", delete)


def _begin_nested_flag_ignored(p):
    """Session.begin(nested=True) inside a transaction raises 'already begun' (only begin_nested() works)."""
    from sqlalchemy import exc
    from sqlalchemy.orm import Session
    original = Session.begin

    def begin(self, nested=False):
        if nested and self._transaction is not None:
            raise exc.InvalidRequestError("A transaction is already begun on this Session.")
        return original(self, nested)
    p.setattr(Session, "begin", begin)
    p.setattr(Session, "begin_nested", lambda self: original(self, nested=True))


# -- scopes -----------------------------------------------------------------------------
def _registry_keys_by_identity(p):
    """ScopedRegistry keys its dictionary on id(token): equal tokens that are different objects get different Sessions."""
    from sqlalchemy.util import ScopedRegistry

    def call(self):
        key = id(self.scopefunc())
        try:
            return self.registry[key]
        except KeyError:
            return self.registry.setdefault(key, self.createfunc())

    def has(self):
        return id(self.scopefunc()) in self.registry

    def set_(self, obj):
        self.registry[id(self.scopefunc())] = obj

    def clear(self):
        self.registry.pop(id(self.scopefunc()), None)
    for name, fn in (("__call__", call), ("has", has), ("set", set_), ("clear", clear)):
        p.setattr(ScopedRegistry, name, fn)


# -- session-basics ---------------------------------------------------------------------
def _sessionmaker_begin_no_commit(p):
    """`with sessionmaker.begin() as s:` closes the Session at the end without committing."""
    from sqlalchemy.orm import sessionmaker

    def begin(self):
        session = self()

        @contextlib.contextmanager
        def block():
            with session:
                yield session
        return block()
    p.setattr(sessionmaker, "begin", begin)


def _context_manager_only_rolls_back(p):
    """`with Session(engine) as s:` ends with rollback() instead of close(): objects stay attached."""
    from sqlalchemy.orm import Session
    p.setattr(Session, "__exit__", lambda self, *exc: self.rollback())


# -- session-transactions ---------------------------------------------------------------
def _join_default_control_fully(p):
    """The default join_transaction_mode behaves as 'control_fully' (Session.commit() commits the external transaction)."""
    from sqlalchemy.orm import Session
    original = Session.__init__

    def init(self, *a, **kw):
        kw.setdefault("join_transaction_mode", "control_fully")
        original(self, *a, **kw)
    p.setattr(Session, "__init__", init)


# -- sessionmaker -----------------------------------------------------------------------
def _call_kwargs_dont_override(p):
    """Keyword arguments to a sessionmaker call lose against the configured ones."""
    from sqlalchemy.orm import sessionmaker

    def call(self, **local_kw):
        for k, v in self.kw.items():
            if k == "info" and "info" in local_kw:
                d = dict(v)
                d.update(local_kw["info"])
                local_kw["info"] = d
            else:
                local_kw[k] = v
        return self.class_(**local_kw)
    p.setattr(sessionmaker, "__call__", call)


# -- state-management -------------------------------------------------------------------
def _dirty_cached_until_flush(p):
    """Session.dirty is computed once and cached until the next flush."""
    from sqlalchemy.orm import Session
    compute = Session.dirty.fget
    original_flush = Session._flush

    def dirty(self):
        if "_cached_dirty" not in self.__dict__:
            self.__dict__["_cached_dirty"] = compute(self)
        return self.__dict__["_cached_dirty"]

    def _flush(self, objects=None):
        self.__dict__.pop("_cached_dirty", None)
        return original_flush(self, objects)
    p.setattr(Session, "dirty", property(dirty))
    p.setattr(Session, "_flush", _flush)


# -- states -----------------------------------------------------------------------------
def _transient_to_detached_no_expire(p):
    """make_transient_to_detached() does not mark the missing attributes expired."""
    import sqlalchemy.orm
    import sqlalchemy.orm.session as session_mod
    from sqlalchemy import exc
    from sqlalchemy.orm import attributes

    def make_transient_to_detached(instance):
        state = attributes.instance_state(instance)
        if state.session_id or state.key:
            raise exc.InvalidRequestError("Given object must be transient")
        state.key = state.mapper._identity_key_from_state(state)
        if state._deleted:
            del state._deleted
        state._commit_all(state.dict)
    p.setattr(session_mod, "make_transient_to_detached", make_transient_to_detached)
    p.setattr(sqlalchemy.orm, "make_transient_to_detached", make_transient_to_detached)


# -- threads ----------------------------------------------------------------------------
_KEPT: list = []


def _threadlocal_retains_sessions(p):
    """ThreadLocalRegistry also keeps every Session it creates in a module-level list (never collected)."""
    from sqlalchemy.util import ThreadLocalRegistry
    original = ThreadLocalRegistry.__call__

    def call(self):
        had = self.has()
        value = original(self)
        if not had:
            _KEPT.append(value)
        return value
    p.setattr(ThreadLocalRegistry, "__call__", call)


# -- transactions -----------------------------------------------------------------------
def _begin_block_commits_on_error(p):
    """`with session.begin():` commits even when the block raises."""
    from sqlalchemy.orm.session import SessionTransaction
    original = SessionTransaction.__exit__

    def exit_(self, type_, value, tb):
        if type_ is not None and not self.nested and self.is_active:
            return original(self, None, None, None)
        return original(self, type_, value, tb)
    p.setattr(SessionTransaction, "__exit__", exit_)


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("async-reargs-ignored", "async", "async.kwargs-present-raises",
          "async_scoped_session(**kw) with an AsyncSession present ignores kw", _async_reargs_ignored),
    Fault("async-remove-keeps-session", "async", "async.remove-awaits-close",
          "await remove() closes the AsyncSession but leaves it registered", _async_remove_keeps_session),
    Fault("attached-message-ids-swapped", "cross-session", "cross-session.already-attached-raises",
          "'already attached' message names the Sessions the other way round", _attached_message_ids_swapped),
    Fault("expunge-keeps-session-id", "cross-session", "cross-session.add-after-expunge",
          "expunge() leaves the object's session_id set", _expunge_keeps_session_id),
    Fault("expire-all-skips-modified", "expire", "expire.expire-all",
          "expire_all() skips objects with pending changes", _expire_all_skips_modified),
    Fault("expire-names-ignored", "expire", "expire.expire-attributes",
          "expire(obj, ['name']) expires every attribute", _expire_names_ignored),
    Fault("get-transaction-innermost", "legacy-api", "legacy-api.session-transaction-removed",
          "get_transaction() returns the innermost transaction", _get_transaction_innermost),
    Fault("autocommit-false-warns", "legacy-api", "legacy-api.autocommit-false-accepted",
          "Session(autocommit=False) warns", _autocommit_false_warns),
    Fault("proxy-attribute-setter-lost", "proxy", "proxy.attributes-act-on-current-scope",
          "scoped_session.autoflush cannot be set through the proxy", _proxy_attribute_setter_lost),
    Fault("proxy-classmethod-creates-session", "proxy", "proxy.classmethods-need-no-session",
          "scoped_session.object_session() creates the scope's Session", _proxy_classmethod_creates_session),
    Fault("query-property-ignores-configured-cls", "query-property", "query-property.default-query-class",
          "query_property() without query_cls ignores sessionmaker(query_cls=...)", _query_property_ignores_configured_cls),
    Fault("query-property-cached", "query-property", "query-property.current-scope-session",
          "a query property reuses its first Query", _query_property_cached),
    Fault("reargs-any-scope-present", "reargs", "reargs.per-scope",
          "re-args rejected when any scope holds a Session", _reargs_any_scope_present),
    Fault("configure-silent-when-present", "reargs", "reargs.configure-warns-when-present",
          "scoped_session.configure() does not warn with a Session present", _configure_silent_when_present),
    Fault("factory-called-each-call", "registry", "registry.factory-called-once-per-scope",
          "ScopedRegistry calls the factory on every call", _factory_called_each_call),
    Fault("remove-empty-creates", "remove", "remove.noop-when-empty",
          "remove() on an empty scope creates a Session to close it", _remove_empty_creates),
    Fault("release-savepoint-expires", "savepoint", "savepoint.begin-nested-emits-savepoint",
          "RELEASE SAVEPOINT expires every object", _release_savepoint_expires),
    Fault("nested-rollback-keeps-inserted", "savepoint", "savepoint.nested-rollback-pending-transient",
          "ROLLBACK TO SAVEPOINT keeps objects INSERTed inside it persistent", _nested_rollback_keeps_inserted),
    Fault("rollback-without-transaction-expires", "scoped-api", "scoped-api.rollback-without-transaction",
          "rollback() with no transaction autobegins and expires everything", _rollback_without_transaction_expires),
    Fault("delete-detached-raises", "scoped-api", "scoped-api.delete-detached-marks-deleted",
          "delete() of a detached object raises 'is not persisted'", _delete_detached_raises),
    Fault("begin-nested-flag-ignored", "scoped-api", "scoped-api.begin-nested-flag",
          "begin(nested=True) inside a transaction raises 'already begun'", _begin_nested_flag_ignored),
    Fault("registry-keys-by-identity", "scopes", "scopes.request-scope-lifecycle",
          "ScopedRegistry keyed on id(token)", _registry_keys_by_identity),
    Fault("sessionmaker-begin-no-commit", "session-basics", "session-basics.sessionmaker-begin-block",
          "sessionmaker.begin() block closes without committing", _sessionmaker_begin_no_commit),
    Fault("context-manager-only-rolls-back", "session-basics", "session-basics.context-manager-closes",
          "`with Session() as s` ends with rollback(), not close()", _context_manager_only_rolls_back),
    Fault("join-default-control-fully", "session-transactions", "session-transactions.join-conditional-savepoint-default",
          "default join_transaction_mode acts as control_fully", _join_default_control_fully),
    Fault("call-kwargs-dont-override", "sessionmaker", "sessionmaker.call-kwargs-override",
          "sessionmaker call kwargs lose against configured ones", _call_kwargs_dont_override),
    Fault("dirty-cached-until-flush", "state-management", "state-management.dirty-computed-on-access",
          "Session.dirty cached until the next flush", _dirty_cached_until_flush),
    Fault("transient-to-detached-no-expire", "states", "states.make-transient-to-detached",
          "make_transient_to_detached() leaves missing attributes unexpired", _transient_to_detached_no_expire),
    Fault("threadlocal-retains-sessions", "threads", "threads.storage-gone-with-thread",
          "ThreadLocalRegistry keeps every Session alive", _threadlocal_retains_sessions),
    Fault("begin-block-commits-on-error", "transactions", "transactions.begin-context-commits",
          "`with session.begin():` commits when the block raises", _begin_block_commits_on_error),
)}

_ACTIVE: list = []


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get(ENV, "").strip()
    if not name:
        return
    if name not in FAULTS:
        raise pytest.UsageError(f"unknown external fault {name!r} (from {ENV}); choose from: {', '.join(FAULTS)}")
    patcher = pytest.MonkeyPatch()
    FAULTS[name].apply(patcher)
    _ACTIVE.append(patcher)


def pytest_report_header(config: pytest.Config) -> list:
    name = os.environ.get(ENV, "").strip()
    return [f"EXTERNAL FAULT ACTIVE: {name} ({FAULTS[name].description})"] if name in FAULTS else []


def pytest_unconfigure(config: pytest.Config) -> None:
    while _ACTIVE:
        _ACTIVE.pop().undo()
