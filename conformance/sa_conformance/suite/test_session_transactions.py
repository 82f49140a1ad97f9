"""Transactions and Connection Management (orm/session_transaction): joining
an external transaction in each join_transaction_mode, isolation per Session
and per connection, AUTOCOMMIT, two-phase commit, SAVEPOINT details."""

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sa_conformance.attribution import claim
from sa_conformance.messages import exact
from sa_conformance.orm_models import User
from sa_conformance.testing import capture_sql

USERS = User.__table__


def _count(conn):
    return conn.execute(select(func.count()).select_from(USERS)).scalar()


@pytest.mark.claim("session-transactions.join-create-savepoint")
@pytest.mark.requires("savepoints", "independent_connections")
def test_join_create_savepoint(engine, db):
    """create_savepoint: commit releases, rollback rolls back to the SAVEPOINT,
    the external transaction stays open; its rollback discards all."""
    with engine.connect() as conn:
        outer = conn.begin()
        conn.execute(USERS.insert(), {"name": "outer"})
        s = Session(bind=conn, join_transaction_mode="create_savepoint")
        s.add(User(name="committed-in-session"))
        s.commit()
        assert outer.is_active and conn.in_transaction() and db.rows("users") == []
        s.add(User(name="rolled-back"))
        s.flush()
        s.rollback()
        assert outer.is_active and _count(conn) == 2
        s.close()
        outer.rollback()
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.join-rollback-only")
@pytest.mark.requires("independent_connections")
def test_join_rollback_only(engine, db):
    """rollback_only: commit() leaves the external transaction open; rollback()
    rolls it back."""
    with engine.connect() as conn:
        outer = conn.begin()
        conn.execute(USERS.insert(), {"name": "outer"})
        s = Session(bind=conn, join_transaction_mode="rollback_only")
        s.add(User(name="in-session"))
        s.commit()
        assert outer.is_active and conn.in_transaction() and db.rows("users") == []
        s.add(User(name="more"))
        s.flush()
        s.rollback()
        assert not outer.is_active and not conn.in_transaction()
        s.close()
    assert db.rows("users") == []


@pytest.mark.claim("session-transactions.join-control-fully")
@pytest.mark.requires("independent_connections")
def test_join_control_fully(engine, db):
    """control_fully: commit() commits the external transaction."""
    with engine.connect() as conn:
        outer = conn.begin()
        conn.execute(USERS.insert(), {"name": "outer"})
        s = Session(bind=conn, join_transaction_mode="control_fully")
        s.add(User(name="in-session"))
        s.commit()
        assert not outer.is_active and not conn.in_transaction()
        assert db.rows("users", "name") == [("in-session",), ("outer",)]
        outer2 = conn.begin()
        s.add(User(name="dropped"))
        s.flush()
        s.rollback()
        assert not outer2.is_active and not conn.in_transaction()
        s.close()
    assert db.rows("users", "name") == [("in-session",), ("outer",)]


@pytest.mark.claim("session-transactions.join-conditional-savepoint-default")
@pytest.mark.requires("savepoints", "independent_connections")
def test_join_default_conditional_savepoint(engine, db):
    """Default: rollback_only on a plain transaction, create_savepoint inside a SAVEPOINT."""
    with engine.connect() as conn:
        outer = conn.begin()
        s = Session(bind=conn)
        assert s.join_transaction_mode == "conditional_savepoint"
        s.add(User(name="a"))
        s.commit()
        assert outer.is_active and db.rows("users") == [], "no real COMMIT on a plain external transaction"
        s.close()
        savepoint = conn.begin_nested()
        s2 = Session(bind=conn)
        s2.add(User(name="b"))
        s2.flush()
        s2.rollback()
        assert outer.is_active and savepoint.is_active and _count(conn) == 1, "rolled back to a SAVEPOINT of its own"
        s2.close()
        savepoint.rollback()
        outer.rollback()
    assert db.rows("users") == []
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="invalid selection for join_transaction_mode"):
        Session(bind=engine, join_transaction_mode="conservative_savepoint")


def _other_level(engine):
    """An isolation level the dialect offers that differs from the default."""
    with engine.connect() as conn:
        default = conn.get_isolation_level()
        dbapi = conn.connection.dbapi_connection
        dialect = engine.dialect
        if hasattr(dialect, "get_isolation_level_values"):
            levels = list(dialect.get_isolation_level_values(dbapi))
        else:  # 1.4
            levels = list(getattr(dialect, "_isolation_lookup", ()))
    others = [lv for lv in levels if lv not in (default, "AUTOCOMMIT")]
    if not others:
        pytest.skip(f"the dialect offers no isolation level besides {default}")
    return default, others[0]


@pytest.mark.claim("session-transactions.isolation-per-connection")
def test_isolation_level_for_one_transaction(session_factory, engine, db):
    """connection(execution_options={'isolation_level': L}) -> L for that
    transaction only."""
    default, level = _other_level(engine)
    with session_factory() as s:
        conn = s.connection(execution_options={"isolation_level": level})
        assert conn.get_isolation_level() == level
        s.add(User(name="iso"))
        s.commit()
        assert s.connection().get_isolation_level() == default
        s.rollback()
    with engine.connect() as conn:
        assert conn.get_isolation_level() == default, "returned to the pool at the default level"


@pytest.mark.claim("session-transactions.isolation-per-session-bind")
def test_isolation_level_per_session_bind(session_factory, engine, db):
    """Session(bind=engine.execution_options(isolation_level=L)): L there, default elsewhere."""
    default, level = _other_level(engine)
    leveled = engine.execution_options(isolation_level=level)
    assert leveled.pool is engine.pool
    with session_factory(bind=leveled) as s:
        assert s.connection().get_isolation_level() == level
        s.rollback()
    with session_factory() as plain:
        assert plain.connection().get_isolation_level() == default
        plain.rollback()


@pytest.mark.claim("session-transactions.autocommit-session-transaction-absent")
@pytest.mark.requires("driver_autocommit", "independent_connections")
def test_autocommit_engine_session(session_factory, engine, db):
    """AUTOCOMMIT: commit/rollback succeed, the rows are written at once."""
    with session_factory(bind=engine.execution_options(isolation_level="AUTOCOMMIT")) as s:
        s.add(User(name="at-once"))
        s.flush()
        assert db.rows("users", "name") == [("at-once",)], "no transaction holds the row back"
        s.rollback()
        assert db.rows("users", "name") == [("at-once",)], "rollback() cannot undo it"
        s.add(User(name="second"))
        s.commit()
    assert db.rows("users", "name") == [("at-once",), ("second",)]


@pytest.mark.claim("session-transactions.twophase-commit", "session-transactions.twophase-prepared-state")
@pytest.mark.requires("two_phase")
def test_two_phase_commit(session_factory, db):
    """twophase=True: XA BEGIN/END/PREPARE/COMMIT; prepared state refuses SQL."""
    with claim("session-transactions.twophase-commit"):
        with session_factory(twophase=True) as s, capture_sql(db.engine) as sql:
            s.add(User(name="xa"))
            s.commit()
        protocol = [q.split()[0] + " " + q.split()[1] for q in sql if q.lstrip().upper().startswith("XA ")]
        assert protocol == ["XA BEGIN", "XA END", "XA PREPARE", "XA COMMIT"]
        assert db.rows("users", "name") == [("xa",)]
    with claim("session-transactions.twophase-prepared-state"):
        with session_factory(twophase=True) as s:
            s.add(User(name="prepared"))
            s.prepare()
            s.add(User(name="after"))
            with pytest.raises(
                sqlalchemy.exc.InvalidRequestError,
                match=exact("This session is in 'prepared' state; no further SQL can be emitted within this transaction."),
            ):
                s.flush()
            s.rollback()
        assert db.rows("users", "name") == [("xa",)]


@pytest.mark.claim("session-transactions.prepare-requires-twophase")
def test_prepare_without_twophase_raises(session_factory, db):
    """prepare() on a non-twophase Session -> InvalidRequestError."""
    with session_factory() as s:
        s.add(User(name="x"))
        with pytest.raises(
            sqlalchemy.exc.InvalidRequestError,
            match=exact("'twophase' mode not enabled, or not root transaction; can't prepare."),
        ):
            s.prepare()


@pytest.mark.claim("session-transactions.nested-rollback-expires-modified-only")
@pytest.mark.requires("savepoints")
def test_savepoint_rollback_expires_only_modified_objects(session_factory, db):
    """Rolled-back SAVEPOINT: modified objects expired, untouched ones kept."""
    with session_factory() as s:
        changed, untouched = User(name="changed"), User(name="untouched")
        s.add_all([changed, untouched])
        s.flush()
        nested = s.begin_nested()
        changed.name = "in-savepoint"
        s.flush()
        nested.rollback()
        assert "name" not in changed.__dict__ and untouched.__dict__.get("name") == "untouched"
        assert changed.name == "changed"
        s.rollback()


@pytest.mark.claim("session-transactions.nested-integrity-error-outer-continues")
@pytest.mark.requires("savepoints")
def test_integrity_error_in_savepoint_keeps_outer_transaction(session_factory, db):
    """Duplicate primary keys are skipped one SAVEPOINT at a time."""
    with session_factory() as s:
        s.execute(USERS.insert(), {"name": "first"})  # a row the identity map does not hold
        first_id = s.scalar(select(User.id))
        records = [{"id": first_id + 1, "name": "a"}, {"id": first_id, "name": "dup"}, {"id": first_id + 2, "name": "b"}]
        skipped = []
        for record in records:
            try:
                with s.begin_nested():
                    s.add(User(**record))
            except sqlalchemy.exc.IntegrityError:
                skipped.append(record["name"])
        assert skipped == ["dup"] and s.in_transaction()
        s.commit()
    assert db.rows("users", "name") == [("a",), ("b",), ("first",)]
