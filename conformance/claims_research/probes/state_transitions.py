"""Invariants: transient->pending->persistent->detached; rollback pending->transient; add(detached)->persistent;
expunge; merge returns target/leaves source; make_transient; make_transient_to_detached; pk None then set."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

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
