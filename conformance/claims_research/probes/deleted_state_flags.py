"""Fact: delete() -> persistent until flush -> deleted after flush -> detached after commit; _sa_instance_state.persistent False."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session
Base, User = mk_base()
e = mem_engine(Base)
s = Session(e); m = User(name="Mary"); s.add(m); s.commit()
f = lambda: {k: getattr(inspect(m), k) for k in ("transient","pending","persistent","deleted","detached")}
s.delete(m)
step("after delete()", f)
step("m in s.deleted", lambda: m in s.deleted)
s.flush()
step("after flush()", f)
s.commit()
step("after commit()", f)
step("m.id after delete commit", lambda: m.id)
step("m._sa_instance_state.persistent", lambda: m._sa_instance_state.persistent)
s2 = Session(e); m2 = User(name="Z"); s2.add(m2); s2.commit(); s2.delete(m2); s2.flush(); s2.rollback()
step("deleted then rollback -> persistent again", lambda: {k: getattr(inspect(m2), k) for k in ("persistent","deleted","detached")})
