"""SAVEPOINT via Session.begin_nested() ("Using SAVEPOINT"); 1.x vs 2.x
commit/rollback semantics with an open savepoint."""


import pytest
from sqlalchemy.orm import Session

from sa_conformance.orm_models import User
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql

pytestmark = pytest.mark.requires("savepoints")


def kinds(sql):
    out = []
    for q in sql:
        q = q.strip().upper()
        for k in ("ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT", "SAVEPOINT"):
            if q.startswith(k):
                out.append(k)
                break
    return out


@pytest.mark.claim("savepoint.begin-nested-emits-savepoint")
def test_begin_nested_emits_savepoint_release_and_rollback_to(session_factory, db):
    """SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO SAVEPOINT, outer stays open."""
    with session_factory() as s, capture_sql(db.engine) as sql:
        s.add(User(name="outer"))
        nested = s.begin_nested()
        s.add(User(name="kept"))
        nested.commit()
        assert s.in_transaction() and not s.in_nested_transaction()
        nested = s.begin_nested()
        s.add(User(name="dropped"))
        s.flush()
        nested.rollback()
        assert s.in_transaction()
        s.commit()
    assert kinds(sql) == ["SAVEPOINT", "RELEASE SAVEPOINT", "SAVEPOINT", "ROLLBACK TO SAVEPOINT"]
    assert db.rows("users", "name") == [("kept",), ("outer",)]


@pytest.mark.claim("savepoint.nested-rollback-keeps-outer")
def test_nested_context_rollback_discards_only_inner_rows(session_factory, db):
    """An exception inside `with begin_nested()` rolls back to the savepoint only."""
    with session_factory() as s:
        s.add(User(name="outer"))
        with pytest.raises(KeyError):
            with s.begin_nested():
                s.add(User(name="inner"))
                s.flush()
                raise KeyError
        assert s.in_transaction()
        s.commit()
    assert db.rows("users", "name") == [("outer",)]


@pytest.mark.claim("savepoint.nested-rollback-pending-transient")
def test_objects_of_rolled_back_savepoint_become_transient(session_factory, db):
    """Inner objects -> transient; outer objects stay persistent."""
    with session_factory() as s:
        outer = User(name="outer")
        s.add(outer)
        s.flush()
        nested = s.begin_nested()
        inner = User(name="inner")
        s.add(inner)
        s.flush()
        nested.rollback()
        assert flags(inner) == {"transient"} and flags(outer) == {"persistent"}
        s.commit()
    assert db.rows("users", "name") == [("outer",)]


def _commit_with_open_savepoint(s):
    s.add(User(name="outer"))
    s.flush()
    s.begin_nested()
    s.add(User(name="inner"))
    s.flush()
    s.commit()


def _rollback_with_open_savepoint(s):
    s.add(User(name="outer"))
    s.flush()
    s.begin_nested()
    s.add(User(name="inner"))
    s.flush()
    s.rollback()


@pytest.mark.claim("savepoint.session-commit-commits-outermost")
def test_session_commit_with_open_savepoint_commits_everything(session_factory, db):
    """2.x: Session.commit() inside begin_nested() commits the outer transaction."""
    with session_factory() as s:
        _commit_with_open_savepoint(s)
        assert not s.in_transaction()
    assert db.rows("users", "name") == [("inner",), ("outer",)]


@pytest.mark.claim("savepoint.future-session-commit-commits-outermost")
def test_future_session_commit_with_open_savepoint_commits_everything(engine, db):
    """Session(future=True): commit() inside begin_nested() commits the outer transaction."""
    with Session(bind=engine, future=True) as s:
        _commit_with_open_savepoint(s)
        assert not s.in_transaction()
    assert db.rows("users", "name") == [("inner",), ("outer",)]


@pytest.mark.claim("savepoint.session-rollback-rolls-back-outermost")
def test_session_rollback_with_open_savepoint_rolls_back_everything(session_factory, db):
    """2.x: Session.rollback() inside begin_nested() rolls back the topmost transaction."""
    with session_factory() as s:
        _rollback_with_open_savepoint(s)
        assert not s.in_transaction()
        s.commit()
    assert db.rows("users") == []


@pytest.mark.claim("savepoint.legacy-commit-releases-only")
def test_legacy_commit_with_open_savepoint_releases_only(session_factory, db):
    """1.4 (1.x style): commit() inside begin_nested() releases the savepoint only."""
    with session_factory() as s, capture_sql(db.engine) as sql:
        _commit_with_open_savepoint(s)
        assert s.in_transaction() and not s.in_nested_transaction()
        if db.has("independent_connections"):
            assert db.rows("users") == []
        s.rollback()
    assert "RELEASE SAVEPOINT" in kinds(sql)
    assert db.rows("users") == []


@pytest.mark.claim("savepoint.legacy-rollback-savepoint-only")
def test_legacy_rollback_with_open_savepoint_rolls_back_to_it(session_factory, db):
    """1.4 (1.x style): rollback() inside begin_nested() rolls back to the savepoint."""
    with session_factory() as s, capture_sql(db.engine) as sql:
        _rollback_with_open_savepoint(s)
        assert s.in_transaction()
        s.commit()
    assert "ROLLBACK TO SAVEPOINT" in kinds(sql)
    assert db.rows("users", "name") == [("outer",)]
