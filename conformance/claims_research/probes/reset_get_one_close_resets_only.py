"""Fact: Session.reset(), Session.get_one(), close_resets_only (2.0.22+) and their scoped_session proxies."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session, Session
Base, User = mk_base()
e = mem_engine(Base)
reg = scoped_session(sessionmaker(bind=e))
step("hasattr(Session,'reset')", lambda: hasattr(Session, "reset"))
step("hasattr(scoped_session,'reset')", lambda: hasattr(scoped_session, "reset"))
step("reg.get_one(User, 99)", lambda: reg.get_one(User, 99))
s = step("Session(e, close_resets_only=False)", lambda: Session(e, close_resets_only=False))
if isinstance(s, Session):
    s.add(User(name="a")); s.commit(); s.close()
    step("closed-final session .execute()", lambda: s.execute(select(User)).all())
    step("closed-final session .add()", lambda: s.add(User(name="b")))
    s.reset()
    step("after reset(), execute()", lambda: len(s.execute(select(User)).all()))
s3 = Session(e, close_resets_only=False) if sa.__version__ >= "2.0.22" else None
if s3 is not None:
    s3.add(User(name="r")); s3.reset()
    step("close_resets_only=False: reset() then reuse", lambda: (len(s3.new), len(s3.execute(select(User)).all())))
s2 = Session(e); s2.add(User(name="c")); s2.commit(); s2.close()
step("default close_resets_only: reuse after close()", lambda: len(s2.execute(select(User)).all()))
