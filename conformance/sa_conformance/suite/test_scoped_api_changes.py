"""Seed 002's Contextual Session API: members whose behaviour changed at an
exact release (#6067 identity_key in 1.4.0, #11661 bulk_insert_mappings
return_defaults regression 2.0.0 .. 2.0.31, #10816 flush(objects) deprecated in 2.1)."""

import warnings

import pytest

from sa_conformance.messages import exact
from sa_conformance.orm_models import User
from sa_conformance.state_helpers import state_flags as flags


@pytest.mark.claim("scoped-api.identity-key-broken")
def test_identity_key_broken_in_140(scoped, db):
    """1.4.0: scoped_session.identity_key() raises AttributeError (fixed in 1.4.1, #6067)."""
    with pytest.raises(AttributeError, match=exact("module 'sqlalchemy.util' has no attribute 'perload'")):
        scoped.identity_key(User, 5)
    assert scoped.registry.has() is False


@pytest.mark.claim("scoped-api.bulk-insert-return-defaults-regressed")
def test_bulk_insert_return_defaults_leaves_keys_out(scoped, db):
    """2.0.0 .. 2.0.31: return_defaults=True inserts the rows but does not
    write the generated primary keys into the dictionaries (#11661)."""
    rows = [{"name": "b1"}, {"name": "b2"}]
    try:
        scoped.bulk_insert_mappings(User, rows, return_defaults=True)
        assert rows == [{"name": "b1"}, {"name": "b2"}]
        scoped.commit()
        assert db.rows("users", "name") == [("b1",), ("b2",)]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.flush-objects-silent")
def test_flush_objects_parameter_silent(scoped, db):
    """Until 2.1: flush([a]) flushes a only and emits no deprecation warning."""
    try:
        a, b = User(name="a"), User(name="b")
        scoped.add_all([a, b])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scoped.flush([a])
        assert not [w for w in caught if "`objects` parameter" in str(w.message)], [str(w.message) for w in caught]
        assert flags(a) == {"persistent"} and flags(b) == {"pending"}
    finally:
        scoped.remove()
