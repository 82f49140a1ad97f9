"""Property: the whole session world -- several Sessions from two
sessionmakers and a scoped_session in two scopes, objects moving among them,
transactions and SAVEPOINTs, expiry and autoflush, the identity map's weak
references, the documented errors and the rows an independent connection
sees -- behaves as the reference model in ``sa_conformance.world`` says,
after every step of random walks, on every backend."""

from __future__ import annotations

import pytest
from hypothesis.stateful import run_state_machine_as_test
from sa_conformance.world.machine import budget
from sa_conformance.world.scope_rules import ScopeRules

#: every claim a world step checks (the rules name which one per step)
WORLD_CLAIMS = (
    "states.five-states", "states.add-detached-persistent", "states.pending-to-persistent-on-flush",
    "states.detached-after-delete-commit", "states.rollback-pending-to-transient", "states.close-detaches",
    "states.delete-then-flush-deleted", "states.expunge-detaches", "states.expunge-all", "states.make-transient",
    "states.make-transient-to-detached", "states.merge-returns-other-instance", "states.update-attribute-commit",
    "states.weak-identity-map", "states.dirty-strongly-referenced",
    "cross-session.already-attached-raises", "cross-session.persistent-also-raises", "cross-session.add-after-expunge",
    "transactions.commit-persists", "transactions.rollback-discards", "transactions.begin-already-raises",
    "transactions.close-releases-connection", "transactions.close-resets-only-false", "transactions.reset-keeps-usable",
    "transactions.orm-query-autoflush", "transactions.autobegin-no-connection",
    "transactions.pending-rollback-after-failed-flush",
    "savepoint.begin-nested-emits-savepoint", "savepoint.nested-rollback-keeps-outer",
    "savepoint.nested-rollback-pending-transient", "savepoint.session-commit-commits-outermost",
    "savepoint.session-rollback-rolls-back-outermost",
    "expire.commit-expires-all", "expire.expire-on-commit-false", "expire.rollback-expires",
    "expire.expire-attributes", "expire.expire-all", "expire.refresh-immediate-select", "expire.reload-new-state",
    "expire.detached-expired-raises",
    "sessionmaker.factory-new-session-each-call", "sessionmaker.kwargs-become-session-settings",
    "registry.same-session-in-scope", "registry.distinct-sessions-across-scopefunc-tokens",
    "registry.has-reflects-presence",
    "proxy.creates-session-when-absent", "proxy.methods-act-on-current-scope",
    "reargs.present-raises", "reargs.first-call-kwargs-reach-factory", "reargs.allowed-after-remove", "reargs.per-scope",
    "remove.closes-session", "remove.next-call-new-session", "remove.rolls-back-transaction",
    "remove.objects-detached", "remove.noop-when-empty",
    "scoped-api.add-lifecycle", "scoped-api.add-attached-elsewhere-raises", "scoped-api.add-all-each-pending",
    "scoped-api.dirty-optimistic", "scoped-api.is-modified-net-change", "scoped-api.merge-load-false",
    "scoped-api.no-autoflush-block",
    "session-basics.autobegin-on-attribute-change", "session-basics.flush-unconditional-points",
    "session-basics.rollback-expires-despite-expire-on-commit", "session-basics.autoflush-points",
    "session-basics.session-of-an-object",
    "state-management.session-contains-and-iterates", "state-management.expire-discards-unflushed-changes",
    "state-management.expire-dict-emptied", "state-management.merge-source-reusable",
    "legacy-api.session-transaction-removed", "proxy.attributes-act-on-current-scope",
    "proxy.classmethods-need-no-session", "reargs.configure-silent-when-empty", "reargs.configure-warns-when-present",
    "reargs.configure-affects-next-session-only", "registry.factory-called-once-per-scope",
    "scoped-api.begin-nested-context-manager", "scoped-api.begin-nested-flag", "scoped-api.begin-returns-transaction",
    "scoped-api.delete-detached-marks-deleted", "scoped-api.identity-key-alias", "scoped-api.refresh-attribute-names",
    "scoped-api.rollback-without-transaction", "session-basics.context-manager-closes",
    "session-basics.sessionmaker-begin-block", "sessionmaker.call-kwargs-override", "transactions.begin-context-commits",
)


@pytest.mark.property
# before 2.0.22 there is no reset() / close_resets_only: the walk draws neither, and still runs
@pytest.mark.claim(*WORLD_CLAIMS, gated=("transactions.close-resets-only-false", "transactions.reset-keeps-usable"))
def test_session_world_matches_reference_model(db):
    """Any walk of add/add_all/flush/commit/rollback (also without a
    transaction)/begin/begin_nested (or begin(nested=True))/release/
    rollback-to-savepoint/`with begin()`/`with begin_nested()`/`with
    sessionmaker.begin()`/`with sessionmaker()`/close/reset/remove/re-args/
    configure()/proxy attributes and classmethods/sessionmaker calls with
    arguments/delete (also of detached objects)/expunge/make_transient
    (_to_detached)/merge(load=True|False)/expire and refresh (of all or named
    attributes)/expire_all/lazy load/attribute set/query (with and without
    no_autoflush)/dropping references leaves every object, Session, registry
    scope, factory call count, UPDATE/DELETE count, pool check-out and
    committed row as the documentation describes."""
    machine = type("SessionWorld", (ScopeRules,), {"backend": db})
    run_state_machine_as_test(machine, settings=budget(50, 30))
