"""remove(): close the current Session, discard it, start afresh next time."""

import pytest
from sqlalchemy import text

from sa_fixtures.backends import POOLS


@pytest.mark.claim("remove.closes-session")
def test_remove_closes_session_and_returns_its_connection(scoped, db):
    """"remove() first calls Session.close() ... connections are returned to
    the connection pool." """
    session = scoped()
    closed = []
    from sqlalchemy import event

    event.listen(session, "after_transaction_end", lambda s, t: closed.append(t))
    session.execute(text("SELECT 1"))
    assert POOLS.checked_out().get(db.name) == 1, "executing should hold one pooled connection"
    scoped.remove()
    assert POOLS.checked_out().get(db.name) is None, "remove() must check the connection back in"
    assert closed, "remove() must end the Session's transaction (close)"
    assert not session.in_transaction()


@pytest.mark.claim("remove.next-call-new-session")
def test_call_after_remove_returns_a_new_session(scoped):
    """"new_session is some_session -> False" after remove()."""
    before = scoped()
    scoped.remove()
    after = scoped()
    assert after is not before
    assert scoped() is after
    scoped.remove()
