"""Legacy spellings whose behaviour changed at an exact release (migration_20,
#6284, #12218, #10721): each side of a change is its own claim and test; the
plugin marks the side outside the running release's range not applicable."""

import warnings

import pytest
import sqlalchemy.exc
from sqlalchemy.util import deprecations
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from sa_conformance.messages import exact, starts
from sa_conformance.orm_models import User

QUERY_WARNING = ("should not be used directly in a SQL statement context, such as passing to methods such as "
                 "session.execute().")
LEGACY_BULK_WARNING = ('The argument signature for the "SessionEvents.after_bulk_update" event listener has changed '
                       "as of version 0.9")


@pytest.fixture
def warn_20(monkeypatch):
    """1.4 emits RemovedIn20Warning only under SQLALCHEMY_WARN_20; turn it on for the test."""
    if hasattr(deprecations, "SQLALCHEMY_WARN_20"):
        monkeypatch.setattr(deprecations, "SQLALCHEMY_WARN_20", True)


def _recorded(fn):
    """(fn's result, the messages of every warning it emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught]


def _with_user(session_factory):
    with session_factory() as s:
        s.add(User(name="a"))
        s.commit()


@pytest.mark.claim("legacy-api.execute-plain-string-accepted")
def test_execute_plain_string_runs_and_warns(session_factory, db, warn_20):
    """1.4: Session.execute('SELECT ...') coerces the string to text() and warns."""
    _with_user(session_factory)
    with session_factory() as s:
        rows, messages = _recorded(lambda: s.execute("SELECT name FROM users").all())
    assert rows == [("a",)]
    assert any(m.startswith("Using plain strings to indicate SQL statements without using the text() construct is")
               for m in messages), messages


@pytest.mark.claim("legacy-api.execute-plain-string-rejected")
def test_execute_plain_string_rejected(session_factory, db):
    """2.0+: Session.execute('SELECT ...') raises ArgumentError naming text()."""
    sql = "SELECT name FROM users"
    message = f"Textual SQL expression '{sql}' should be explicitly declared as text('{sql}')"
    with session_factory() as s, pytest.raises(sqlalchemy.exc.ArgumentError, match=exact(message)):
        s.execute(sql)


class _BindRecordingSession(Session):
    """Records the mapper each get_bind() call receives."""

    def get_bind(self, mapper=None, **kw):
        self.info.setdefault("mappers", []).append(mapper)
        return super().get_bind(mapper, **kw)


@pytest.mark.claim("legacy-api.execute-bind-kwargs-accepted")
def test_execute_bind_keyword_arguments_reach_get_bind(engine, session_factory, db, warn_20):
    """1.4: Session.execute(stmt, mapper=User) passes mapper to get_bind() and warns."""
    _with_user(session_factory)
    with _BindRecordingSession(bind=engine) as s:
        rows, messages = _recorded(lambda: s.execute(select(User.name), mapper=User).all())
        assert rows == [("a",)] and inspect(User) in s.info["mappers"]
    assert any(m.startswith("Passing bind arguments to Session.execute() as keyword arguments is deprecated")
               for m in messages), messages


@pytest.mark.claim("legacy-api.execute-bind-kwargs-rejected")
def test_execute_bind_keyword_arguments_rejected(session_factory, db):
    """2.0+: Session.execute(stmt, mapper=User) raises TypeError."""
    message = "Session.execute() got an unexpected keyword argument 'mapper'"
    with session_factory() as s, pytest.raises(TypeError, match=exact(message)):
        s.execute(select(User.name), mapper=User)


@pytest.mark.claim("legacy-api.begin-subtransactions-accepted")
def test_begin_subtransactions_returns_inner_transaction(session_factory, db, warn_20):
    """1.4: begin(subtransactions=True) in a begun transaction returns a
    subtransaction; committing it leaves the root transaction open."""
    s = session_factory()
    try:
        root = s.begin()
        sub, messages = _recorded(lambda: s.begin(subtransactions=True))
        assert sub is not root and sub.parent is root and not sub.nested
        assert any(m.startswith("The Session.begin.subtransactions flag is deprecated") for m in messages), messages
        s.add(User(name="sub"))
        sub.commit()
        assert s.in_transaction() and s.get_transaction() is root
        root.commit()
        assert db.rows("users", "name") == [("sub",)]
    finally:
        s.close()


@pytest.mark.claim("legacy-api.begin-subtransactions-rejected")
def test_begin_subtransactions_rejected(session_factory, db):
    """2.0+: begin(subtransactions=True) raises TypeError."""
    with session_factory() as s:
        with pytest.raises(TypeError,
                           match=exact("Session.begin() got an unexpected keyword argument 'subtransactions'")):
            s.begin(subtransactions=True)
        assert not s.in_transaction()


def _execute_query(session_factory):
    _with_user(session_factory)
    with session_factory() as s:
        return _recorded(lambda: s.execute(s.query(User.name)).all())


@pytest.mark.claim("legacy-api.execute-query-object-silent")
def test_execute_query_object_runs_silently(session_factory, db):
    """Before 1.4.26: Session.execute(Query) runs it without a deprecation warning."""
    rows, messages = _execute_query(session_factory)
    assert rows == [("a",)]
    assert not [m for m in messages if QUERY_WARNING in m], messages


@pytest.mark.claim("legacy-api.execute-query-object-deprecated")
def test_execute_query_object_runs_and_warns(session_factory, db):
    """1.4.26 .. 2.0: Session.execute(Query) runs it and warns (#6284)."""
    rows, messages = _execute_query(session_factory)
    assert rows == [("a",)]
    assert any(m.startswith("Object <sqlalchemy.orm.query.Query object at 0x") and QUERY_WARNING in m
               for m in messages), messages


@pytest.mark.claim("legacy-api.execute-query-object-rejected")
def test_execute_query_object_rejected(session_factory, db):
    """2.1+: Session.execute(Query) raises ObjectNotExecutableError (#12218)."""
    with session_factory() as s:
        query = s.query(User.name)
        with pytest.raises(sqlalchemy.exc.ObjectNotExecutableError,
                           match=exact(f"Not an executable object: {query!r}")):
            s.execute(query)


def _legacy_bulk_update(session_factory):
    """A Query.update() with a pre-0.9 signature after_bulk_update listener:
    (what the listener saw, warnings) or the exception it raised."""
    _with_user(session_factory)
    seen = []

    def legacy(session, query, query_context, result):
        seen.append((session, query))

    s = session_factory()
    try:
        def run():
            event.listen(s, "after_bulk_update", legacy)
            s.query(User).filter(User.name == "a").update({"name": "b"}, synchronize_session=False)
            return seen
        return _recorded(run), s
    finally:
        s.rollback()
        s.close()


@pytest.mark.claim("legacy-api.after-bulk-legacy-signature-deprecated")
def test_legacy_after_bulk_update_signature_still_called(session_factory, db):
    """Until 2.1: the legacy listener is called with (session, query, ...) and warns."""
    (seen, messages), s = _legacy_bulk_update(session_factory)
    assert len(seen) == 1 and seen[0][0] is s
    assert any(m.startswith(LEGACY_BULK_WARNING) for m in messages), messages


@pytest.mark.claim("legacy-api.after-bulk-legacy-signature-removed")
def test_legacy_after_bulk_update_signature_removed(session_factory, db):
    """2.1+: the legacy listener gets one argument, so the update raises TypeError (#10721)."""
    with pytest.raises(TypeError, match=starts("_legacy_bulk_update.<locals>.legacy() missing 3 required positional "
                                               "arguments: 'query', 'query_context', and 'result'")):
        _legacy_bulk_update(session_factory)
