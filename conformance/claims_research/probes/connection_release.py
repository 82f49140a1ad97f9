"""Invariants: after commit()/rollback()/close()/remove() the Session holds no pooled connection until SQL is emitted again."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import QueuePool
Base, User = mk_base()
e = file_engine(Base, poolclass=QueuePool, connect_args={"check_same_thread": False})
s = Session(e)
step("new Session: checkedout", lambda: e.pool.checkedout())
s.add(User(name="a")); s.flush()
step("after flush: checkedout", lambda: e.pool.checkedout())
s.commit()
step("after commit: checkedout / in_transaction", lambda: (e.pool.checkedout(), s.in_transaction()))
s.query(User).all()
step("after query: checkedout", lambda: e.pool.checkedout())
s.rollback()
step("after rollback: checkedout", lambda: e.pool.checkedout())
reg = scoped_session(sessionmaker(bind=e)); reg.add(User(name="uncommitted")); reg.flush()
step("scoped flush: checkedout", lambda: e.pool.checkedout())
reg.remove()
step("after remove(): checkedout, rows elsewhere", lambda: (e.pool.checkedout(), rows_elsewhere(e)))
