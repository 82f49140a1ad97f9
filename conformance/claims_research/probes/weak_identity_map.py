"""Fact: identity map references clean objects weakly; pending/dirty objects strongly."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

import gc
from sqlalchemy.orm import Session
Base, User = mk_base()
e = mem_engine(Base)
s = Session(e); s.add_all([User(name="a"), User(name="b")]); s.commit()
objs = s.query(User).all(); n = len(s.identity_map)
del objs; gc.collect()
step("identity_map size after dropping clean refs", lambda: (n, len(s.identity_map)))
u = s.query(User).first(); u.name = "dirty"; uid = id(u); del u; gc.collect()
step("dirty object kept alive (identity_map size, dirty count)", lambda: (len(s.identity_map), len(s.dirty)))
s.add(User(name="pending")); gc.collect()
step("pending kept alive in s.new", lambda: len(s.new))
