"""Fact: is_active / in_transaction() on a brand-new Session, after close, after failed flush."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session
Base, User = mk_base()
e = mem_engine(Base)
s = Session(e)
step("new Session.is_active", lambda: s.is_active)
step("new Session.in_transaction()", lambda: s.in_transaction())
step("get_transaction() on new Session", lambda: s.get_transaction())
s.execute(select(User))
step("after execute: in_transaction()", lambda: s.in_transaction())
s.commit()
step("after commit: in_transaction()", lambda: s.in_transaction())
s.add(User(id=1, name="a")); s.commit()
s.add(User(id=1, name="dup"))
step("flush with PK conflict", lambda: s.flush())
step("is_active after failed flush", lambda: s.is_active)
step("execute in partial rollback", lambda: s.execute(select(User)).all())
s.rollback()
step("is_active after rollback()", lambda: s.is_active)
step("hasattr(Session, 'transaction')", lambda: hasattr(s, "transaction"))
