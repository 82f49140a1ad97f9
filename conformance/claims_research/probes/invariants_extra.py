"""Invariants: dirty is optimistic; merge(load=False) emits no SQL; make_transient_to_detached+add no INSERT;
get() of expired object whose row vanished -> ObjectDeletedError; SAVEPOINT rollback expires; no_autoflush; commit with no txn."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

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
