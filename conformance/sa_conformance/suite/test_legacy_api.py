"""Seed spellings whose fate differs by SQLAlchemy version."""

import warnings

import pytest
import sqlalchemy.exc
import sqlalchemy.orm.exc
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from sa_conformance.orm_models import User


@pytest.mark.claim("legacy-api.autocommit-false-accepted")
def test_sessionmaker_autocommit_false_is_accepted_silently(engine, db):
    """sessionmaker(autocommit=False, autoflush=False, bind=engine) works, warning-free."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        factory = sessionmaker(autocommit=False, autoflush=False, bind=engine)
        with factory() as s:
            s.add(User(name="a"))
            s.commit()
    assert db.rows("users", "name") == [("a",)]


@pytest.mark.claim("legacy-api.autocommit-true-accepted")
def test_session_autocommit_true_accepted_in_14(engine, db):
    """1.4: Session(autocommit=True) gives a legacy autocommit Session."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Session(bind=engine, autocommit=True)
    try:
        assert s.autocommit is True
    finally:
        s.close()


@pytest.mark.claim("legacy-api.autocommit-true-rejected")
def test_session_autocommit_true_rejected(engine):
    """2.x: Session(autocommit=True) raises ArgumentError."""
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="autocommit=True is no longer supported"):
        Session(bind=engine, autocommit=True)


@pytest.mark.claim("legacy-api.future-flag-accepted")
def test_future_true_on_sessionmaker_and_session(engine, db):
    """sessionmaker(..., future=True) and Session(future=True) are accepted."""
    factory = sessionmaker(autocommit=False, autoflush=False, bind=engine, future=True)
    with factory() as s1:
        assert s1.execute(text("SELECT 1")).scalar() == 1
    with Session(bind=engine, future=True) as s2:
        assert s2.execute(text("SELECT 1")).scalar() == 1


@pytest.mark.claim("legacy-api.engine-future-false-accepted")
def test_create_engine_future_false_in_14():
    """1.4: create_engine(future=False) gives the legacy Engine; future=True the future one."""
    import sqlalchemy.future

    legacy = create_engine("sqlite://", future=False)
    future = create_engine("sqlite://", future=True)
    try:
        assert not isinstance(legacy, sqlalchemy.future.Engine)
        assert isinstance(future, sqlalchemy.future.Engine)
    finally:
        legacy.dispose()
        future.dispose()


@pytest.mark.claim("legacy-api.engine-future-flag")
def test_create_engine_future_true_ok_false_rejected():
    """2.x: future=True accepted; future=False raises ArgumentError."""
    create_engine("sqlite://", future=True).dispose()
    with pytest.raises(
        sqlalchemy.exc.ArgumentError,
        match=r"The 'future' parameter passed to create_engine\(\) may only be set to True",
    ):
        create_engine("sqlite://", future=False)


@pytest.mark.claim("legacy-api.convert-unicode-deprecated")
def test_convert_unicode_deprecated_in_14():
    """1.4: convert_unicode=True works with SADeprecationWarning."""
    with pytest.warns(sqlalchemy.exc.SADeprecationWarning, match="convert_unicode parameter .* deprecated"):
        eng = create_engine("sqlite://", convert_unicode=True)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        eng.dispose()


@pytest.mark.claim("legacy-api.convert-unicode-rejected")
def test_convert_unicode_rejected():
    """2.x: convert_unicode=True raises TypeError naming the argument."""
    with pytest.raises(TypeError, match=r"Invalid argument\(s\) 'convert_unicode' sent to create_engine\(\)"):
        create_engine("sqlite://", convert_unicode=True)


@pytest.mark.claim("legacy-api.ext-declarative-base-works")
def test_ext_declarative_base_still_works():
    """from sqlalchemy.ext.declarative import declarative_base (seed 001) maps a class."""
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.ext.declarative import declarative_base

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Base = declarative_base()

    class Thing(Base):
        __tablename__ = "thing"
        id = Column(Integer, primary_key=True)
        name = Column(String(20))

    eng = create_engine("sqlite://")
    try:
        Base.metadata.create_all(eng)
        with Session(eng) as s:
            s.add(Thing(name="x"))
            s.commit()
            assert s.query(Thing).one().name == "x"
    finally:
        eng.dispose()


@pytest.mark.claim("legacy-api.ext-declarative-base-moved-warning")
def test_ext_declarative_base_warns_moved():
    """2.x: MovedIn20Warning pointing at sqlalchemy.orm.declarative_base()."""
    from sqlalchemy.ext.declarative import declarative_base

    with pytest.warns(sqlalchemy.exc.MovedIn20Warning, match=r"now available as sqlalchemy\.orm\.declarative_base\(\)"):
        declarative_base()


@pytest.mark.claim("legacy-api.orm-exc-noresultfound-alias")
def test_orm_exc_noresultfound_is_exc_noresultfound(session_factory, db):
    """sqlalchemy.orm.exc.NoResultFound is sqlalchemy.exc.NoResultFound and catches one()."""
    assert sqlalchemy.orm.exc.NoResultFound is sqlalchemy.exc.NoResultFound
    with session_factory() as s:
        with pytest.raises(sqlalchemy.orm.exc.NoResultFound):
            s.query(User).filter(User.name == "none").one()


# -- behaviour change: Session.transaction removed in 2.0.0 ------------------------
@pytest.mark.claim("legacy-api.session-transaction-attribute")
def test_session_transaction_attribute_is_root_transaction(session_factory, db):
    """Session.transaction is the Session's current root SessionTransaction
    (deprecated in 1.4)."""
    with session_factory() as s:
        tx = s.begin()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert s.transaction is tx
        assert s.get_transaction() is tx
        s.rollback()


@pytest.mark.claim("legacy-api.session-transaction-removed")
def test_session_transaction_attribute_removed(session_factory, db):
    """Session.transaction is gone (AttributeError "'Session' object has no
    attribute 'transaction'"); Session.get_transaction() returns the current
    root transaction."""
    with session_factory() as s:
        tx = s.begin()
        with pytest.raises(AttributeError, match=r"^'Session' object has no attribute 'transaction'$"):
            s.transaction  # noqa: B018
        assert s.get_transaction() is tx
        s.rollback()
