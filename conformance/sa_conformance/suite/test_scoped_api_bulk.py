"""Seed 002's Contextual Session API: the legacy bulk methods' parameters
(render_nulls, update_changed_only), through the scoped_session proxy."""

import pytest
from sqlalchemy import Column, Integer, String, select, text
from sqlalchemy.orm import registry

from sa_conformance.orm_models import Address, User
from sa_conformance.testing import capture_sql

_labels = registry()


class Labelled(_labels.generate_base()):
    """A table with a server default (the models' tables have none)."""

    __tablename__ = "sa_conformance_labels"

    id = Column(Integer, primary_key=True, autoincrement=True)
    label = Column(String(20), nullable=True, server_default=text("'dflt'"))


@pytest.fixture
def labels_table(engine, db):
    _labels.metadata.create_all(engine)
    yield Labelled.__table__
    _labels.metadata.drop_all(engine)


@pytest.mark.claim("scoped-api.bulk-insert-render-nulls")
def test_bulk_insert_render_nulls(scoped, labels_table, db):
    """None omitted -> server default; render_nulls=True -> NULL."""
    try:
        scoped.bulk_insert_mappings(Labelled, [{"id": 1, "label": None}])
        scoped.bulk_insert_mappings(Labelled, [{"id": 2, "label": None}], render_nulls=True)
        scoped.commit()
        assert db.rows(labels_table.name, "id", "label") == [(1, "dflt"), (2, None)]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.bulk-save-update-changed-only")
def test_bulk_save_update_changed_only(scoped, session_factory, db):
    """Default: SET only the changed column; update_changed_only=False: all."""
    with session_factory(expire_on_commit=False) as setup:
        u = User(name="owner", addresses=[Address(email="a@x"), Address(email="b@x")])
        setup.add(u)
        setup.commit()
        a, b = u.addresses
    try:
        a.email = "a2@x"
        b.email = "b2@x"
        with capture_sql(db.engine) as sql:
            scoped.bulk_save_objects([a])
            scoped.bulk_save_objects([b], update_changed_only=False)
        updates = [q.split(" SET ")[1].split(" WHERE ")[0] for q in sql if q.lstrip().upper().startswith("UPDATE")]
        assert len(updates) == 2
        assert "email" in updates[0] and "user_id" not in updates[0]
        assert "email" in updates[1] and "user_id" in updates[1]
        scoped.commit()
        assert db.rows("addresses", "email") == [("a2@x",), ("b2@x",)]
        assert scoped.scalar(select(Address.user_id).where(Address.email == "b2@x")) == u.id
    finally:
        scoped.remove()
