"""Fact: query_property() used outside a class body -> descriptor object without .filter; error text; class name."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session
Base, User = mk_base()
reg = scoped_session(sessionmaker(bind=mem_engine(Base)))
q = reg.query_property()
step("type(q).__name__", lambda: type(q).__name__)
step("q.filter(...)", lambda: q.filter(User.id == 1))
step("hasattr(q, 'filter')", lambda: hasattr(q, "filter"))
