"""scoped_session.query_property(): a class-level legacy Query against the
current scope's Session."""

import pytest
from sqlalchemy.orm import Mapper, Query, declarative_base, sessionmaker

from sa_conformance.attribution import claim
from sa_conformance.orm_models import metadata
from sa_conformance.scoping_harness import SYNC_SCOPE_MODES, harness, make_harness, scope_mode  # noqa: F401

sync_modes = pytest.mark.parametrize("scope_mode", SYNC_SCOPE_MODES, indirect=True)


class RecordingQuery(Query):
    """A custom Query that records how query_property constructed it."""

    calls = []

    def __init__(self, entities, session=None):
        RecordingQuery.calls.append((entities, session))
        super().__init__(entities, session=session)


class OtherQuery(Query):
    pass


def seed_models(registry, **qp_kw):
    """Seed 000's pattern: class BaseModel: query = db_session.query_property();
    Base = declarative_base(cls=BaseModel)."""

    class BaseModel(object):
        query = registry.query_property(**qp_kw)

    Base = declarative_base(cls=BaseModel)

    class Employee(Base):
        __table__ = metadata.tables["users"]

    return Employee


def insert_names(harness, *names):
    with harness.session_factory.begin() as s:
        s.execute(metadata.tables["users"].insert(), [{"name": n} for n in names])


@sync_modes
@pytest.mark.claim("query-property.class-attribute")
def test_seed_base_model_query_property(harness):
    """Seed 000: Employees.query.filter(Employees.emp_no == 16621).first() works
    when query = query_property() is a class attribute of the declarative base."""
    Employee = seed_models(harness.registry)
    insert_names(harness, "Strehl", "Other")

    def find():
        q = Employee.query
        assert isinstance(q, Query)
        row = q.filter(Employee.name == "Strehl").first()
        return q, row

    q, row = harness.run(0, find)
    assert type(row) is Employee and row.name == "Strehl"
    assert q.session is harness.sync_session(harness.call(0))
    assert harness.run(0, lambda: Employee.query.count()) == 2
    harness.remove(0)


@sync_modes
@pytest.mark.claim("query-property.current-scope-session")
def test_query_property_binds_to_the_current_scope(harness):
    """"produces a ... Query object against the class and the current Session
    when called" -- two scopes, two Sessions."""
    Employee = seed_models(harness.registry)
    insert_names(harness, "x")
    assert harness.has(0) is False
    q0 = harness.run(0, lambda: Employee.query)
    assert harness.has(0) is True, "accessing the property creates the scope's Session"
    s0 = harness.call(0)
    assert q0.session is s0
    obj0 = harness.run(0, lambda: Employee.query.one())
    harness.rollback(0)
    q1 = harness.run(1, lambda: Employee.query)
    s1 = harness.call(1)
    assert q1.session is s1 and s1 is not s0
    obj1 = harness.run(1, lambda: Employee.query.one())
    assert obj1 is not obj0 and obj0 in s0 and obj1 in s1 and obj1 not in s0
    harness.remove(0)
    harness.remove(1)


@pytest.mark.claim("query-property.default-query-class")
def test_default_is_the_sessions_query_class(db, make_scoped):
    """"Produces instances of the session's configured query class by default.\""""
    registry = make_scoped(factory=sessionmaker(bind=db.engine, query_cls=OtherQuery))
    Employee = seed_models(registry)
    assert type(Employee.query) is OtherQuery
    assert Employee.query.session is registry()
    registry.remove()


@pytest.mark.claim("query-property.query-cls-gets-mapper")
def test_query_cls_called_with_mapper_and_session_1_4(db, scoped):
    """1.4: "The callable will be invoked with the class's mapper as a
    positional argument and a session keyword argument.\""""
    RecordingQuery.calls.clear()
    Employee = seed_models(scoped, query_cls=RecordingQuery)
    q = Employee.query
    assert type(q) is RecordingQuery
    [(entities, session)] = RecordingQuery.calls
    assert isinstance(entities, Mapper) and entities.class_ is Employee
    assert session is scoped()
    scoped.remove()


@pytest.mark.claim("query-property.query-cls-gets-class")
def test_query_cls_called_with_class_and_session_2_x(db, scoped):
    """2.0+: query_cls(owner_class, session=current Session)."""
    RecordingQuery.calls.clear()
    Employee = seed_models(scoped, query_cls=RecordingQuery)
    q = Employee.query
    assert type(q) is RecordingQuery
    [(entities, session)] = RecordingQuery.calls
    assert entities is Employee
    assert session is scoped()
    scoped.remove()


@sync_modes
@pytest.mark.claim("query-property.query-cls-gets-class", "query-property.current-scope-session")
def test_query_cls_gets_the_current_scope_session(harness):
    """The session keyword handed to query_cls is the current scope's Session."""
    RecordingQuery.calls.clear()
    Employee = seed_models(harness.registry, query_cls=RecordingQuery)
    q0 = harness.run(0, lambda: Employee.query)
    q1 = harness.run(1, lambda: Employee.query)
    with claim("query-property.query-cls-gets-class"):
        assert type(q0) is RecordingQuery and type(q1) is RecordingQuery
    with claim("query-property.current-scope-session"):
        sessions = [s for _, s in RecordingQuery.calls]
        assert sessions[0] is harness.call(0) and sessions[1] is harness.call(1) and len(sessions) == 2
    harness.remove(0)
    harness.remove(1)


@pytest.mark.claim("query-property.outside-class-no-filter")
def test_query_property_outside_a_class_has_no_filter(scoped):
    """Seed 000: query = database_sesssion.query_property(); query.filter(...)
    -> AttributeError: 'query' object has no attribute 'filter'."""
    query = scoped.query_property()
    assert not isinstance(query, Query)
    with pytest.raises(AttributeError, match=r"'query' object has no attribute 'filter'"):
        query.filter
    assert scoped.registry.has() is False, "a bare descriptor must not create a Session"


@pytest.mark.claim("query-property.multiple-properties")
def test_several_query_properties_on_one_class(db, scoped):
    """"There is no limit to the number of query properties placed on a class.\""""

    class BaseModel(object):
        query = scoped.query_property()
        recording = scoped.query_property(query_cls=RecordingQuery)
        other = scoped.query_property(query_cls=OtherQuery)

    Base = declarative_base(cls=BaseModel)

    class Employee(Base):
        __table__ = metadata.tables["users"]

    assert type(Employee.query) is Query
    assert type(Employee.recording) is RecordingQuery
    assert type(Employee.other) is OtherQuery
    session = scoped()
    assert Employee.query.session is session and Employee.other.session is session
    assert Employee.recording.session is session
    scoped.remove()
