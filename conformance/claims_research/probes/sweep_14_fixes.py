"""1.4.x fixes: #8614 (1.4.42) bind_arguments not mutated; #8467 (1.4.41) Session-class
listeners kept when a sessionmaker gets its own; #6067 (1.4.1) Session.identity_key();
#6360 (1.4.12) autobegin on attribute change; #6233 (1.4.7) flush autobegins."""
from _sweep import *

e = seeded()

def bindargs():
    s = Session(e)
    try:
        ba = {"mapper": inspect(User)}
        s.execute(select(User), bind_arguments=ba)
        return sorted(ba)
    finally:
        s.close()
step("bind_arguments={'mapper': ...} keys after execute(select(User))", bindargs)

def listeners():
    seen = []
    class MySession(Session):
        pass
    event.listen(MySession, "after_begin", lambda *a: seen.append("class"))
    sm = sessionmaker(e, class_=MySession)
    event.listen(sm, "after_begin", lambda *a: seen.append("sessionmaker"))
    with sm() as s:
        s.execute(select(User.id)).all()
    return seen
step("listeners on Session subclass and on sessionmaker", listeners)

def ident():
    with Session(e) as s:
        u = s.get(User, 1)
        return (Session.identity_key(User, 1), s.identity_key(instance=u))
step("Session.identity_key(User, 1), identity_key(instance=u)", ident)

def autobegin_attr():
    s = Session(e, expire_on_commit=False)
    try:
        u = s.get(User, 1)
        s.commit()
        u.name = "changed"
        t = s.in_transaction()
        s.rollback()
        return (t, u.name)
    finally:
        s.close()
step("after commit: u.name = 'changed'; (in_transaction, name after rollback)", autobegin_attr)

def flush_begins():
    s = Session(e)
    try:
        s.add(User(name="f"))
        s.flush()
        t = s.in_transaction()
        s.rollback()
        with e.connect() as c:
            return (t, c.execute(text("select count(*) from users")).scalar())
    finally:
        s.close()
step("add; flush; rollback: (in_transaction, rows)", flush_begins)
