"""Fact: Session.close_all()/scoped_session.close_all() deprecated (warning) then removed in 2.1; close_all_sessions()."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session, Session
Base, User = mk_base()
reg = scoped_session(sessionmaker(bind=mem_engine(Base)))
s = reg(); u = User(name="x"); s.add(u)
step("reg.close_all()", lambda: reg.close_all())
step("Session.close_all()", lambda: Session.close_all())
s.add(u)
from sqlalchemy.orm import close_all_sessions
step("close_all_sessions()", lambda: close_all_sessions())
step("u in s after close_all_sessions", lambda: u in s)
