"""Invariants: commit() expires all loaded instances by default (reload SQL on access); expire_on_commit=False keeps them;
detached expired object raises DetachedInstanceError on access."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session
from sqlalchemy import event
import sqlalchemy.orm.exc as orm_exc
Base, User = mk_base()
e = file_engine(Base)
n = []
event.listen(e, "before_cursor_execute", lambda *a: n.append(a[2].split()[0]))
s = Session(e); u = User(name="a"); s.add(u); s.commit()
step("after commit: __dict__ has name? / expired attrs", lambda: ("name" in u.__dict__, sorted(inspect(u).expired_attributes)))
n.clear(); step("access after commit emits SELECT", lambda: (u.name, n[:]))
import sqlite3; c = sqlite3.connect(e.url.database); c.execute('UPDATE "user" SET name = \'changed\''); c.commit(); c.close()
s.commit(); step("new state loaded after external change", lambda: u.name)
s2 = Session(e, expire_on_commit=False); v = s2.get(User, inspect(u).identity[0]); s2.commit()
step("expire_on_commit=False: still loaded", lambda: ("name" in v.__dict__, v.name))
s.commit(); s.close()
step("expired then detached: access", lambda: u.name)
uid = inspect(u).identity[0]
s3 = Session(e); w = s3.get(User, uid); s3.expire(w, ["name"])
step("expire(attr): expired attrs", lambda: sorted(inspect(w).expired_attributes))
s3.rollback(); step("rollback expires too", lambda: "name" in w.__dict__)
