"""#9015 (whatsnew_20 'New transaction join modes'): a Session bound to a Connection
that already has a transaction (and a SAVEPOINT); what commit(), rollback() and close()
do to the external transaction with the default join mode."""
from _sweep import *

e = engine(poolclass=__import__("sqlalchemy.pool", fromlist=["StaticPool"]).StaticPool)

def case(outer_savepoint, end):
    conn = e.connect()
    trans = conn.begin()
    nested = conn.begin_nested() if outer_savepoint else None
    s = Session(bind=conn)
    s.add(User(name="x"))
    s.flush()
    getattr(s, end)()
    s.close()
    out = dict(trans=trans.is_active, nested=(nested.is_active if nested else None),
               in_tx=conn.in_transaction(), in_nested=conn.in_nested_transaction())
    try:
        out["rows"] = conn.execute(text("select count(*) from users")).scalar()
    except Exception as ex:
        out["rows"] = type(ex).__name__
    if trans.is_active:
        trans.rollback()
    conn.close()
    return out

for sp in (False, True):
    for end in ("commit", "rollback", "close"):
        step(f"savepoint={sp} {end}", lambda: case(sp, end))

def close_leaves_savepoint():
    conn = e.connect()
    trans = conn.begin()
    s = Session(bind=conn)
    s.begin_nested()
    s.add(User(name="y"))
    s.flush()
    s.close()
    r = dict(in_nested=conn.in_nested_transaction(), trans=trans.is_active)
    trans.rollback(); conn.close()
    return r
step("session.begin_nested() then close() on an external transaction", close_leaves_savepoint)
