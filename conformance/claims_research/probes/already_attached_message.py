"""Fact: adding an object attached to session s1 into s2 raises InvalidRequestError; exact message format."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker
Base, User = mk_base()
Session = sessionmaker(bind=mem_engine(Base))
s1 = Session(); s2 = Session()
print("s1.hash_key", s1.hash_key, "s2.hash_key", s2.hash_key)
j = User(name="Jessica")
s1.add(j)
step("s2.add(obj in s1)", lambda: s2.add(j))
s1.commit()
step("s2.add(persistent obj in s1)", lambda: s2.add(j))
step("s2.merge(obj in s1) is new copy", lambda: s2.merge(j) is not j)
