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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import pytest

from . import mutation_patches as patches

ENV = "SA_CONFORMANCE_MUTATION"


@dataclass(frozen=True)
class Mutation:
    name: str
    description: str
    #: claim ids that must turn red (fail or error) under this mutation
    claims: tuple[str, ...]
    #: installs the patch with the given ``pytest.MonkeyPatch`` (its ``undo()`` restores)
    apply: Callable[[pytest.MonkeyPatch], None] = field(repr=False)
    #: the backends the smoke test runs it on (``--backend`` values)
    backends: tuple[str, ...] = ("sqlite-memory",)
    #: further claims that must turn red on one backend (their tests need
    #: capabilities sqlite-memory lacks, e.g. independent_connections)
    claims_on: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: extra test modules (globs under conformance/sa_conformance/suite) to run besides the
    #: claims' family modules
    modules: tuple[str, ...] = ()
    #: set when no claim catches it yet: what test is missing
    gap: str | None = None

    def claims_for(self, backend: str) -> tuple[str, ...]:
        """The claims that must turn red on ``backend``."""
        return self.claims + tuple(self.claims_on.get(backend, ()))


MUTATIONS: dict[str, Mutation] = {
    m.name: m
    for m in (
        Mutation(
            "registry-new-session-each-call",
            "the scoped registry returns a new Session on every call",
            ("registry.same-session-in-scope", "registry.factory-called-once-per-scope",
             "proxy.methods-act-on-current-scope"),
            patches.registry_new_session_each_call,
            backends=("sqlite-memory", "mysql"),
        ),
        Mutation(
            "remove-does-not-close",
            "scoped_session.remove() forgets the Session without closing it",
            ("remove.closes-session", "remove.objects-detached"),
            patches.remove_does_not_close,
            backends=("sqlite-memory", "mysql"),
            claims_on={"mysql": ("remove.rolls-back-transaction",)},
        ),
        Mutation(
            "remove-keeps-registry",
            "scoped_session.remove() closes the Session but leaves it in the registry",
            ("remove.next-call-new-session", "reargs.allowed-after-remove", "registry.has-reflects-presence"),
            patches.remove_keeps_registry,
        ),
        Mutation(
            "kwargs-ignored-when-present",
            "scoped_session(**kw) with a Session present returns it, silently ignoring kw",
            ("reargs.present-raises",),
            patches.kwargs_ignored_when_present,
        ),
        Mutation(
            "close-keeps-connection",
            "Session.close() expunges objects but keeps its transaction and pool connection",
            ("remove.closes-session", "transactions.close-releases-connection"),
            patches.close_keeps_connection,
            # not on mysql: the open transaction's row locks make the next
            # test's DELETE wait innodb_lock_wait_timeout (50 s) per test
        ),
        Mutation(
            "rollback-keeps-pending",
            "Session.rollback() leaves pending objects in the Session",
            ("states.rollback-pending-to-transient",),
            patches.rollback_keeps_pending,
        ),
        Mutation(
            "merge-returns-source",
            "Session.merge() returns the given instance instead of the Session's own copy",
            ("states.merge-returns-other-instance",),
            patches.merge_returns_source,
        ),
        Mutation(
            "begin-nested-no-savepoint",
            "Session.begin_nested() emits no SAVEPOINT (nor ROLLBACK TO / RELEASE)",
            ("savepoint.begin-nested-emits-savepoint", "savepoint.nested-rollback-keeps-outer"),
            patches.begin_nested_no_savepoint,
            backends=("sqlite-memory", "mysql"),
        ),
        Mutation(
            "expire-on-commit-ignored",
            "Session(expire_on_commit=True) does not expire instances at commit",
            ("expire.commit-expires-all",),
            patches.expire_on_commit_ignored,
        ),
        Mutation(
            "add-attached-elsewhere-allowed",
            "Session.add() of an object attached to another Session silently moves it",
            ("cross-session.already-attached-raises", "cross-session.persistent-also-raises",
             "cross-session.other-thread-session-raises"),
            patches.add_attached_elsewhere_allowed,
        ),
        Mutation(
            "threadlocal-shared",
            "ThreadLocalRegistry shares one Session across all threads",
            ("registry.distinct-sessions-across-threads", "threads.storage-gone-with-thread"),
            patches.threadlocal_shared,
            # the threads' world walk runs too; which of its checks sees the shared Session first depends
            # on how the real threads interleave (two threads drive one Session), so only the claims
            # every interleaving breaks are required
            backends=("sqlite-memory", "mysql"),
            modules=("test_world_threads.py",),
        ),
        Mutation(
            "scopefunc-ignored",
            "scoped_session(scopefunc=...) keys every scope alike",
            ("registry.distinct-sessions-across-scopefunc-tokens", "remove.other-scope-untouched"),
            patches.scopefunc_ignored,
        ),
        Mutation(
            "get-one-returns-none",
            "Session.get_one() returns None for a missing row (as get() does)",
            ("scoped-api.get-one-missing-raises",),
            patches.get_one_returns_none,
        ),
        Mutation(
            "bulk-save-attaches",
            "bulk_save_objects() leaves the objects in the Session",
            ("scoped-api.bulk-save-objects-not-attached",),
            patches.bulk_save_attaches,
        ),
        Mutation(
            "is-active-needs-transaction",
            "Session.is_active is False outside a transaction",
            ("scoped-api.is-active-outside-transaction",),
            patches.is_active_needs_transaction,
        ),
        Mutation(
            "get-skips-identity-map",
            "Session.get() SELECTs even when the identity map holds the object",
            ("scoped-api.get-identity-map-no-sql",),
            patches.get_skips_identity_map,
        ),
        Mutation(
            "no-autoflush-noop",
            "Session.no_autoflush does not suspend autoflush",
            ("scoped-api.no-autoflush-block",),
            patches.no_autoflush_noop,
        ),
        Mutation(
            "expunge-no-cascade",
            "Session.expunge() does not cascade to related objects",
            ("scoped-api.expunge-cascades",),
            patches.expunge_no_cascade,
        ),
        Mutation(
            "delete-transient-ignored",
            "Session.delete() of a transient object raises nothing",
            ("scoped-api.delete-transient-raises",),
            patches.delete_transient_ignored,
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
