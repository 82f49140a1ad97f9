"""Transactions and connection management ("Transactions and Connection
Management", "Session Basics"; seed 003's Q&A)."""

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sa_conformance.models import User
from sa_conformance.state_helpers import checked_out
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql


@pytest.mark.claim("transactions.autobegin-no-connection")
def test_autobegin_checks_out_no_connection_until_sql(session_factory, db):
    """New Session: no transaction, no connection; add() autobegins without a
    connection; the flush checks one out."""
    with session_factory() as s:
        assert not s.in_transaction() and checked_out(db) == 0
        s.add(User(name="a"))
        assert s.in_transaction() and checked_out(db) == 0
        s.flush()
        assert checked_out(db) == 1
    assert checked_out(db) == 0


@pytest.mark.claim("transactions.no-connection-after-commit")
@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_commit_or_rollback_releases_connection_until_next_sql(session_factory, db, end):
    """After commit()/rollback() no connection is held until SQL is emitted again."""
    with session_factory() as s:
        s.add(User(name="a"))
        s.flush()
        assert checked_out(db) == 1
        getattr(s, end)()
        assert not s.in_transaction() and checked_out(db) == 0
        s.execute(select(func.count(User.id))).scalar()
        assert s.in_transaction() and checked_out(db) == 1
    assert checked_out(db) == 0


@pytest.mark.claim("transactions.commit-persists")
def test_commit_makes_rows_visible_elsewhere(session_factory, db):
    """commit() flushes and commits: an independent connection sees the rows."""
    with session_factory() as s:
        s.add_all([User(name="a"), User(name="b")])
        s.commit()
    assert db.rows("users", "name") == [("a",), ("b",)]


@pytest.mark.claim("transactions.flush-not-committed")
@pytest.mark.requires("independent_connections")
def test_flushed_row_invisible_to_independent_connection_until_commit(session_factory, db):
    """flush() emits the INSERT in the transaction; only commit() publishes it."""
    with session_factory() as s, capture_sql(db.engine) as sql:
        s.add(User(name="a"))
        s.flush()
        assert any(q.lstrip().upper().startswith("INSERT") for q in sql)
        assert db.rows("users") == []
        s.commit()
        assert db.rows("users", "name") == [("a",)]


@pytest.mark.claim("transactions.rollback-discards")
def test_rollback_discards_flushed_changes(session_factory, db):
    """Flushed INSERT/UPDATE/DELETE are undone by rollback()."""
    with session_factory() as s:
        s.add(User(name="keep"))
        s.commit()
        keep = s.query(User).one()
        keep.name = "changed"
        s.add(User(name="new"))
        s.flush()
        s.rollback()
        assert keep.name == "keep"
    assert db.rows("users", "name") == [("keep",)]


@pytest.mark.claim("transactions.close-releases-connection")
def test_close_rolls_back_releases_and_stays_usable(session_factory, db):
    """close(): transaction rolled back, connection returned, Session reusable."""
    s = session_factory()
    s.add(User(name="gone"))
    s.flush()
    assert checked_out(db) == 1
    s.close()
    assert checked_out(db) == 0 and not s.in_transaction()
    assert db.rows("users") == []
    s.add(User(name="again"))
    s.commit()
    s.close()
    assert db.rows("users", "name") == [("again",)]


@pytest.mark.claim("transactions.close-resets-only-false")
def test_close_with_close_resets_only_false_is_final(engine, db):
    """close_resets_only=False: any use after close() raises 'permanently closed'."""
    s = Session(bind=engine, close_resets_only=False)
    s.execute(text("SELECT 1"))
    s.close()
    assert checked_out(db) == 0
    msg = "This Session has been permanently closed and is unable to handle any more transaction requests"
    with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=msg):
        s.execute(text("SELECT 1"))
    with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=msg):
        s.add(User(name="x"))
    assert checked_out(db) == 0


@pytest.mark.claim("transactions.reset-keeps-usable")
def test_reset_ends_transaction_and_keeps_session_usable(engine, db):
    """reset(): connection released, objects expunged, the Session still usable."""
    s = Session(bind=engine, close_resets_only=False)
    u = User(name="r")
    s.add(u)
    s.flush()
    assert checked_out(db) == 1
    s.reset()
    assert checked_out(db) == 0 and not s.in_transaction()
    assert flags(u) == {"detached"} and len(s.identity_map) == 0
    assert s.execute(select(func.count(User.id))).scalar() == 0
    s.close()


@pytest.mark.claim("transactions.begin-already-raises")
@pytest.mark.parametrize("how", ["explicit", "autobegin"])
def test_begin_inside_transaction_raises(session_factory, db, how):
    """begin() in a begun transaction raises 'A transaction is already begun'."""
    with session_factory() as s:
        if how == "explicit":
            s.begin()
        else:
            s.execute(text("SELECT 1"))
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=r"A transaction is already begun on this Session\."):
            s.begin()


@pytest.mark.claim("transactions.begin-context-commits")
def test_begin_context_commits_or_rolls_back(session_factory, db):
    """with session.begin(): commit on exit; rollback on exception."""
    with session_factory() as s:
        with s.begin():
            s.add(User(name="ok"))
        assert not s.in_transaction()
        with pytest.raises(ZeroDivisionError):
            with s.begin():
                s.add(User(name="bad"))
                s.flush()
                1 / 0
        assert not s.in_transaction()
    assert db.rows("users", "name") == [("ok",)]


@pytest.mark.claim("transactions.core-statement-no-autoflush")
def test_core_text_statement_does_not_autoflush(session_factory, db):
    """Session.execute(text(...)) leaves pending objects unflushed (before 2.1)."""
    with session_factory() as s:
        u = User(name="p")
        s.add(u)
        assert s.execute(text("SELECT count(*) FROM users")).scalar() == 0
        assert u in s.new and flags(u) == {"pending"}


@pytest.mark.claim("transactions.core-statement-autoflush")
def test_core_text_statement_autoflushes(session_factory, db):
    """Session.execute(text(...)) autoflushes pending objects (2.1, #9809)."""
    with session_factory() as s:
        u = User(name="p")
        s.add(u)
        assert s.execute(text("SELECT count(*) FROM users")).scalar() == 1
        assert u not in s.new and flags(u) == {"persistent"}


@pytest.mark.claim("transactions.orm-query-autoflush")
@pytest.mark.parametrize("autoflush", [True, False])
def test_orm_query_autoflush_setting(session_factory, db, autoflush):
    """An ORM query flushes pending objects first iff autoflush is on."""
    with session_factory(autoflush=autoflush) as s:
        s.add(User(name="p"))
        found = s.query(User).filter(User.name == "p").all()
        assert len(found) == (1 if autoflush else 0)
