"""Invariants: same Session in scope, reargs message, remove(), has(), configure() warning, unhashable token, session_factory."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

import threading
from sqlalchemy.orm import sessionmaker, scoped_session, Session
Base, User = mk_base()
e = mem_engine(Base)
calls = []
def factory(**kw):
    calls.append(kw); return Session(e, **kw)
reg = scoped_session(sessionmaker(bind=e))
step("registry type default", lambda: type(reg.registry).__name__)
step("has() before first call", lambda: reg.registry.has())
a = reg(); b = reg()
step("a is b", lambda: a is b)
step("reg(autoflush=False) while present", lambda: reg(autoflush=False))
step("configure() while present", lambda: reg.configure(autoflush=False))
ident = id(reg); reg.remove()
step("has() after remove()", lambda: reg.registry.has())
c = reg(expire_on_commit=False)
step("after remove: new session with kwargs", lambda: (c is not a, c.expire_on_commit, c.autoflush))
step("session_factory() is non-scoped new Session", lambda: reg.session_factory() is not reg())
r2 = scoped_session(factory, scopefunc=lambda: tok[0]); tok = ["t1"]
s1 = r2(); tok[0] = "t2"; s2 = r2(); tok[0] = "t1"
step("scopefunc tokens: distinct / same", lambda: (s1 is not s2, r2() is s1, len(calls)))
step("ScopedRegistry type", lambda: type(r2.registry).__name__)
tok[0] = ["unhashable"]
step("unhashable token", lambda: r2())
tok[0] = "t3"
step("remove() on empty scope creates nothing", lambda: (r2.remove(), r2.registry.has(), len(calls))[1:])
out = {}
def t(): out["s"] = reg(); out["same"] = reg() is out["s"]
th = threading.Thread(target=t); th.start(); th.join()
step("other thread gets distinct session", lambda: (out["s"] is not reg(), out["same"]))
step("proxy: reg.add / reg.new", lambda: (reg.add(User(name="p")), len(reg.new), reg.new == reg().new)[1:])
step("classmethod object_session proxy", lambda: reg.object_session(list(reg.new)[0]) is reg())
step("identity_key proxy", lambda: reg.identity_key(User, 1))
