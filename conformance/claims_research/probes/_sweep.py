"""Shared setup of the changelog-sweep probes (changelog_sweep.md): a User/Address
mapping like the suite's (delete-orphan collection with a back_populates backref),
an in-memory SQLite engine, a statement recorder.  `from _sweep import *`."""

from _probe import *  # noqa: F401,F403  (prints the SQLAlchemy version, step())
from sqlalchemy import ForeignKey, event
from sqlalchemy.orm import Session, relationship, sessionmaker

try:
    from sqlalchemy.orm import declarative_base
except ImportError:  # pragma: no cover
    from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    addresses = relationship("Address", back_populates="user", cascade="all, delete-orphan")


class Address(Base):
    __tablename__ = "addresses"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"))
    email = Column(String(50))
    user = relationship("User", back_populates="addresses")


def engine(**kw):
    e = create_engine("sqlite://", **kw)
    Base.metadata.create_all(e)
    return e


def seeded(**kw):
    """An engine with user 1 ('u1') holding address 1 ('a1')."""
    e = engine(**kw)
    with e.begin() as c:
        c.execute(User.__table__.insert(), {"id": 1, "name": "u1"})
        c.execute(Address.__table__.insert(), {"id": 1, "user_id": 1, "email": "a1"})
    return e


def record(e):
    """A list that collects every statement the engine runs."""
    sql = []
    event.listen(e, "before_cursor_execute", lambda c, cur, s, p, ctx, many: sql.append(s.split()[0]))
    return sql
