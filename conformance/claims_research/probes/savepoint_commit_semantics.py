"""Fact: Session.commit()/rollback() while a begin_nested() SAVEPOINT is open: which level ends (1.4 legacy vs future/2.x)."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

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
