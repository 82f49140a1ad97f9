"""Transactions and connection management ("Transactions and Connection
Management", "Session Basics"; seed 003's Q&A)."""

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sa_conformance.orm_models import User
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


# -- behaviour changes at exact releases ------------------------------------------
@pytest.mark.claim("transactions.commit-in-begin-block-closes")
def test_commit_inside_begin_block_then_exit_raises(session_factory, db):
    """Session.commit() inside a `with session.begin():` block commits, and
    leaving the block then raises ResourceClosedError 'This transaction is
    closed'."""
    s = session_factory()
    try:
        with pytest.raises(sqlalchemy.exc.ResourceClosedError, match=r"^This transaction is closed$"):
            with s.begin():
                s.add(User(name="c"))
                s.commit()
        assert db.rows("users", "name") == [("c",)]
    finally:
        s.close()


@pytest.mark.claim("transactions.commit-in-begin-block-allowed")
def test_commit_inside_begin_block_is_allowed(session_factory, db):
    """Session.commit() inside a `with session.begin():` block commits the
    transaction and the block exits without error."""
    s = session_factory()
    try:
        with s.begin():
            s.add(User(name="c"))
            s.commit()
            assert not s.in_transaction()
        assert db.rows("users", "name") == [("c",)]
        assert not s.in_transaction() and checked_out(db) == 0
    finally:
        s.close()


def _pending_then_where_only_select(s):
    from sqlalchemy import literal

    s.add(User(id=6, name="p"))
    return s.execute(select(literal(1)).where(User.id == 6)).scalar()


@pytest.mark.claim("transactions.non-orm-columns-no-autoflush")
def test_where_only_orm_select_does_not_autoflush(session_factory, db):
    """A select() that returns no ORM entity or attribute but names one in its
    WHERE clause (select(literal(1)).where(User.id == 6)) is not an ORM
    statement: Session.execute() does not autoflush pending objects first."""
    with session_factory() as s:
        assert _pending_then_where_only_select(s) is None
        (u,) = list(s.new)
        assert flags(u) == {"pending"}


@pytest.mark.claim("transactions.orm-element-anywhere-autoflush")
def test_where_only_orm_select_autoflushes(session_factory, db):
    """A select() that names an ORM attribute anywhere, e.g. only in its WHERE
    clause (select(literal(1)).where(User.id == 6)), is an ORM statement:
    Session.execute() autoflushes pending objects first and sees them."""
    with session_factory() as s:
        assert _pending_then_where_only_select(s) == 1
        assert not s.new
        assert flags(s.get(User, 6)) == {"persistent"}


def _closed_yield_per_result(session_factory):
    with session_factory() as s:
        s.add(User(name="q"))
        s.commit()
    s = session_factory()
    result = s.execute(select(User).execution_options(yield_per=1))
    s.close()
    return result


@pytest.mark.claim("transactions.result-after-close-iterates")
def test_unbuffered_result_iterates_after_close(session_factory, db):
    """An un-buffered ORM result (yield_per) iterated after its Session was
    closed still yields the objects."""
    rows = list(_closed_yield_per_result(session_factory))
    assert [r[0].name for r in rows] == ["q"]


@pytest.mark.claim("transactions.result-after-close-raises")
@pytest.mark.requires("close_with_open_unbuffered_result")
def test_unbuffered_result_after_close_raises(session_factory, db):
    """Iterating an un-buffered ORM result (yield_per) after its Session was
    closed raises InvalidRequestError "Object <User at 0x…> cannot be converted
    to 'persistent' state, as this identity map is no longer valid.  Has the
    owning Session been closed?\""""
    result = _closed_yield_per_result(session_factory)
    with pytest.raises(sqlalchemy.exc.InvalidRequestError) as info:
        list(result)
    assert str(info.value).startswith(
        "Object <User at 0x") and ("> cannot be converted to 'persistent' state, as this identity map is no longer "
                                   "valid.  Has the owning Session been closed?") in str(info.value)


@pytest.mark.claim("transactions.autobegin-false-requires-begin")
def test_autobegin_false_requires_explicit_begin(session_factory, db):
    """With Session(autobegin=False), an operation that would autobegin
    (Session.add()) raises InvalidRequestError 'Autobegin is disabled on this
    Session; please call session.begin() to start a new transaction'; after
    begin() it works."""
    with session_factory(autobegin=False) as s:
        u = User(name="a")
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=(
                r"^Autobegin is disabled on this Session; please call session.begin\(\) to start a new transaction$")):
            s.add(u)
        assert flags(u) == {"transient"} and not s.in_transaction() and checked_out(db) == 0
        with s.begin():
            s.add(u)
        assert db.rows("users", "name") == [("a",)]
