"""#9549 (2.0.8) delete() cascade through a lazy='raise' (raiseload) relationship;
#10089 (2.0.19) bulk-setting a collection that already holds a backref-associated object;
#8862 (1.4.45) merge() of an object whose loaded relationship is raiseload."""
from _sweep import *
from sqlalchemy.orm import raiseload

e = seeded()

def delete_raise():
    s = Session(e)
    try:
        u = s.get(User, 1, options=[raiseload(User.addresses)])
        s.delete(u)
        s.flush()
        return s.execute(text("select count(*) from addresses")).scalar()
    finally:
        s.rollback(); s.close()
step("delete(u) with raiseload(User.addresses)", delete_raise)

def coll_set():
    s = Session(e)
    try:
        u = s.get(User, 1)
        current = list(u.addresses)  # collection loaded
        a = Address(email="new")
        a.user = u  # backref appends a to u.addresses
        before = a in s
        u.addresses = current + [a]  # bulk set: a already a member
        return (before, a in s)
    finally:
        s.rollback(); s.close()
step("a.user = u; u.addresses = loaded + [a]: (a in s before, after)", coll_set)

def pending_backref_unloaded():
    s = Session(e)
    try:
        u = s.get(User, 1)  # collection not loaded
        a = Address(email="new")
        a.user = u
        s.flush()
        return (a in s, s.execute(text("select count(*) from addresses")).scalar())
    finally:
        s.rollback(); s.close()
step("a.user = u (collection unloaded); flush: (a in s, address rows)", pending_backref_unloaded)

def merge_raise():
    with Session(e) as s1:
        u = s1.get(User, 1)
        u.addresses  # load
        s1.expunge(u)
    with Session(e) as s1:
        u2 = s1.execute(select(User).options(raiseload(User.addresses)).execution_options(populate_existing=True)).scalar_one()
    s = Session(e)
    try:
        m = s.merge(u)
        return [a.email for a in m.addresses]
    finally:
        s.close()
step("merge(detached u with loaded addresses)", merge_raise)
