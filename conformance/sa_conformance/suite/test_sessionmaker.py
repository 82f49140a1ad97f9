"""sessionmaker is a factory that keeps Session configuration in one place
(seed 003; seed 001 configures the bind afterwards)."""

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from sa_conformance.orm_models import User


@pytest.mark.claim("sessionmaker.factory-new-session-each-call")
def test_each_call_returns_new_independent_session(session_factory, db):
    """s1 = factory(); s2 = factory(): different Sessions with separate state."""
    with session_factory() as s1, session_factory() as s2:
        assert isinstance(s1, Session) and s1 is not s2
        s1.add(User(name="only-in-s1"))
        assert len(s1.new) == 1 and len(s2.new) == 0


@pytest.mark.claim("sessionmaker.kwargs-become-session-settings")
def test_factory_kwargs_reach_every_session(engine, db):
    """bind/autoflush/expire_on_commit given once apply to each Session."""
    factory = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)
    for _ in range(2):
        with factory() as s:
            assert s.get_bind() is engine
            assert s.autoflush is False and s.expire_on_commit is False
            u = User(name="x")
            s.add(u)
            assert s.query(User).count() == 0  # autoflush off
            s.commit()
            assert not inspect(u).expired_attributes  # expire_on_commit off
            s.delete(u)
            s.commit()


@pytest.mark.claim("sessionmaker.call-kwargs-override")
def test_call_kwargs_override_for_that_session_only(engine, db):
    """factory(expire_on_commit=True) overrides only that Session."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory(expire_on_commit=True) as special, factory() as plain:
        assert special.expire_on_commit is True and plain.expire_on_commit is False


@pytest.mark.claim("sessionmaker.configure-bind-later")
def test_configure_bind_after_construction(engine, db):
    """session = sessionmaker(); session.configure(bind=engine) (seed 001)."""
    session = sessionmaker()
    session.configure(bind=engine)
    with session() as s:
        assert s.get_bind() is engine
        s.add(User(name="John"))
        s.commit()
    assert db.rows("users", "name") == [("John",)]


@pytest.mark.claim("sessionmaker.session-direct-equivalent")
def test_session_constructed_directly_matches_factory(engine, db):
    """Session(bind=engine, expire_on_commit=False) == sessionmaker(...)() in behaviour."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    for make in (lambda: Session(bind=engine, expire_on_commit=False), factory):
        with make() as s:
            assert isinstance(s, Session) and s.get_bind() is engine and s.expire_on_commit is False
            u = User(name="e")
            s.add(u)
            s.commit()
            assert not inspect(u).expired_attributes
            s.delete(u)
            s.commit()
