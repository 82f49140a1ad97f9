"""Fact: query_property(query_cls) callable receives the Mapper (1.4) or the mapped class (2.0+)."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session, Query, declarative_base
from sqlalchemy.orm import Mapper
reg = scoped_session(sessionmaker(bind=create_engine("sqlite://")))
seen = {}
def qcls(entity, session=None):
    seen["entity"] = entity; seen["session"] = session
    return Query(entity, session=session)
class BaseModel(object):
    query = reg.query_property()
    q2 = reg.query_property(qcls)
Base = declarative_base(cls=BaseModel)
class User(Base):
    __tablename__ = "user"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
Base.metadata.create_all(reg.session_factory.kw["bind"])
step("User.query type", lambda: type(User.query).__name__)
step("User.query.filter(...).first()", lambda: User.query.filter(User.id == 1).first())
step("User.query.session is reg()", lambda: User.query.session is reg())
step("User.q2 is Query", lambda: isinstance(User.q2, Query))
step("query_cls positional is Mapper", lambda: isinstance(seen["entity"], Mapper))
step("query_cls positional is User class", lambda: seen["entity"] is User)
step("query_cls session is reg()", lambda: seen["session"] is reg())
