"""Invariant: thread-local scope: a thread that ends without remove() leaves no Session behind (garbage collected)."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

import threading, gc, weakref
from sqlalchemy.orm import sessionmaker, scoped_session
from sqlalchemy.pool import QueuePool
Base, User = mk_base()
e = file_engine(Base, poolclass=QueuePool, connect_args={"check_same_thread": False})
reg = scoped_session(sessionmaker(bind=e)); refs = []
def work():
    s = reg(); refs.append(weakref.ref(s)); s.execute(select(User)).all()
th = threading.Thread(target=work); th.start(); th.join(); del th; gc.collect()
step("session gone after thread end / pool checkedout", lambda: (refs[0]() is None, e.pool.checkedout()))
