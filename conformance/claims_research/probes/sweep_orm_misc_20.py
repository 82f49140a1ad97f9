"""2.0.0 ORM changes: #7433 re-entrant state change from an event hook; #8703 refresh()
with a pending primary-key change; migration_20 'ORM Rows not uniquified by default'."""
from _sweep import *
from sqlalchemy.orm import joinedload

e = seeded()

def reentrant():
    s = Session(e)
    event.listen(s, "before_commit", lambda sess: sess.close())
    s.add(User(name="r"))
    try:
        s.commit()
        return "commit returned"
    finally:
        s.close()
step("close() inside before_commit", reentrant)
with Session(e) as s0:
    step("  rows after", lambda: s0.execute(text("select name from users order by id")).all())

def refresh_pk(autoflush):
    s = Session(e, autoflush=autoflush)
    u = s.get(User, 1)
    u.id = 7
    try:
        s.refresh(u)
        return (u.id, u.name, inspect(u).key)
    finally:
        s.rollback(); s.close()
step("refresh after pk change autoflush=True", lambda: refresh_pk(True))
step("refresh after pk change autoflush=False", lambda: refresh_pk(False))

def joined():
    with Session(e) as s:
        return [u.name for u in s.execute(select(User).options(joinedload(User.addresses))).scalars().all()]
step("execute(select(User).options(joinedload(User.addresses))).scalars().all()", joined)
