"""State Management, "What Actually Loads": deferred columns and expiry."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import deferred, registry

from sa_conformance.orm_models import User, metadata
from sa_conformance.testing import capture_sql, selects

_reg = registry()


class DeferredUser(_reg.generate_base()):
    """The users table with its name column deferred."""

    __table__ = metadata.tables["users"]
    name = deferred(metadata.tables["users"].c.name)


@pytest.mark.claim("state-management.deferred-not-loaded-by-expiry")
def test_deferred_column_loads_only_on_access(session_factory, db):
    """Expired load and refresh() leave a deferred column unloaded."""
    with session_factory() as s:
        s.add(User(name="deferred"))
        s.commit()
        d = s.scalars(select(DeferredUser)).one()
        assert "name" not in d.__dict__
        s.expire(d)
        _ = d.id
        assert "name" not in d.__dict__, "the expired-attribute load skips a deferred column"
        s.refresh(d)
        assert "name" not in d.__dict__, "refresh() skips a deferred column"
        with capture_sql(db.engine) as sql:
            assert d.name == "deferred"
        assert len(selects(sql)) == 1 and "name" in sql[0].split("FROM")[0]
