"""Fact: Query.one() with no row -> NoResultFound; message text per version (seed says 'No row was found for one()')."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker
import sqlalchemy.orm.exc as orm_exc, sqlalchemy.exc as sa_exc
Base, User = mk_base()
s = sessionmaker(bind=mem_engine(Base))()
step("query.one() no row", lambda: s.query(User).filter(User.name == "Mariana").one())
step("select scalars one() no row", lambda: s.execute(select(User).where(User.name == "x")).scalars().one())
step("orm.exc.NoResultFound is exc.NoResultFound", lambda: orm_exc.NoResultFound is sa_exc.NoResultFound)
s.add_all([User(name="a"), User(name="a")]); s.commit()
step("query.one() two rows", lambda: s.query(User).filter(User.name == "a").one())
step("query.one_or_none() no row", lambda: s.query(User).filter(User.name == "zz").one_or_none())
