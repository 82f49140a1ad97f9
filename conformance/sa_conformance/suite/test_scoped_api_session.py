"""Seed 002's Contextual Session API, member by member: the transaction,
connection and Session-attribute members (begin, begin_nested, bulk_*,
close, commit, rollback, connection, get_bind, info, is_active), each used
through the scoped_session proxy."""

import pytest
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from sa_conformance.attribution import claim
from sa_conformance.catalogue import parse_version
from sa_conformance.messages import exact
from sa_conformance.orm_models import Base, User
from sa_conformance.state_helpers import checked_out
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql

SA = parse_version(sqlalchemy.__version__)


def _starting(sql, word):
    return [q for q in sql if q.lstrip().upper().startswith(word)]


@pytest.mark.claim("scoped-api.begin-returns-transaction", "transactions.begin-already-raises")
def test_begin_returns_session_transaction_context_manager(scoped, db):
    """begin() -> the Session's SessionTransaction; `with` commits; begin()
    again inside a transaction raises."""
    try:
        with claim("scoped-api.begin-returns-transaction"):
            trans = scoped.begin()
            assert isinstance(trans, SessionTransaction) and trans is scoped().get_transaction()
            with trans:
                scoped.add(User(name="in-block"))
            assert not scoped().in_transaction()
            assert db.rows("users", "name") == [("in-block",)]
        with claim("transactions.begin-already-raises"):
            scoped.add(User(name="autobegun"))
            with pytest.raises(
                sqlalchemy.exc.InvalidRequestError, match=exact("A transaction is already begun on this Session.")
            ):
                scoped.begin()
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.begin-nested-flag", "scoped-api.begin-nested-context-manager")
@pytest.mark.requires("savepoints")
def test_begin_nested_via_flag_and_context_manager(scoped, db):
    """begin(nested=True) == begin_nested(); the `with` block releases on success
    and rolls back to the SAVEPOINT on an exception."""
    try:
        scoped.add(User(name="outer"))
        with claim("scoped-api.begin-nested-flag"):
            with capture_sql(db.engine) as sql:
                nested = scoped.begin(nested=True)
                assert nested.nested is True and scoped().get_nested_transaction() is nested
                scoped.add(User(name="kept"))
                nested.commit()
            assert _starting(sql, "SAVEPOINT") and _starting(sql, "RELEASE SAVEPOINT")
            assert scoped().in_transaction() and not scoped().in_nested_transaction()
        with claim("scoped-api.begin-nested-context-manager"):
            with capture_sql(db.engine) as sql, scoped.begin_nested():
                scoped.add(User(name="released"))
            assert _starting(sql, "RELEASE SAVEPOINT")
            with pytest.raises(ValueError, match="^inside$"), scoped.begin_nested():
                bad = User(name="rolled-back")
                scoped.add(bad)
                scoped.flush()
                raise ValueError("inside")
            assert flags(bad) == {"transient"} and scoped().in_transaction()
        scoped.commit()
        assert db.rows("users", "name") == [("kept",), ("outer",), ("released",)]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.bulk-insert-mappings", "scoped-api.bulk-insert-return-defaults")
def test_bulk_insert_mappings(scoped, db):
    """One INSERTed row per dict, no ORM objects; return_defaults fills in ids."""
    try:
        with claim("scoped-api.bulk-insert-mappings"):
            scoped.bulk_insert_mappings(User, [{"name": "b1"}, {"name": "b2"}])
            assert len(scoped.identity_map) == 0 and not scoped.new
            assert scoped.scalar(select(func.count(User.id))) == 2
        with claim("scoped-api.bulk-insert-return-defaults"):
            rows = [{"name": "r1"}, {"name": "r2"}]
            scoped.bulk_insert_mappings(User, rows, return_defaults=True)
            ids = [r["id"] for r in rows]
            assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 2
            assert len(scoped.identity_map) == 0
        scoped.commit()
        assert sorted(db.rows("users", "name")) == [("b1",), ("b2",), ("r1",), ("r2",)]
        assert {r[0] for r in db.rows("users", "id") if r} >= set(ids)
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.bulk-save-objects-not-attached", "scoped-api.bulk-update-mappings")
def test_bulk_save_objects_and_update_mappings(scoped, session_factory, db):
    """bulk_save_objects: INSERT for new, UPDATE for keyed (detached); objects stay
    out of the Session.  bulk_update_mappings: pk -> WHERE, rest -> SET."""
    with session_factory(expire_on_commit=False) as setup:
        old, other = User(name="old"), User(name="other")
        setup.add_all([old, other])
        setup.commit()
    try:
        with claim("scoped-api.bulk-save-objects-not-attached"):
            old.name = "renamed"
            new = User(name="new")
            with capture_sql(db.engine) as sql:
                scoped.bulk_save_objects([old, new])
            assert _starting(sql, "INSERT") and _starting(sql, "UPDATE")
            assert inspect(new).session is None and inspect(old).session is None
            assert len(scoped.identity_map) == 0
        with claim("scoped-api.bulk-update-mappings"):
            scoped.bulk_update_mappings(User, [{"id": other.id, "name": "other2"}])
        scoped.commit()
        assert db.rows("users", "name") == [("new",), ("other2",), ("renamed",)]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.close-no-new-transaction", "transactions.close-releases-connection")
def test_close_begins_no_new_transaction(scoped, db):
    """close(): no SessionTransaction, no connection, until used again."""
    try:
        scoped.add(User(name="c"))
        scoped.flush()
        assert checked_out(db) == 1
        scoped.close()
        with claim("transactions.close-releases-connection"):
            assert checked_out(db) == 0 and db.rows("users") == []
        with claim("scoped-api.close-no-new-transaction"):
            assert scoped().get_transaction() is None and not scoped().in_transaction()
            scoped.scalar(select(func.count(User.id)))
            assert scoped().get_transaction() is not None
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.commit-without-transaction", "scoped-api.rollback-without-transaction")
def test_commit_and_rollback_without_transaction(scoped, db):
    """No transaction: commit() emits no SQL but fires the commit events;
    rollback() is a pass-through leaving loaded state alone."""
    fired = []
    s = scoped()
    event.listen(s, "before_commit", lambda sess: fired.append("before_commit"))
    event.listen(s, "after_commit", lambda sess: fired.append("after_commit"))
    try:
        with claim("scoped-api.commit-without-transaction"):
            with capture_sql(db.engine) as sql:
                scoped.commit()
            assert sql == [] and checked_out(db) == 0
            assert fired == ["before_commit", "after_commit"]
        with claim("scoped-api.rollback-without-transaction"):
            keep = sessionmaker(bind=db.engine, expire_on_commit=False)
            with keep() as k:
                u = User(name="kept")
                k.add(u)
                k.commit()
                assert not k.in_transaction()
                with capture_sql(db.engine) as sql:
                    k.rollback()
                assert sql == [] and checked_out(db) == 0 and u.__dict__["name"] == "kept"
            with capture_sql(db.engine) as sql:
                scoped.rollback()
            assert sql == [] and not s.in_transaction()
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.connection-of-transaction")
def test_connection_belongs_to_the_session_transaction(scoped, db):
    """connection(): begins the transaction, same Connection each call, its SQL
    rolled back by rollback()."""
    try:
        assert not scoped().in_transaction()
        conn = scoped.connection()
        assert scoped().in_transaction() and scoped.connection() is conn and checked_out(db) == 1
        conn.execute(User.__table__.insert(), {"name": "via-conn"})
        assert scoped.scalar(select(func.count(User.id))) == 1
        scoped.rollback()
        assert checked_out(db) == 0 and db.rows("users") == []
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-bind-engine-or-connection", "scoped-api.get-bind-mapper-resolution")
def test_get_bind_engine_connection_and_mapper_binds(make_scoped, engine, db):
    """get_bind(): the Engine, or the Connection a Session is bound to; binds
    keyed on a base class serve its subclasses."""
    reg = make_scoped(sessionmaker(bind=engine))
    try:
        with claim("scoped-api.get-bind-engine-or-connection"):
            assert reg.get_bind() is engine and reg.bind is engine
            with engine.connect() as conn:
                on_conn = make_scoped(sessionmaker(bind=conn))
                try:
                    assert on_conn.get_bind() is conn
                finally:
                    on_conn.remove()
        with claim("scoped-api.get-bind-mapper-resolution"):
            sentinel = engine.execution_options(sa_conformance_marker="base")
            by_base = make_scoped(sessionmaker(binds={Base: sentinel}))
            try:
                assert by_base.get_bind(User) is sentinel
                assert by_base.get_bind(inspect(User)) is sentinel
                by_class = make_scoped(sessionmaker(binds={Base: sentinel, User: engine}))
                try:
                    assert by_class.get_bind(User) is engine, "the mapped class wins over its base"
                finally:
                    by_class.remove()
            finally:
                by_base.remove()
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.get-bind-unbound-raises")
def test_unbound_session_raises_unbound_execution_error(make_scoped, db):
    """No bind anywhere: UnboundExecutionError with the documented texts."""
    reg = make_scoped(sessionmaker())
    try:
        with pytest.raises(
            sqlalchemy.exc.UnboundExecutionError,
            match=exact(
                "This session is not bound to a single Engine or Connection, and no context was provided "
                "to locate a binding."
            ),
        ):
            reg.get_bind()
        with pytest.raises(
            sqlalchemy.exc.UnboundExecutionError,
            match=exact(
                "Could not locate a bind configured on mapper Mapper[User(users)], SQL expression or this Session."
            ),
        ):
            reg.execute(select(User))
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.info-local-per-session")
def test_info_is_local_to_each_session(make_scoped, engine, db):
    """info from sessionmaker(info=...) is copied per Session."""
    factory = sessionmaker(bind=engine, info={"app": "x"})
    reg = make_scoped(factory, scopefunc=lambda: token[0])
    token = ["a"]
    try:
        assert reg.info == {"app": "x"}
        reg.info["request"] = 1
        assert reg().info == {"app": "x", "request": 1}
        assert factory.kw["info"] == {"app": "x"}, "the factory's info is untouched"
        token[0] = "b"
        assert reg.info == {"app": "x"} and reg() is not None
        reg.remove()
        token[0] = "a"
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.is-active-outside-transaction")
def test_is_active_true_outside_and_inside_transaction(scoped, db):
    """is_active: True for a new Session (not in a transaction), True inside,
    True after commit."""
    try:
        assert not scoped().in_transaction() and scoped.is_active is True
        scoped.add(User(name="a"))
        scoped.flush()
        assert scoped().in_transaction() and scoped.is_active is True
        scoped.commit()
        assert scoped.is_active is True
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.factory-any-callable")
def test_any_callable_is_a_session_factory(make_scoped, engine, db):
    """'usually, but not necessarily, an instance of sessionmaker'."""
    calls = []

    def factory(**kw):
        calls.append(kw)
        return Session(bind=engine, **kw)

    reg = make_scoped(factory)
    try:
        s = reg(info={"via": "function"})
        assert isinstance(s, Session) and reg() is s and calls == [{"info": {"via": "function"}}]
        assert reg.session_factory is factory and s.info == {"via": "function"}
        reg.remove()
        with pytest.raises(AttributeError):
            reg.configure(autoflush=False)  # sessionmaker.configure() is what it calls
    finally:
        reg.remove()
