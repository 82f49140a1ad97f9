"""#13711 (2.0.56; 2.1.6): a flush that replaces an expired object in the identity map with a
new object of the same primary key emits no SELECT and no 'Identity map already had an
identity' warning; #6284 (1.4.26) Session.execute(Query) warns."""
from _sweep import *
import sqlalchemy.exc as sa_exc

e = seeded()

def replace_expired():
    s = Session(e)
    sql = record(e)
    try:
        old = s.get(User, 1)
        s.execute(text("DELETE FROM addresses WHERE user_id = 1"))
        s.execute(text("DELETE FROM users WHERE id = 1"))
        s.expire(old)
        del sql[:]
        s.add(User(id=1, name="again"))
        s.flush()
        return (list(sql), s.get(User, 1) is old)
    finally:
        s.rollback(); s.close()
step("expire(old); row deleted; add(User(id=1)); flush -> (statements, get() is old)", replace_expired)

def exec_query():
    with Session(e) as s:
        return s.execute(s.query(User.name)).all()
step("Session.execute(session.query(User.name))", exec_query)
