"""migration_20: Session.execute() of a plain string, Session.execute(**kw) bind
arguments (#5573), Session.begin(subtransactions=True), Session.connection(close_with_result=...)."""
from _sweep import *

e = seeded()
s = Session(e)
step("execute('SELECT name FROM users')", lambda: s.execute("SELECT name FROM users").all())
s.rollback()
step("execute(select(User), mapper=User)", lambda: s.execute(select(User.name), mapper=User).all())
s.rollback()
def sub():
    s.begin()
    t = s.begin(subtransactions=True)
    return type(t).__name__
step("begin(subtransactions=True)", sub)
s.close()
step("connection(close_with_result=True)", lambda: s.connection(close_with_result=True))
s.close()
