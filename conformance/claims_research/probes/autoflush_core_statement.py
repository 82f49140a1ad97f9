"""Fact (2.1 #9809): Session.execute() of a non-ORM (Core/text) statement autoflushes pending objects only from 2.1."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session
Base, User = mk_base()
e = mem_engine(Base)
s = Session(e, autoflush=True)
s.add(User(name="pending"))
step("text() count with pending object", lambda: s.execute(text('SELECT count(*) FROM "user"')).scalar())
step("pending still in s.new", lambda: len(s.new))
s.rollback()
s.add(User(name="pending"))
step("Core select(table) count", lambda: s.execute(select(func.count()).select_from(User.__table__)).scalar())
s.rollback()
s.add(User(name="pending"))
step("ORM select(User) count (autoflush)", lambda: len(s.execute(select(User)).scalars().all()))
s.rollback()
s2 = Session(e, autoflush=False); s2.add(User(name="p"))
step("autoflush=False ORM select", lambda: len(s2.execute(select(User)).scalars().all()))
step("autoflush=False text()", lambda: s2.execute(text('SELECT count(*) FROM "user"')).scalar())
