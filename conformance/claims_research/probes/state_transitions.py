"""Invariants: transient->pending->persistent->detached; rollback pending->transient; add(detached)->persistent;
expunge; merge returns target/leaves source; make_transient; make_transient_to_detached; pk None then set."""

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

from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
Base, User = mk_base()
e = mem_engine(Base)
F = lambda o: tuple(k for k in ("transient","pending","persistent","deleted","detached") if getattr(inspect(o), k))
s = Session(e); d = User(name="David")
step("new", lambda: (F(d), d.id))
s.add(d); step("after add", lambda: (F(d), d.id, d in s.new))
s.commit(); step("after commit", lambda: (F(d), d.id))
s.close(); step("after close", lambda: F(d))
s2 = Session(e); s2.add(d); step("add(detached)", lambda: (F(d), d in s2.new))
p = User(name="P"); s2.add(p); s2.flush(); step("pending after flush", lambda: F(p))
s2.rollback(); step("rollback: flushed-new object", lambda: (F(p), p in s2, inspect(p).key))
s2.expunge(d); step("expunge(persistent)", lambda: (F(d), d in s2))
did = inspect(d).identity[0]; src = User(id=did, name="merged"); t = s2.merge(src)
step("merge", lambda: (t is src, F(src), F(t), t.name, src in s2))
step("merge returns identity-map obj", lambda: t is s2.get(User, did))
make_transient(t); step("make_transient", lambda: (F(t), t.id, t in s2))
x = User(id=77, name="x"); make_transient_to_detached(x); step("make_transient_to_detached", lambda: (F(x), inspect(x).key))
step("expunge(transient)", lambda: s2.expunge(User(name="q")))
step("delete(transient)", lambda: s2.delete(User(name="q")))
s2.add(User(name="a")); s2.expunge_all(); step("expunge_all", lambda: (len(s2.new), len(s2.identity_map)))
