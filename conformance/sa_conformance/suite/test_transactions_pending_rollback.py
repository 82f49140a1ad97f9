"""Example test: a failed flush leaves the Session's transaction inactive
(PendingRollbackError) until rollback()."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from sa_conformance.orm_models import Item


@pytest.mark.claim("transactions.pending-rollback-after-failed-flush")
def test_failed_flush_needs_rollback(db):
    """"After a flush fails (e.g. IntegrityError), the Session's transaction is
    inactive: using it raises PendingRollbackError 'This Session's transaction
    has been rolled back due to a previous exception during flush.' until
    Session.rollback() is called, after which it is usable again."""
    with Session(db.engine) as setup:
        setup.add(Item(name="kept"))
        setup.commit()
        pk = setup.scalars(Item.__table__.select().with_only_columns(Item.id)).one()
    session = Session(db.engine)
    try:
        dup = Item(id=pk, name="duplicate")
        session.add(dup)
        with pytest.raises(sa_exc.IntegrityError):
            session.flush()
        with pytest.raises(sa_exc.PendingRollbackError, match="This Session's transaction has been rolled back "
                           "due to a previous exception during flush."):
            session.connection()
        assert inspect(dup).transient, "the object whose INSERT failed is transient again"
        session.rollback()
        session.add(Item(name="after"))
        session.commit()
        assert db.rows("items", "name") == [("after",), ("kept",)]
    finally:
        session.close()
