"""Transactions and Connection Management: behaviour changes at exact releases
(#9015 join modes, #7433 state-change guard, #11163, #11297, #13744/#13745,
#13485).  Each side of a change is its own claim and test."""

import warnings

import pytest
import sqlalchemy.exc
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from sa_conformance.messages import exact, starts
from sa_conformance.orm_models import User

USERS = User.__table__
CLOSED_IN_CM = "Can't operate on closed transaction inside context manager."
COMPLETE_CM = "Please complete the context manager before emitting further commands."
ALREADY_ESTABLISHED = "Connection is already established for the given bind; execution_options ignored"
ISOLATION_IN_TX = ("This connection has already initialized a SQLAlchemy Transaction() object via begin() or "
                   "autobegin; isolation_level may not be altered unless rollback() or commit() is called first.")
JOINED_WARNING = ("The engine provided as bind produced a connection that is already in a transaction. This is "
                  "usually caused by a core event, such as 'engine_connect', that has left a transaction open. The "
                  "effective join transaction mode used by this session is 'rollback_only'.")


def _count(conn):
    return conn.execute(select(func.count()).select_from(USERS)).scalar()


def _recorded(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught]


# -- #9015: a Session joined to a Connection that has a SAVEPOINT -----------------------
def _join_savepoint(engine, end):
    """Session(bind=conn) on a Connection with a transaction and a SAVEPOINT:
    flush a row, call commit()/rollback(); (outer active, nested active, rows)."""
    with engine.connect() as conn:
        outer = conn.begin()
        nested = conn.begin_nested()
        s = Session(bind=conn)
        try:
            s.add(User(name="in-session"))
            s.flush()
            getattr(s, end)()
            state = (outer.is_active, nested.is_active, _count(conn))
        finally:
            s.close()
        outer.rollback()
    return state


@pytest.mark.claim("session-transactions.join-savepoint-released")
@pytest.mark.requires("savepoints", "independent_connections")
@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_join_savepoint_released_by_session(engine, db, end):
    """1.4: commit() or rollback() ends the external SAVEPOINT (the outer
    transaction stays); after commit() the flushed row is in the outer transaction."""
    outer, nested, rows = _join_savepoint(engine, end)
    assert (outer, nested) == (True, False)
    assert end == "rollback" or rows == 1
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.join-savepoint-kept")
@pytest.mark.requires("savepoints", "independent_connections")
@pytest.mark.parametrize("end, rows", [("commit", 1), ("rollback", 0)])
def test_join_savepoint_kept_by_session(engine, db, end, rows):
    """2.0+: the external SAVEPOINT and transaction stay active; rollback()
    discards the Session's row (#9015)."""
    assert _join_savepoint(engine, end) == (True, True, rows)
    assert db.rows("users") == []


def _close_after_own_savepoint(engine):
    """Session joined to an external transaction: begin_nested(), flush, close();
    (conn.in_nested_transaction(), outer active)."""
    with engine.connect() as conn:
        outer = conn.begin()
        s = Session(bind=conn)
        s.begin_nested()
        s.add(User(name="nested"))
        s.flush()
        s.close()
        state = (conn.in_nested_transaction(), outer.is_active)
        outer.rollback()
    return state


@pytest.mark.claim("session-transactions.close-leaves-own-savepoint")
@pytest.mark.requires("savepoints", "independent_connections")
def test_close_leaves_session_savepoint_open(engine, db):
    """1.4: Session.close() leaves the SAVEPOINT it began on the Connection."""
    assert _close_after_own_savepoint(engine) == (True, True)
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.close-ends-own-savepoint")
@pytest.mark.requires("savepoints", "independent_connections")
def test_close_ends_session_savepoint(engine, db):
    """2.0+: Session.close() closes out its SAVEPOINTs; the external transaction stays (#9015)."""
    assert _close_after_own_savepoint(engine) == (False, True)
    assert db.rows("users") == []


# -- #11163: engine_connect leaves a transaction begun ----------------------------------
def _commit_with_engine_connect_transaction(engine, session_factory):
    def begin(conn, *legacy_branch):
        conn.begin()

    event.listen(engine, "engine_connect", begin)
    try:
        def run():
            with session_factory() as s:
                s.add(User(name="ec"))
                s.commit()
        _, messages = _recorded(run)
    finally:
        event.remove(engine, "engine_connect", begin)
    return [m for m in messages if m.startswith(JOINED_WARNING[:60])]


@pytest.mark.claim("session-transactions.engine-connect-transaction-joined")
@pytest.mark.requires("independent_connections")
def test_engine_connect_transaction_joined_silently(engine, session_factory, db):
    """Before 2.0.32: the Session joins the hook's transaction: commit() commits nothing, no warning."""
    assert _commit_with_engine_connect_transaction(engine, session_factory) == []
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.engine-connect-transaction-joined-warns")
@pytest.mark.requires("independent_connections")
def test_engine_connect_transaction_joined_with_warning(engine, session_factory, db):
    """2.0.32 .. 2.0: the same, and an SAWarning names the effective join mode (#11163)."""
    warned = _commit_with_engine_connect_transaction(engine, session_factory)
    assert len(warned) == 1 and warned[0].startswith(JOINED_WARNING), warned
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.engine-connect-transaction-ignored")
@pytest.mark.requires("independent_connections")
def test_engine_connect_transaction_ignored(engine, session_factory, db):
    """2.1+: with an Engine bind the join mode is ignored: commit() commits (#11163)."""
    assert _commit_with_engine_connect_transaction(engine, session_factory) == []
    assert db.rows("users", "name") == [("ec",)]


# -- #7433: re-entrant state change from an event hook ---------------------------------
def _close_inside_before_commit(session_factory, exc_class, pattern):
    s = session_factory()
    event.listen(s, "before_commit", lambda session: session.close())
    try:
        s.add(User(name="r"))
        with pytest.raises(exc_class, match=pattern):
            s.commit()
    finally:
        s.close()


@pytest.mark.claim("session-transactions.reentrant-close-attributeerror")
def test_close_in_before_commit_breaks_commit(session_factory, db):
    """1.4: close() inside before_commit is not trapped; commit() fails with an AttributeError."""
    _close_inside_before_commit(session_factory, AttributeError,
                                exact("'NoneType' object has no attribute '_transaction'"))
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.reentrant-close-raises")
def test_close_in_before_commit_is_illegal_state_change(session_factory, db):
    """2.0+: close() inside before_commit raises IllegalStateChangeError naming both methods (#7433)."""
    _close_inside_before_commit(
        session_factory, sqlalchemy.exc.IllegalStateChangeError,
        starts("Method 'close()' can't be called here; method '_prepare_impl()' is already in progress and this "
               "would cause an unexpected state change to <SessionTransactionState.CLOSED: 5>"))
    assert db.rows("users") == []


# -- #11297: the error after a rolled-back begin() block --------------------------------
def _sql_after_failed_flush_in_begin_block(session_factory):
    with session_factory() as setup:
        setup.add(User(id=1, name="a"))
        setup.commit()
    s = session_factory()
    try:
        with pytest.raises(sqlalchemy.exc.InvalidRequestError) as info, s.begin():
            s.add(User(id=1, name="dup"))
            with pytest.raises(sqlalchemy.exc.IntegrityError) as cause:
                s.flush()
            s.execute(select(User.id)).all()
    finally:
        s.close()
    return str(info.value), cause.value


@pytest.mark.claim("session-transactions.begin-block-error-plain")
def test_begin_block_error_without_cause(session_factory, db):
    """Until 2.1: 'Can't operate on closed transaction inside context manager.  Please complete ...'."""
    message, _ = _sql_after_failed_flush_in_begin_block(session_factory)
    assert message == f"{CLOSED_IN_CM}  {COMPLETE_CM}"


@pytest.mark.claim("session-transactions.begin-block-error-names-cause")
def test_begin_block_error_names_cause(session_factory, db):
    """2.1+: the message names the IntegrityError that rolled the transaction back (#11297).

    The cause is quoted as SQLAlchemy renders it, ``(<DBAPI exception class>) <text> ...``:
    the class is the driver's (``sqlite3.IntegrityError``, ``psycopg.errors.UniqueViolation``).
    """
    message, cause = _sql_after_failed_flush_in_begin_block(session_factory)
    dbapi_class = type(cause.orig)
    assert message == (f"{CLOSED_IN_CM}  The transaction was rolled back due to an exception: {cause}.  "
                       f"{COMPLETE_CM}"), message
    assert f"({dbapi_class.__module__}.{dbapi_class.__name__}) " in message, message


# -- #13745 / #13744: execution options and SAVEPOINTs ---------------------------------
@pytest.mark.claim("session-transactions.savepoint-connection-options-applied")
@pytest.mark.requires("savepoints")
def test_connection_options_in_savepoint_applied_anyway(session_factory, db):
    """2.0 .. 2.1.6: connection(execution_options=...) in a SAVEPOINT warns 'ignored' yet applies them."""
    with session_factory() as s:
        s.connection()
        s.begin_nested()
        caught = warnings.catch_warnings(record=True)
        with caught as messages, pytest.raises(sqlalchemy.exc.InvalidRequestError, match=exact(ISOLATION_IN_TX)):
            warnings.simplefilter("always")
            s.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        assert ALREADY_ESTABLISHED in [str(w.message) for w in messages]


@pytest.mark.claim("session-transactions.savepoint-connection-options-ignored")
@pytest.mark.requires("savepoints")
def test_connection_options_in_savepoint_ignored(session_factory, db):
    """2.1.7+: connection(execution_options=...) in a SAVEPOINT returns the same Connection, warns (#13745)."""
    with session_factory() as s:
        first = s.connection()
        s.begin_nested()
        again, messages = _recorded(lambda: s.connection(execution_options={"isolation_level": "SERIALIZABLE"}))
        assert again is first and "isolation_level" not in again.get_execution_options()
        assert ALREADY_ESTABLISHED in messages
        s.add(User(name="n"))
        s.commit()
    assert db.rows("users", "name") == [("n",)]


def _session_options_then_savepoint(session_factory):
    s = session_factory(execution_options={"isolation_level": "SERIALIZABLE"})
    s.execute(select(User.id)).all()
    return s


@pytest.mark.claim("session-transactions.savepoint-session-options-reapplied")
@pytest.mark.requires("savepoints")
def test_savepoint_reapplies_session_options(session_factory, db):
    """2.1.0 .. 2.1.6: the SAVEPOINT re-applies Session(execution_options=...):
    releasing it raises."""
    s = _session_options_then_savepoint(session_factory)
    try:
        savepoint = s.begin_nested()
        s.add(User(name="n"))
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=exact(ISOLATION_IN_TX)):
            savepoint.commit()
    finally:
        s.close()


@pytest.mark.claim("session-transactions.savepoint-session-options-kept")
@pytest.mark.requires("savepoints")
def test_savepoint_keeps_session_options(session_factory, db):
    """2.1.7+: begin_nested() in such a Session works; SAVEPOINT and transaction commit (#13744)."""
    s = _session_options_then_savepoint(session_factory)
    try:
        savepoint = s.begin_nested()
        s.add(User(name="n"))
        savepoint.commit()
        s.commit()
    finally:
        s.close()
    assert db.rows("users", "name") == [("n",)]


# -- #13485: a refused bulk call after a failed flush ----------------------------------
def _refused_bulk_then_rollback(session_factory):
    with session_factory() as setup:
        setup.add(User(id=1, name="a"))
        setup.commit()
    s = session_factory()
    s.add(User(id=1, name="dup"))
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        s.flush()
    with pytest.raises(sqlalchemy.exc.InvalidRequestError):  # PendingRollbackError from 1.4.? on
        s.bulk_save_objects([User(name="bulk")])
    s.rollback()
    s.add(User(name="after"))
    return s


@pytest.mark.claim("session-transactions.bulk-failure-stuck-flushing")
def test_refused_bulk_call_leaves_session_flushing(session_factory, db):
    """Before 2.0.52: every later flush raises 'Session is already flushing'."""
    s = _refused_bulk_then_rollback(session_factory)
    try:
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=exact("Session is already flushing")):
            s.flush()
    finally:
        s.close()
    assert db.rows("users", "name") == [("a",)]


@pytest.mark.claim("session-transactions.bulk-failure-recovers")
def test_refused_bulk_call_then_session_recovers(session_factory, db):
    """2.0.52+: after rollback() the Session flushes and commits again (#13485)."""
    s = _refused_bulk_then_rollback(session_factory)
    try:
        s.commit()
    finally:
        s.close()
    assert db.rows("users", "name") == [("a",), ("after",)]
