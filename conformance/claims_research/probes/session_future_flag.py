"""Fact: Session(future=...) / sessionmaker(future=True) acceptance per version; Session.future attribute."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session, Session
Base, User = mk_base()
e = mem_engine(Base)
step("Session(e, future=True).future", lambda: Session(e, future=True).future)
step("Session(e).future (default)", lambda: Session(e).future)
step("Session(e, future=False)", lambda: Session(e, future=False).future)
reg = scoped_session(sessionmaker(autoflush=False, bind=e, future=True), scopefunc=__import__("threading").get_ident)
step("reg(future=True) first call", lambda: type(reg(future=True)).__name__)
step("reg(future=True) second call", lambda: reg(future=True))
reg.remove()
step("reg(future=False) after remove", lambda: reg(future=False).future)
step("reg.registry.has() after failed call", lambda: reg.registry.has())
