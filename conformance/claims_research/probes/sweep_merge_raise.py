"""#8862 (1.4.45): Session.merge() of an object whose relationship is mapped lazy='raise'
(or viewonly) but loaded on the source object."""
from _probe import *
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Session, relationship, selectinload
try:
    from sqlalchemy.orm import declarative_base
except ImportError:
    from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()
class P(Base):
    __tablename__ = "p"
    id = Column(Integer, primary_key=True)
    kids = relationship("K", lazy="raise", cascade="all, merge")
    kids_view = relationship("K", viewonly=True)
class K(Base):
    __tablename__ = "k"
    id = Column(Integer, primary_key=True)
    p_id = Column(Integer, ForeignKey("p.id"))

e = mem_engine(Base)
with Session(e) as s:
    s.add(P(id=1, kids=[K(id=1)])); s.commit()

def merge(opt):
    with Session(e) as s:
        p = s.execute(select(P).options(selectinload(getattr(P, opt)))).scalar_one()
        s.expunge_all()
    with Session(e) as s2:
        m = s2.merge(p)
        return [k.id for k in m.__dict__.get(opt, [])], opt in m.__dict__
step("merge(p) with kids (lazy='raise') loaded", lambda: merge("kids"))
step("merge(p) with kids_view (viewonly) loaded", lambda: merge("kids_view"))
