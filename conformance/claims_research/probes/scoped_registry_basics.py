"""Invariants: same Session in scope, reargs message, remove(), has(), configure() warning, unhashable token, session_factory."""

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

import threading
from sqlalchemy.orm import sessionmaker, scoped_session, Session
Base, User = mk_base()
e = mem_engine(Base)
calls = []
def factory(**kw):
    calls.append(kw); return Session(e, **kw)
reg = scoped_session(sessionmaker(bind=e))
step("registry type default", lambda: type(reg.registry).__name__)
step("has() before first call", lambda: reg.registry.has())
a = reg(); b = reg()
step("a is b", lambda: a is b)
step("reg(autoflush=False) while present", lambda: reg(autoflush=False))
step("configure() while present", lambda: reg.configure(autoflush=False))
ident = id(reg); reg.remove()
step("has() after remove()", lambda: reg.registry.has())
c = reg(expire_on_commit=False)
step("after remove: new session with kwargs", lambda: (c is not a, c.expire_on_commit, c.autoflush))
step("session_factory() is non-scoped new Session", lambda: reg.session_factory() is not reg())
r2 = scoped_session(factory, scopefunc=lambda: tok[0]); tok = ["t1"]
s1 = r2(); tok[0] = "t2"; s2 = r2(); tok[0] = "t1"
step("scopefunc tokens: distinct / same", lambda: (s1 is not s2, r2() is s1, len(calls)))
step("ScopedRegistry type", lambda: type(r2.registry).__name__)
tok[0] = ["unhashable"]
step("unhashable token", lambda: r2())
tok[0] = "t3"
step("remove() on empty scope creates nothing", lambda: (r2.remove(), r2.registry.has(), len(calls))[1:])
out = {}
def t(): out["s"] = reg(); out["same"] = reg() is out["s"]
th = threading.Thread(target=t); th.start(); th.join()
step("other thread gets distinct session", lambda: (out["s"] is not reg(), out["same"]))
step("proxy: reg.add / reg.new", lambda: (reg.add(User(name="p")), len(reg.new), reg.new == reg().new)[1:])
step("classmethod object_session proxy", lambda: reg.object_session(list(reg.new)[0]) is reg())
step("identity_key proxy", lambda: reg.identity_key(User, 1))
