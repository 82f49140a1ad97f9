"""Session Basics (orm/session_basics): adding, deleting, flushing,
expiring/refreshing, autobegin, rolling back, closing."""

import pytest
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session, object_session, sessionmaker

from sa_conformance.attribution import claim
from sa_conformance.messages import exact
from sa_conformance.orm_models import Address, User
from sa_conformance.state_helpers import checked_out
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql


@pytest.mark.claim("session-basics.identity-map-same-object", "session-basics.populate-existing-option")
def test_identity_map_returns_same_object_without_repopulating(session_factory, db):
    """u1 is u2; a query skips population of loaded objects unless
    populate_existing is set."""
    with session_factory() as s:
        s.add(User(name="five"))
        s.commit()
        stmt = select(User).where(User.name == "five")
        with claim("session-basics.identity-map-same-object"):
            u1 = s.scalars(stmt).one()
            u2 = s.scalars(select(User).where(User.id == u1.id)).one()
            assert u1 is u2
            s.execute(update(User.__table__).values(name="changed"))
            assert s.scalars(select(User)).one() is u1 and u1.name == "five"
        with claim("session-basics.populate-existing-option"):
            again = s.scalars(select(User).execution_options(populate_existing=True)).one()
            assert again is u1 and u1.name == "changed"


@pytest.mark.claim("session-basics.add-cascades-save-update")
def test_add_cascades_to_related_objects(session_factory, db):
    """add(user) makes user.addresses pending too; the flush INSERTs them."""
    with session_factory() as s:
        a = Address(email="a@x")
        u = User(name="u", addresses=[a])
        s.add(u)
        assert flags(a) == {"pending"} and a in s.new
        s.commit()
    assert db.rows("addresses", "email") == [("a@x",)]


@pytest.mark.claim("session-basics.delete-loads-unloaded-collection")
def test_delete_selects_unloaded_related_rows(session_factory, db):
    """delete(user) with addresses unloaded: SELECT addresses, DELETE them, DELETE user."""
    with session_factory() as s:
        s.add(User(name="p", addresses=[Address(email="1@x"), Address(email="2@x")]))
        s.commit()
    with session_factory() as s:
        u = s.scalars(select(User)).one()
        assert "addresses" not in u.__dict__
        with capture_sql(db.engine) as sql:
            s.delete(u)
            s.flush()
        kinds = [q.lstrip().split()[0].upper() + (" addresses" if "addresses" in q.split("WHERE")[0] else " users")
                 for q in sql if q.lstrip().upper().startswith(("SELECT", "DELETE"))]
        assert kinds[0] == "SELECT addresses", kinds
        assert kinds.index("DELETE addresses") < kinds.index("DELETE users"), kinds
        s.commit()
    assert db.rows("addresses") == [] and db.rows("users") == []


@pytest.mark.claim("session-basics.deleted-object-stays-in-collections")
def test_deleted_object_remains_in_loaded_collection_until_expired(session_factory, db):
    """After the DELETE the address is still in user.addresses; after commit not."""
    with session_factory() as s:
        a1, a2 = Address(email="1@x"), Address(email="2@x")
        u = User(name="c", addresses=[a1, a2])
        s.add(u)
        s.commit()
        assert len(u.addresses) == 2
        s.delete(a1)
        s.flush()
        assert flags(a1) == {"deleted"} and a1 in u.addresses
        s.commit()
        assert [a.email for a in u.addresses] == ["2@x"]


@pytest.mark.claim("session-basics.autoflush-points")
def test_autoflush_before_merge_refresh_and_lazy_load(session_factory, db):
    """merge() (loading), refresh() and a lazy load each autoflush first."""
    with session_factory() as s:
        u = User(name="base")
        s.add(u)
        s.commit()
        uid = u.id
        s.expire_all()
        p1 = User(name="p1")
        s.add(p1)
        s.merge(User(id=uid + 500, name="m"))
        assert flags(p1) == {"persistent"}, "merge() flushed before its SELECT"
        p2 = User(name="p2")
        s.add(p2)
        s.refresh(u)
        assert flags(p2) == {"persistent"}, "refresh() flushed first"
        p3 = User(name="p3")
        s.add(p3)
        s.expire(u, ["addresses"])
        _ = u.addresses  # a lazy load
        assert flags(p3) == {"persistent"}, "the lazy load flushed first"
        s.rollback()


@pytest.mark.claim("session-basics.flush-unconditional-points")
def test_commit_and_begin_nested_flush_with_autoflush_off(session_factory, db):
    """autoflush=False: commit() and begin_nested() still flush."""
    with session_factory(autoflush=False) as s:
        a = User(name="a")
        s.add(a)
        assert s.scalar(select(func.count(User.id))) == 0, "autoflush is off"
        if db.has("savepoints"):
            nested = s.begin_nested()
            assert flags(a) == {"persistent"}, "begin_nested() flushed"
            nested.commit()
        b = User(name="b")
        s.add(b)
        s.commit()
        assert flags(b) == {"persistent"}
    assert sorted(db.rows("users", "name")) == [("a",), ("b",)]


@pytest.mark.claim("session-basics.autobegin-on-attribute-change")
def test_attribute_change_autobegins(session_factory, db):
    """Modifying a persistent object's attribute begins the transaction."""
    with session_factory(expire_on_commit=False) as s:
        u = User(name="x")
        s.add(u)
        s.commit()
        assert not s.in_transaction() and s.get_transaction() is None
        u.name = "y"
        assert s.in_transaction() and s.get_transaction() is not None
        assert checked_out(db) == 0, "autobegin needs no connection"
        s.rollback()


@pytest.mark.claim("session-basics.autobegin-disabled")
def test_autobegin_false_requires_begin(engine, db):
    """autobegin=False: InvalidRequestError without begin(), also after commit/rollback/close."""
    msg = exact("Autobegin is disabled on this Session; please call session.begin() to start a new transaction")
    with Session(engine, autobegin=False) as s:
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=msg):
            s.add(User(name="no"))
        s.begin()
        s.add(User(name="u1"))
        s.commit()
        for end in ("commit", "rollback", "close"):
            if end != "commit":
                s.begin()
                getattr(s, end)()
            with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=msg):
                s.scalar(select(User.name))
        s.begin()
        assert s.scalar(select(User.name)) == "u1"
        s.rollback()
    assert db.rows("users", "name") == [("u1",)]


@pytest.mark.claim("session-basics.rollback-pending-then-deleted-transient")
def test_pending_then_deleted_object_transient_after_rollback(session_factory, db):
    """add + flush + delete + flush + rollback -> transient (pending wins)."""
    with session_factory() as s:
        u = User(name="short-lived")
        s.add(u)
        s.flush()
        s.delete(u)
        s.flush()
        assert flags(u) == {"deleted"}
        s.rollback()
        assert flags(u) == {"transient"} and u not in s


@pytest.mark.claim("session-basics.rollback-expires-despite-expire-on-commit")
def test_rollback_expires_even_with_expire_on_commit_false(session_factory, db):
    """expire_on_commit=False does not stop rollback() expiring."""
    with session_factory(expire_on_commit=False) as s:
        u = User(name="loaded")
        s.add(u)
        s.commit()
        assert "name" in u.__dict__
        s.scalar(select(User.id))  # begin a transaction
        s.rollback()
        assert "name" not in u.__dict__ and inspect(u).expired_attributes >= {"name"}


@pytest.mark.claim("session-basics.context-manager-closes")
def test_session_context_manager_closes(engine, db):
    """`with Session(engine) as session:` closes it."""
    with Session(engine) as s:
        u = User(name="ctx")
        s.add(u)
        s.flush()
        assert checked_out(db) == 1
    assert checked_out(db) == 0 and flags(u) == {"detached"} and object_session(u) is None
    with Session(engine) as s:
        s.add(User(name="kept"))
        s.commit()
        kept = s.scalars(select(User)).one()
    assert flags(kept) == {"detached"} and checked_out(db) == 0


@pytest.mark.claim("session-basics.sessionmaker-begin-block")
def test_sessionmaker_begin_commits_and_closes(engine, db):
    """`with Session.begin() as session:` commits then closes; an error rolls back."""
    factory = sessionmaker(engine)
    with factory.begin() as s:
        u = User(name="framed")
        s.add(u)
    assert db.rows("users", "name") == [("framed",)]
    assert flags(u) == {"detached"} and checked_out(db) == 0
    with pytest.raises(RuntimeError, match="^boom$"), factory.begin() as s:
        s.add(User(name="lost"))
        s.flush()
        raise RuntimeError("boom")
    assert db.rows("users", "name") == [("framed",)] and checked_out(db) == 0



@pytest.mark.claim("session-basics.not-a-query-cache", "session-basics.session-of-an-object")
def test_identity_map_is_no_query_cache(session_factory, db):
    """filter_by(name=...) always SELECTs; get() by key need not.  object_session()."""
    with session_factory() as s:
        s.add(User(name="bar"))
        s.commit()
        foo = s.scalars(select(User).filter_by(name="bar")).one()
        with claim("session-basics.not-a-query-cache"):
            with capture_sql(db.engine) as sql:
                again = s.scalars(select(User).filter_by(name="bar")).one()
            assert again is foo and len([q for q in sql if q.lstrip().upper().startswith("SELECT")]) == 1
            with capture_sql(db.engine) as sql:
                assert s.get(User, foo.id) is foo
            assert sql == []
        with claim("session-basics.session-of-an-object"):
            assert Session.object_session(foo) is s and inspect(foo).session is s
            stray = User(name="stray")
            assert Session.object_session(stray) is None and inspect(stray).session is None
