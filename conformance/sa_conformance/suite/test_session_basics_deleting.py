"""Session Basics, "Deleting": related rows without a delete cascade."""

import pytest
import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.orm import registry, relationship

from sa_conformance.orm_models import Address, User, metadata
from sa_conformance.testing import capture_sql

_reg = registry()
_Base = _reg.generate_base()


class PlainChild(_Base):
    __table__ = metadata.tables["addresses"]


class PlainParent(_Base):
    """users with a plain relationship (default cascade: save-update, merge)."""

    __table__ = metadata.tables["users"]
    children = relationship(PlainChild, overlaps="addresses,user")


@pytest.mark.claim("session-basics.delete-sets-null-by-default")
def test_delete_without_cascade_nulls_foreign_keys(session_factory, db):
    """delete(parent): UPDATE addresses SET user_id=NULL -> IntegrityError (NOT NULL)."""
    with session_factory() as s:
        s.add(User(name="p", addresses=[Address(email="c@x")]))
        s.commit()
    with session_factory() as s:
        parent = s.scalars(select(PlainParent)).one()
        s.delete(parent)
        with capture_sql(db.engine) as sql, pytest.raises(sqlalchemy.exc.IntegrityError):
            s.flush()
        updates = [q for q in sql if q.lstrip().upper().startswith("UPDATE ADDRESSES SET USER_ID")]
        assert updates, sql
        assert not [q for q in sql if q.lstrip().upper().startswith("DELETE FROM ADDRESSES")]
        s.rollback()
    assert db.rows("addresses", "email") == [("c@x",)] and db.rows("users", "name") == [("p",)]
