"""Seed 002's Contextual Session API, member by member: the loading members
(execute, scalar, scalars, get, get_one, query, refresh, identity_key,
QueryPropertyDescriptor), each used through the scoped_session proxy."""

import re

import pytest
import sqlalchemy
import sqlalchemy.exc
import sqlalchemy.orm.exc
from sqlalchemy import func, insert, inspect, select, text, update
from sqlalchemy.engine import Result, Row
from sqlalchemy.orm import Query, Session, declarative_base, selectinload, sessionmaker
from sqlalchemy.orm.util import identity_key

from sa_conformance.attribution import claim
from sa_conformance.catalogue import parse_version
from sa_conformance.messages import exact, row_deleted
from sa_conformance.orm_models import Address, User, metadata
from sa_conformance.testing import capture_sql, selects

SA = parse_version(sqlalchemy.__version__)


def _seed_users(session_factory, *names):
    with session_factory() as s:
        s.add_all([User(name=n) for n in names])
        s.commit()
        return [s.scalar(select(User.id).where(User.name == n)) for n in names]


@pytest.mark.claim("scoped-api.execute-returns-result")
def test_execute_returns_result_of_identity_map_objects(scoped, session_factory, db):
    """execute(select(User).where(...)) -> Result of Rows holding the Session's objects."""
    (uid,) = _seed_users(session_factory, "x")
    try:
        u = scoped.get(User, uid)
        result = scoped.execute(select(User).where(User.id == uid))
        assert isinstance(result, Result)
        row = result.one()
        assert isinstance(row, Row) and row[0] is u
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.execute-params-executemany")
def test_execute_params_single_and_many(scoped, db):
    """One dictionary: one execution; a list of dictionaries: executemany."""
    try:
        stmt = insert(User.__table__)
        scoped.execute(stmt, {"name": "one"})
        scoped.execute(stmt, [{"name": "m1"}, {"name": "m2"}, {"name": "m3"}])
        scoped.commit()
        assert db.rows("users", "name") == [("m1",), ("m2",), ("m3",), ("one",)]
        got = scoped.execute(text("SELECT name FROM users WHERE name = :n"), {"n": "m2"}).scalar()
        assert got == "m2"
    finally:
        scoped.remove()


class _RecordingSession(Session):
    """Records the keyword arguments get_bind() receives."""

    seen: list

    def get_bind(self, mapper=None, **kw):
        self.seen.append(dict(kw, mapper=mapper))
        kw.pop("shard", None)  # our own routing key (1.4's get_bind takes no **kw)
        return super().get_bind(mapper, **kw)


@pytest.mark.claim("scoped-api.execute-bind-arguments-to-get-bind", "scoped-api.connection-bind-arguments")
def test_bind_arguments_reach_get_bind(make_scoped, engine, db):
    """bind_arguments={...} of execute()/connection() arrive in get_bind(**kw)."""
    reg = make_scoped(sessionmaker(bind=engine, class_=_RecordingSession))
    try:
        reg().seen = []
        with claim("scoped-api.execute-bind-arguments-to-get-bind"):
            reg.execute(select(func.count(User.id)), bind_arguments={"shard": "east"})
            assert any(call.get("shard") == "east" for call in reg().seen)
        with claim("scoped-api.connection-bind-arguments"):
            reg().seen.clear()
            conn = reg.connection(bind_arguments={"shard": "west"})
            assert any(call.get("shard") == "west" for call in reg().seen)
            assert conn.engine is engine
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.scalar-first-value", "scoped-api.scalars-elements-not-rows")
def test_scalar_and_scalars(scoped, session_factory, db):
    """scalar(): first column of first row (None without rows); scalars(): objects."""
    _seed_users(session_factory, "a", "b")
    try:
        with claim("scoped-api.scalar-first-value"):
            assert scoped.scalar(select(User.name).order_by(User.name)) == "a"
            assert scoped.scalar(select(User.name).where(User.name == "none")) is None
            assert scoped.scalar(select(func.count(User.id))) == 2
        with claim("scoped-api.scalars-elements-not-rows"):
            result = scoped.scalars(select(User).order_by(User.name))
            assert isinstance(result, sqlalchemy.engine.ScalarResult)
            items = result.all()
            assert [type(i) for i in items] == [User, User] and [i.name for i in items] == ["a", "b"]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-identity-map-no-sql", "scoped-api.get-ident-forms")
def test_get_uses_identity_map_then_select(scoped, session_factory, db):
    """get(): identity map hit without SQL; miss -> SELECT; no row -> None.
    Scalar, tuple and dict identifiers name the same instance."""
    (uid,) = _seed_users(session_factory, "g")
    try:
        with claim("scoped-api.get-identity-map-no-sql"):
            with capture_sql(db.engine) as sql:
                u = scoped.get(User, uid)
            assert len(selects(sql)) == 1 and u.name == "g"
            with capture_sql(db.engine) as sql:
                again = scoped.get(User, uid)
            assert again is u and sql == []
            with capture_sql(db.engine) as sql:
                assert scoped.get(User, uid + 999) is None
            assert len(selects(sql)) == 1
        with claim("scoped-api.get-ident-forms"):
            assert scoped.get(User, (uid,)) is u and scoped.get(User, {"id": uid}) is u
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-expired-row-gone")
@pytest.mark.requires("independent_connections")
def test_get_of_expired_object_whose_row_is_gone(scoped, session_factory, db):
    """Fully expired + row deleted elsewhere: get() SELECTs and returns None; the
    stale object raises ObjectDeletedError naming it."""
    (uid,) = _seed_users(session_factory, "doomed")
    try:
        u = scoped.get(User, uid)
        scoped.commit()  # expires u; ends the transaction
        with db.observer.begin() as conn:  # committed on another connection
            conn.exec_driver_sql("DELETE FROM users")
        assert inspect(u).expired
        with capture_sql(db.engine) as sql:
            got = scoped.get(User, uid)
        assert got is None and len(selects(sql)) >= 1
        with pytest.raises(sqlalchemy.orm.exc.ObjectDeletedError, match=row_deleted(u)):
            _ = u.name
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-populate-existing")
def test_get_populate_existing_reloads(scoped, session_factory, db):
    """populate_existing=True: SELECT although in the identity map; new values."""
    (uid,) = _seed_users(session_factory, "old")
    try:
        u = scoped.get(User, uid)
        scoped.execute(update(User.__table__).values(name="new"))  # Core: the ORM object is not told
        assert scoped.get(User, uid).name == "old"
        with capture_sql(db.engine) as sql:
            same = scoped.get(User, uid, populate_existing=True)
        assert same is u and len(selects(sql)) == 1 and u.name == "new"
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-one-missing-raises")
def test_get_one_returns_or_raises(scoped, session_factory, db):
    """get_one(): the instance, or NoResultFound 'No row was found when one was required'."""
    (uid,) = _seed_users(session_factory, "one")
    try:
        u = scoped.get_one(User, uid)
        assert u is scoped.get(User, uid)
        with pytest.raises(sqlalchemy.exc.NoResultFound, match=exact("No row was found when one was required")):
            scoped.get_one(User, uid + 999)
        assert sqlalchemy.exc.NoResultFound is sqlalchemy.orm.exc.NoResultFound
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.identity-key-alias")
def test_identity_key_is_the_util_function(scoped, session_factory, db):
    """identity_key(User, 5) == (User, (5,), None); instance= form; no Session made."""
    (uid,) = _seed_users(session_factory, "k")
    try:
        assert scoped.identity_key(User, 5) == (User, (5,), None) == identity_key(User, 5)
        assert not scoped.registry.has(), "a classmethod proxy needs no Session"
        u = scoped().get(User, uid)  # Session.get: the scoped_session proxy of get() is 1.4.4+
        assert scoped.identity_key(instance=u) == (User, (uid,), None) == inspect(u).key
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.query-new-query")
def test_query_returns_new_query_on_current_session(scoped, session_factory, db):
    """query(User): a new Query per call, on the scope's Session."""
    _seed_users(session_factory, "q")
    try:
        q1, q2 = scoped.query(User), scoped.query(User)
        assert isinstance(q1, Query) and q1 is not q2
        assert q1.session is scoped() and q2.session is scoped()
        (u,) = q1.all()
        assert u in scoped() and q2.one() is u
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.query-property-descriptor-type")
def test_query_property_descriptor_annotation(scoped, session_factory, db):
    """`query: QueryPropertyDescriptor = Session.query_property()` works."""
    from sqlalchemy.orm import QueryPropertyDescriptor

    _seed_users(session_factory, "foo")
    try:

        class MyClass(declarative_base()):
            __table__ = metadata.tables["users"]
            query: QueryPropertyDescriptor = scoped.query_property()

        q = MyClass.query
        assert isinstance(q, Query) and q.session is scoped()
        assert MyClass.query.filter(MyClass.name == "foo").one().name == "foo"
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.refresh-attribute-names", "expire.refresh-immediate-select")
def test_refresh_named_attributes_only(scoped, session_factory, db):
    """refresh(obj, ['email']): one SELECT, email reloaded, user_id untouched."""
    with session_factory() as setup:
        setup.add_all([User(name="one", addresses=[Address(email="old@x")]), User(name="two")])
        setup.commit()
    try:
        a = scoped.scalars(select(Address)).one()
        old_user_id = a.user_id
        other_id = scoped.scalar(select(User.id).where(User.name == "two"))
        scoped.execute(update(Address.__table__).values(email="new@x", user_id=other_id))  # the ORM is not told
        with claim("expire.refresh-immediate-select"), capture_sql(db.engine) as sql:
            scoped.refresh(a, ["email"])
        assert len(selects(sql)) == 1 and a.__dict__["email"] == "new@x"
        with claim("scoped-api.refresh-attribute-names"):
            assert "user_id" not in selects(sql)[0].split("FROM")[0]
            assert a.__dict__["user_id"] == old_user_id, "an attribute not named keeps its in-memory value"
    finally:
        scoped.remove()


def _committed_user(scoped, with_address: bool) -> User:
    """A committed (hence expired) User "rel", with one Address "r@x" when asked: the
    object the refresh-of-a-relationship claims refresh."""
    u = User(name="rel", addresses=[Address(email="r@x")] if with_address else [])
    scoped.add(u)
    scoped.commit()
    return u


@pytest.mark.claim("scoped-api.refresh-named-lazy-relationship")
def test_refresh_loads_named_lazy_relationship(scoped, db):
    """refresh(obj, ['addresses']) loads it now; refresh(obj) leaves it lazy."""
    try:
        u = _committed_user(scoped, with_address=True)
        scoped.refresh(u)
        assert "addresses" not in u.__dict__, "a lazy relationship is not refreshed implicitly"
        with capture_sql(scoped.get_bind()) as sql:
            scoped.refresh(u, ["addresses"])
        assert "addresses" in u.__dict__ and len(selects(sql)) >= 1
        assert [a.email for a in u.__dict__["addresses"]] == ["r@x"]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.refresh-relationship-only-raises")
def test_refresh_relationship_only_raises_in_1_4(scoped, db):
    """In 1.4 naming only a relationship in refresh() is an error, which says to use expire()."""
    try:
        u = _committed_user(scoped, with_address=False)
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=re.escape(
                "No column-based properties specified for refresh operation. "
                "Use session.expire() to reload collections and related items.")):
            scoped.refresh(u, ["addresses"])
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.refresh-relationship-only-ignored")
def test_refresh_relationship_only_is_ignored_from_2_0_0_to_2_0_3(scoped, db):
    """2.0.0-2.0.3: refresh() naming only a lazy relationship returns without loading it."""
    try:
        u = _committed_user(scoped, with_address=True)
        with capture_sql(db.engine) as sql:
            scoped.refresh(u, ["addresses"])
        assert "addresses" not in u.__dict__, "the named lazy relationship must stay unloaded"
        assert not any("addresses" in str(q).lower() for q in sql), f"no SELECT of addresses expected: {sql}"
    finally:
        scoped.remove()



@pytest.mark.claim("scoped-api.execute-execution-options", "scoped-api.get-options")
def test_execution_and_loader_options(scoped, session_factory, db):
    """execute(..., execution_options={'populate_existing': True}); get(..., options=[...])."""
    with session_factory() as setup:
        setup.add(User(name="opt", addresses=[Address(email="o@x")]))
        setup.commit()
        uid = setup.scalar(select(User.id))
    try:
        with claim("scoped-api.get-options"):
            with capture_sql(db.engine) as sql:
                u = scoped.get(User, uid, options=[selectinload(User.addresses)])
            assert "addresses" in u.__dict__ and len(selects(sql)) == 2
            with capture_sql(db.engine) as sql:
                assert [a.email for a in u.addresses] == ["o@x"]
            assert sql == []
        with claim("scoped-api.execute-execution-options"):
            scoped.execute(update(User.__table__).values(name="opt2"))
            assert scoped.execute(select(User)).scalar_one().name == "opt"
            scoped.execute(select(User), execution_options={"populate_existing": True}).all()
            assert u.name == "opt2"
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-bind-clause-table")
def test_get_bind_by_table_in_clause(make_scoped, engine, db):
    """binds={users: X}: get_bind(clause=select(users)) is X."""
    marked = engine.execution_options(sa_conformance_marker="users")
    reg = make_scoped(sessionmaker(binds={User.__table__: marked, Address.__table__: engine}))
    try:
        assert reg.get_bind(clause=select(User.__table__)) is marked
        assert reg.get_bind(clause=select(Address.__table__)) is engine
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.refresh-eager-loaded-relationship")
def test_refresh_reloads_eagerly_loaded_relationship(scoped, session_factory, db):
    """Loaded with selectinload -> refresh() reloads the collection too."""
    with session_factory() as setup:
        setup.add(User(name="eager", addresses=[Address(email="e@x")]))
        setup.commit()
    try:
        u = scoped.scalars(select(User).options(selectinload(User.addresses))).one()
        scoped.execute(update(Address.__table__).values(email="e2@x"))
        with capture_sql(db.engine) as sql:
            scoped.refresh(u)
        assert len(selects(sql)) == 2 and "addresses" in u.__dict__
        assert [a.email for a in u.__dict__["addresses"]] == ["e2@x"]
    finally:
        scoped.remove()
