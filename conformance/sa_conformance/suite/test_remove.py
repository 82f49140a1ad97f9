"""remove(): close the current Session, discard it, start afresh next time."""

import pytest
from sqlalchemy import event, inspect, text

from sa_conformance.scoping_harness import harness, make_harness, scope_mode  # noqa: F401  (fixtures)


class CountingFactory:
    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def __call__(self, **kw):
        self.calls += 1
        return self.inner(**kw)


@pytest.mark.claim("remove.closes-session")
def test_remove_closes_session_and_returns_its_connection(scoped, db):
    """"remove() first calls Session.close() ... connections are returned to
    the connection pool." """
    session = scoped()
    closed = []
    event.listen(session, "after_transaction_end", lambda s, t: closed.append(t))
    session.execute(text("SELECT 1"))
    assert db.checked_out() == 1, "executing should hold one pooled connection"
    scoped.remove()
    assert db.checked_out() == 0, "remove() must check the connection back in"
    assert closed, "remove() must end the Session's transaction (close)"
    assert not session.in_transaction()


@pytest.mark.claim("remove.closes-session")
def test_remove_closes_the_scope_session_in_every_mode(harness):
    """remove() closes the current scope's Session: its transaction ends and its
    connection goes back to the pool, in every scope mode."""
    session = harness.call(0)
    sync = harness.sync_session(session)
    assert harness.execute_select_1(0) == 1
    assert sync.in_transaction()
    assert harness.pool_checked_out() == 1, "the Session should hold one pooled connection"
    harness.remove(0)
    assert not sync.in_transaction(), "remove() must close the Session (end its transaction)"
    assert harness.pool_checked_out() == 0, "remove() must return the connection to the pool"
    assert len(sync.identity_map) == 0


@pytest.mark.claim("remove.next-call-new-session")
def test_call_after_remove_returns_a_new_session(harness):
    """"new_session is some_session -> False" after remove()."""
    before = harness.call(0)
    harness.remove(0)
    after = harness.call(0)
    assert after is not before
    assert harness.call(0) is after
    harness.remove(0)


@pytest.mark.claim("remove.rolls-back-transaction")
@pytest.mark.requires("independent_connections")
def test_remove_rolls_back_flushed_rows(harness):
    """"transactions specifically are rolled back": a flushed, uncommitted row is
    gone after remove() -- not committed (independent connection), not left in
    an open transaction (the next Session does not see it, the connection is
    back in the pool)."""
    harness.add_user(0, "kept")
    harness.commit(0)
    harness.add_user(0, "doomed")
    harness.flush(0)
    assert harness.user_names_in_session(0) == ["doomed", "kept"], "flushed row visible in its transaction"
    assert harness.rows() == ["kept"], "flushed row must not be visible to others before remove()"
    old = harness.sync_session(harness.call(0))
    harness.remove(0)
    assert harness.rows() == ["kept"], "remove() must not commit"
    assert not old.in_transaction()
    assert harness.pool_checked_out() == 0, "remove() must release the transaction's connection"
    assert harness.user_names_in_session(0) == ["kept"], "the next Session must not see the rolled-back row"
    harness.remove(0)


@pytest.mark.claim("remove.objects-detached")
def test_remove_detaches_persistent_and_pending_objects(harness):
    """close() "expunges all ORM objects associated with this Session"."""
    persistent = harness.add_user(0, "persisted")
    harness.commit(0)
    pending = harness.add_user(0, "pending")
    assert inspect(persistent).persistent and inspect(pending).pending
    harness.remove(0)
    assert inspect(persistent).detached, "a persistent object must become detached"
    assert inspect(pending).transient, "a pending object must become transient"
    assert harness.rows() == ["persisted"]


@pytest.mark.claim("remove.noop-when-empty")
def test_remove_on_an_empty_scope_creates_nothing(make_harness):
    """"Dispose of the current Session, if present" -- absent: nothing happens."""
    probe = make_harness()
    counting = CountingFactory(probe.session_factory)
    h = make_harness(factory=counting)
    h.remove(0)
    h.remove(0)
    assert h.has(0) is False
    assert counting.calls == 0, "remove() must not create a Session to dispose of"
    s = h.call(0)
    assert counting.calls == 1
    h.remove(0)
    h.remove(0)
    assert counting.calls == 1 and h.has(0) is False
    assert h.call(0) is not s
    h.remove(0)


@pytest.mark.claim("remove.other-scope-untouched")
def test_remove_leaves_another_scope_session_alone(harness):
    """remove() disposes of "the current Session" only."""
    other = harness.call(1, info={"scope": 1})
    pending = harness.add_user(1, "pending-elsewhere")
    harness.call(0)
    assert harness.execute_select_1(0) == 1
    harness.remove(0)
    assert harness.has(0) is False
    assert harness.has(1) is True
    assert harness.call(1) is other, "another scope's Session must stay registered"
    sync = harness.sync_session(other)
    assert pending in sync.new, "another scope's Session must not be closed"
    assert inspect(pending).pending
    harness.remove(1)


@pytest.mark.claim("remove.other-scope-untouched")
@pytest.mark.requires("independent_connections")
def test_remove_leaves_another_scope_transaction_open(harness):
    """Another scope's flushed, uncommitted work survives remove() in this scope
    and commits afterwards."""
    harness.add_user(1, "survivor")
    harness.flush(1)
    other = harness.sync_session(harness.call(1))
    harness.add_user(0, "discarded")
    harness.remove(0)
    assert other.in_transaction(), "another scope's transaction must stay open"
    harness.commit(1)
    assert harness.rows() == ["survivor"]
    harness.remove(1)
