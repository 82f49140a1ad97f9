"""Invariants: commit() expires all loaded instances by default (reload SQL on access); expire_on_commit=False keeps them;
detached expired object raises DetachedInstanceError on access."""

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

from sqlalchemy.orm import Session
from sqlalchemy import event
import sqlalchemy.orm.exc as orm_exc
Base, User = mk_base()
e = file_engine(Base)
n = []
event.listen(e, "before_cursor_execute", lambda *a: n.append(a[2].split()[0]))
s = Session(e); u = User(name="a"); s.add(u); s.commit()
step("after commit: __dict__ has name? / expired attrs", lambda: ("name" in u.__dict__, sorted(inspect(u).expired_attributes)))
n.clear(); step("access after commit emits SELECT", lambda: (u.name, n[:]))
import sqlite3; c = sqlite3.connect(e.url.database); c.execute('UPDATE "user" SET name = \'changed\''); c.commit(); c.close()
s.commit(); step("new state loaded after external change", lambda: u.name)
s2 = Session(e, expire_on_commit=False); v = s2.get(User, inspect(u).identity[0]); s2.commit()
step("expire_on_commit=False: still loaded", lambda: ("name" in v.__dict__, v.name))
s.commit(); s.close()
step("expired then detached: access", lambda: u.name)
uid = inspect(u).identity[0]
s3 = Session(e); w = s3.get(User, uid); s3.expire(w, ["name"])
step("expire(attr): expired attrs", lambda: sorted(inspect(w).expired_attributes))
s3.rollback(); step("rollback expires too", lambda: "name" in w.__dict__)
