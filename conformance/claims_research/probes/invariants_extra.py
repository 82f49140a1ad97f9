"""Invariants: dirty is optimistic; merge(load=False) emits no SQL; make_transient_to_detached+add no INSERT;
get() of expired object whose row vanished -> ObjectDeletedError; SAVEPOINT rollback expires; no_autoflush; commit with no txn."""

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

from sqlalchemy.orm import Session, make_transient_to_detached, scoped_session, sessionmaker
from sqlalchemy import event
Base, User = mk_base()
e = file_engine(Base)
sql = []
event.listen(e, "before_cursor_execute", lambda c, cur, st, *a: sql.append(st.split()[0]))
s = Session(e); u = User(id=1, name="a"); s.add(u); s.commit(); u.name
u.name = "a"
step("same-value set: in dirty / is_modified", lambda: (u in s.dirty, s.is_modified(u)))
sql.clear(); s.flush(); step("flush emitted", lambda: list(sql))
s.commit(); u.name; s.expunge(u)
s2 = Session(e); sql.clear(); m = s2.merge(u, load=False)
step("merge(load=False): SQL, state", lambda: (list(sql), inspect(m).persistent, m is not u))
x = User(id=1, name="a"); make_transient_to_detached(x); s3 = Session(e); s3.add(x); sql.clear(); s3.commit()
step("make_transient_to_detached+add+commit SQL", lambda: (list(sql), inspect(x).detached or inspect(x).persistent))
s4 = Session(e); y = s4.get(User, 1); s4.commit()
import sqlite3; c = sqlite3.connect(e.url.database); c.execute('DELETE FROM "user"'); c.commit(); c.close()
step("get() of expired object whose row is gone", lambda: s4.get(User, 1))
s5 = Session(e); z = User(id=2, name="before"); s5.add(z); s5.commit(); z.name
nested = s5.begin_nested(); z.name = "inside"; s5.flush(); nested.rollback()
step("after SAVEPOINT rollback: expired? value", lambda: ("name" not in z.__dict__, z.name))
s5.commit()
reg = scoped_session(sessionmaker(bind=e)); reg.add(User(id=3, name="na"))
def na():
    with reg.no_autoflush:
        return reg.query(User).filter(User.id == 3).first()
step("query inside no_autoflush finds pending?", na)
s6 = Session(e); sql.clear(); s6.commit(); step("commit() on unused Session: SQL", lambda: list(sql))
step("rollback() on unused Session", lambda: (s6.rollback(), list(sql))[1])
s7 = Session(e); w = User(id=9, name="w"); s7.add(w); s7.commit()
c = sqlite3.connect(e.url.database); c.execute('DELETE FROM "user" WHERE id = 9'); c.commit(); c.close()
step("attribute access of expired object whose row is gone", lambda: w.name)
