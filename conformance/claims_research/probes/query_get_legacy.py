"""Fact: Query.get() legacy warning per version; Session.get() equivalent."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session
Base, User = mk_base()
e = mem_engine(Base)
s = Session(e); s.add(User(id=5, name="five")); s.commit()
step("s.query(User).get(5)", lambda: s.query(User).get(5))
step("s.get(User, 5)", lambda: s.get(User, 5))
step("s.query(User).filter(...).first()", lambda: s.query(User).filter(User.id == 5).first())
