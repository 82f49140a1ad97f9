"""#11163 (2.0.32 warning, 2.1.0 ignored) Session on an Engine whose engine_connect hook
leaves a transaction begun; #11297 (2.1.0) message of the error after a rolled-back
begin() block; #13744/#13745 (2.1.7) begin_nested() re-applying execution options;
#13485 (2.0.52) a failed bulk_* call leaving the Session 'flushing'."""
from _sweep import *
import sqlalchemy.exc as sa_exc

def engine_connect_tx_file():
    import tempfile, os
    d = tempfile.mkdtemp()
    e = create_engine(f"sqlite:///{d}/x.db")
    Base.metadata.create_all(e)
    @event.listens_for(e, "engine_connect")
    def begin(conn, *a):
        conn.begin()
    with Session(e) as s:
        s.add(User(name="ec"))
        s.commit()
    import sqlite3
    c = sqlite3.connect(f"{d}/x.db")
    try:
        return c.execute("select count(*) from users").fetchone()[0]
    finally:
        c.close()
step("engine_connect begins a transaction; Session(engine) add+commit; rows seen elsewhere", engine_connect_tx_file)

def ctx_after_rollback():
    e = seeded()
    s = Session(e)
    try:
        with s.begin():
            s.add(User(id=1, name="dup"))
            try:
                s.flush()
            except sa_exc.IntegrityError:
                pass
            s.execute(select(User.id)).all()
    finally:
        s.close()
step("flush fails inside `with session.begin()`, then further SQL in the block", ctx_after_rollback)

def nested_exec_opts():
    import tempfile
    d = tempfile.mkdtemp()
    e = create_engine(f"sqlite:///{d}/x.db")
    Base.metadata.create_all(e)
    s = Session(e)
    try:
        s.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        sp = s.begin_nested()
        sp.commit()
        return "ok"
    finally:
        s.close()
step("connection(execution_options={'isolation_level': ...}) then begin_nested()", nested_exec_opts)

def nested_conn_opts():
    import tempfile
    d = tempfile.mkdtemp()
    e = create_engine(f"sqlite:///{d}/x.db")
    Base.metadata.create_all(e)
    s = Session(e)
    try:
        c1 = s.connection()
        s.begin_nested()
        c2 = s.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        return (c1 is c2, c2.get_execution_options().get("isolation_level"))
    finally:
        s.close()
step("begin_nested(); connection(execution_options=...) in the SAVEPOINT", nested_conn_opts)

def bulk_flushing():
    e = seeded()
    s = Session(e)
    try:
        s.add(User(id=1, name="dup"))
        try:
            s.flush()
        except sa_exc.IntegrityError:
            pass
        try:
            s.bulk_save_objects([User(name="b")])
        except Exception as ex:
            first = type(ex).__name__
        s.rollback()
        s.add(User(name="after"))
        s.flush()
        return (first, "flush ok")
    finally:
        s.close()
step("failed flush; bulk_save_objects(); rollback(); add + flush", bulk_flushing)
