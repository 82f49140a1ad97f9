"""Fact: sessionmaker(autocommit=False, ...) as in seeds 000/003: accepted in 1.4, rejected from 2.0 (param removed)."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session, Session
Base, User = mk_base()
e = mem_engine(Base)
f = step("sessionmaker(autocommit=False, autoflush=False, bind=e)", lambda: sessionmaker(autocommit=False, autoflush=False, bind=e))
step("factory() with autocommit=False", lambda: type(f()).__name__)
step("Session(e, autocommit=True)", lambda: Session(e, autocommit=True).autocommit)
step("hasattr(Session(e), 'autocommit')", lambda: hasattr(Session(e), "autocommit"))
reg = scoped_session(sessionmaker(autocommit=False, autoflush=True, bind=e))
step("scoped_session(sessionmaker(autocommit=False, autoflush=True))()", lambda: reg().autoflush)
