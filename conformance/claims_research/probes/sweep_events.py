"""#12216 (2.0.37) one listener on two sessionmakers, then removed from both;
#12921 (2.1.0) do_orm_execute may replace ORMExecuteState.parameters;
#10721 (2.1.0) legacy after_bulk_update/after_bulk_delete listener signatures."""
from _sweep import *
from sqlalchemy import update

e = seeded()

def listen_two():
    seen = []
    def fn(session, tx, conn):
        seen.append(session.info["n"])
    sm1, sm2 = sessionmaker(e, info={"n": 1}), sessionmaker(e, info={"n": 2})
    event.listen(sm1, "after_begin", fn)
    event.listen(sm2, "after_begin", fn)
    for sm in (sm1, sm2):
        with sm() as s:
            s.execute(select(User.id)).all()
    event.remove(sm1, "after_begin", fn)
    event.remove(sm2, "after_begin", fn)
    for sm in (sm1, sm2):
        with sm() as s:
            s.execute(select(User.id)).all()
    return seen
step("one listener on two sessionmakers; remove from both", listen_two)

def params():
    s = Session(e)
    @event.listens_for(s, "do_orm_execute")
    def swap(state):
        if state.is_select:
            state.parameters = {"n": "u1"}
    try:
        return s.execute(select(User.name).where(User.name == sa.bindparam("n")), {"n": "nobody"}).all()
    finally:
        s.close()
step("do_orm_execute sets state.parameters = {'n': 'u1'}", params)

def legacy_sig():
    s = Session(e)
    seen = []
    def legacy(session, query, query_context, result):
        seen.append("legacy")
    try:
        event.listen(s, "after_bulk_update", legacy)
        s.query(User).filter(User.id == 1).update({"name": "z"})
        return seen
    finally:
        s.rollback(); s.close()
step("after_bulk_update listener with the legacy (session, query, query_context, result) signature", legacy_sig)
