"""Fact: Session.begin() when the Session already has a transaction (explicit or autobegun) raises InvalidRequestError."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import Session
Base, User = mk_base()
e = mem_engine(Base)
for fut in ([False, True] if sa.__version__.startswith("1.") else [None]):
    kw = {} if fut is None else {"future": fut}
    s = Session(e, **kw); s.begin()
    step(f"future={fut} begin() twice", lambda: s.begin())
    s.close()
    s = Session(e, **kw); s.execute(select(User))
    step(f"future={fut} begin() after autobegin", lambda: s.begin())
    s.close()
    s = Session(e, **kw)
    def ctx():
        with s.begin():
            s.add(User(name="ctx"))
        return (s.in_transaction(), rows_elsewhere(e) if e.url.database else None)
    step(f"future={fut} with s.begin(): commits", lambda: (ctx()[0], s.execute(select(func.count()).select_from(User.__table__)).scalar()))
    s.close()
