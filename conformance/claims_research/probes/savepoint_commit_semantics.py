"""Fact: Session.commit()/rollback() while a begin_nested() SAVEPOINT is open: which level ends (1.4 legacy vs future/2.x)."""

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
Base, User = mk_base()
def run(future, op):
    e = file_engine(Base)
    # documented pysqlite SAVEPOINT workaround
    @event.listens_for(e, "connect")
    def _c(dbapi_conn, rec): dbapi_conn.isolation_level = None
    @event.listens_for(e, "begin")
    def _b(conn): conn.exec_driver_sql("BEGIN")
    sqls = []
    @event.listens_for(e, "before_cursor_execute")
    def _x(conn, cur, stmt, *a): sqls.append(" ".join(stmt.split()[:3]))
    @event.listens_for(e, "rollback")
    def _rb(conn): sqls.append("ROLLBACK (dbapi)")
    @event.listens_for(e, "commit")
    def _cm(conn): sqls.append("COMMIT (dbapi)")
    kw = {} if future is None else {"future": future}
    s = Session(e, **kw)
    s.add(User(name="outer")); s.flush()
    s.begin_nested()
    s.add(User(name="inner")); s.flush()
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        getattr(s, op)()
    r = dict(in_transaction=s.in_transaction(), in_nested=s.in_nested_transaction(), rows_elsewhere=rows_elsewhere(e),
             sql=[q for q in sqls if q.upper().startswith(("SAVEPOINT","RELEASE","ROLLBACK","COMMIT","BEGIN"))],
             warnings=[f"{w.category.__name__}: {w.message}" for w in ws])
    s.close()
    return r
for fut in ([False, True] if sa.__version__.startswith("1.") else [None]):
    for op in ("commit", "rollback"):
        step(f"future={fut} {op}() with open SAVEPOINT", lambda: run(fut, op))
