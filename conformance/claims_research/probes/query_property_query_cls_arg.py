"""Fact: query_property(query_cls) callable receives the Mapper (1.4) or the mapped class (2.0+)."""

# --- standalone probe preamble (needs only sqlalchemy + the stdlib sqlite3) ---
import os, sys, warnings, tempfile
os.environ.setdefault("SQLALCHEMY_WARN_20", "1")  # 1.4: surface RemovedIn20Warning
warnings.simplefilter("always")
import sqlalchemy as sa
from sqlalchemy import Column, Integer, String, create_engine, inspect, select, text, func
print("sqlalchemy", sa.__version__)

def step(label, fn):
    """Run fn, print its return value or exception (module.Class: message) and any warnings."""
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            r = fn()
            print(f"{label}: returned {r!r}")
        except Exception as e:
            r = e
            print(f"{label}: raised {type(e).__module__}.{type(e).__name__}: {e}")
    for w in ws:
        print(f"    warning {w.category.__name__}: {w.message}")
    return r

def mk_base():
    try:
        from sqlalchemy.orm import declarative_base
    except ImportError:  # pragma: no cover
        from sqlalchemy.ext.declarative import declarative_base
    Base = declarative_base()
    class User(Base):
        __tablename__ = "user"
        id = Column(Integer, primary_key=True)
        name = Column(String(50))
        def __repr__(self):
            return f"<User {self.__dict__.get('id')!r} {self.__dict__.get('name')!r}>"
    return Base, User

def file_engine(Base, **kw):
    path = os.path.join(tempfile.mkdtemp(), "probe.db")
    e = create_engine(f"sqlite:///{path}", **kw)
    Base.metadata.create_all(e)
    return e

def mem_engine(Base, **kw):
    e = create_engine("sqlite://", **kw)
    Base.metadata.create_all(e)
    return e

def rows_elsewhere(engine, sql='SELECT name FROM "user" ORDER BY id'):
    """Rows as seen from a fresh, independent DBAPI connection."""
    import sqlite3
    c = sqlite3.connect(engine.url.database)
    try:
        return [tuple(r) for r in c.execute(sql)]
    finally:
        c.close()
# --- end preamble ---

from sqlalchemy.orm import sessionmaker, scoped_session, Query, declarative_base
from sqlalchemy.orm import Mapper
reg = scoped_session(sessionmaker(bind=create_engine("sqlite://")))
seen = {}
def qcls(entity, session=None):
    seen["entity"] = entity; seen["session"] = session
    return Query(entity, session=session)
class BaseModel(object):
    query = reg.query_property()
    q2 = reg.query_property(qcls)
Base = declarative_base(cls=BaseModel)
class User(Base):
    __tablename__ = "user"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
Base.metadata.create_all(reg.session_factory.kw["bind"])
step("User.query type", lambda: type(User.query).__name__)
step("User.query.filter(...).first()", lambda: User.query.filter(User.id == 1).first())
step("User.query.session is reg()", lambda: User.query.session is reg())
step("User.q2 is Query", lambda: isinstance(User.q2, Query))
step("query_cls positional is Mapper", lambda: isinstance(seen["entity"], Mapper))
step("query_cls positional is User class", lambda: seen["entity"] is User)
step("query_cls session is reg()", lambda: seen["session"] is reg())
