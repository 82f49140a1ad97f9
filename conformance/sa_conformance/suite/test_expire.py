"""Expiration: expire_on_commit, expire(), expire_all(), refresh(), rollback
(seed 003: "all the objects are expired after a commit")."""

import pytest
import sqlalchemy.orm.exc
from sqlalchemy import inspect

from sa_conformance.messages import not_bound_refresh
from sa_conformance.orm_models import User
from sa_conformance.testing import capture_sql, selects


def _one_user(factory, name="orig"):
    s = factory()
    s.add(User(name=name))
    s.commit()
    return s, s.query(User).one()


@pytest.mark.claim("expire.commit-expires-all")
def test_commit_expires_and_next_access_selects(session_factory, db):
    """After commit() attributes are expired; reading one emits a SELECT."""
    s, u = _one_user(session_factory)
    with s:
        assert "name" in inspect(u).dict
        s.commit()
        assert {"id", "name"} <= inspect(u).expired_attributes
        with capture_sql(db.engine) as sql:
            assert u.name == "orig"
        assert len(selects(sql)) == 1


@pytest.mark.claim("expire.expire-on-commit-false")
def test_expire_on_commit_false_keeps_attributes(session_factory, db):
    """expire_on_commit=False: no expiry and no SELECT on access after commit."""
    with session_factory(expire_on_commit=False) as s:
        u = User(name="kept")
        s.add(u)
        s.commit()
        assert not inspect(u).expired_attributes
        with capture_sql(db.engine) as sql:
            assert u.name == "kept"
        assert sql == []


@pytest.mark.claim("expire.reload-new-state")
@pytest.mark.parametrize("expire_on_commit", [True, False])
def test_expired_object_sees_other_connections_change(session_factory, db, expire_on_commit):
    """Expired after commit: the next access loads what another connection committed;
    with expire_on_commit=False the stale value stays."""
    with session_factory(expire_on_commit=expire_on_commit) as s:
        u = User(name="old")
        s.add(u)
        s.commit()
        with db.independent_connection() as conn, conn.begin():
            conn.exec_driver_sql("UPDATE users SET name = 'new'")
        assert u.name == ("new" if expire_on_commit else "old")


@pytest.mark.claim("expire.rollback-expires")
def test_rollback_expires_and_discards_unflushed_change(session_factory, db):
    """rollback() expires persistent objects; the attribute reloads the database value."""
    s, u = _one_user(session_factory)
    with s:
        u.name = "unsaved"
        s.rollback()
        assert "name" in inspect(u).expired_attributes
        with capture_sql(db.engine) as sql:
            assert u.name == "orig"
        assert len(selects(sql)) == 1


@pytest.mark.claim("expire.expire-attributes")
def test_expire_object_and_named_attributes(session_factory, db):
    """expire(obj) expires everything; expire(obj, ['name']) only name."""
    s, u = _one_user(session_factory)
    with s:
        u.id, u.name
        s.expire(u, ["name"])
        assert inspect(u).expired_attributes == {"name"}
        u.name
        s.expire(u)
        assert {"id", "name"} <= inspect(u).expired_attributes
        with capture_sql(db.engine) as sql:
            u.name
        assert len(selects(sql)) == 1


@pytest.mark.claim("expire.expire-all")
def test_expire_all_expires_every_instance(session_factory, db):
    """expire_all() expires each persistent instance."""
    with session_factory() as s:
        s.add_all([User(name="a"), User(name="b")])
        s.commit()
        users = s.query(User).all()
        assert all("name" in inspect(x).dict for x in users)
        s.expire_all()
        assert all("name" in inspect(x).expired_attributes for x in users)


@pytest.mark.claim("expire.refresh-immediate-select")
def test_refresh_selects_immediately(session_factory, db):
    """refresh(obj) emits the SELECT at once and loads current values."""
    s, u = _one_user(session_factory)
    with s:
        u.name = "local"
        with capture_sql(db.engine) as sql:
            s.refresh(u)
        assert len(selects(sql)) == 1
        assert inspect(u).dict["name"] == "orig"


@pytest.mark.claim("expire.detached-expired-raises")
def test_expired_detached_attribute_raises(session_factory, db):
    """An object expired by commit then detached cannot load: DetachedInstanceError."""
    s, u = _one_user(session_factory)
    s.commit()
    s.close()
    with pytest.raises(sqlalchemy.orm.exc.DetachedInstanceError, match=not_bound_refresh(u)):
        u.name


# -- behaviour change: Session.get honours populate_existing in execution_options (2.1.0, #10610)
def _get_with_populate_existing_option(session_factory):
    from sqlalchemy import text

    with session_factory() as s:
        s.add(User(id=1, name="before"))
        s.commit()
        u = s.get(User, 1)
        assert u.name == "before"
        s.execute(text("UPDATE users SET name = 'after' WHERE id = 1"))  # the identity map does not see it
        again = s.get(User, 1, execution_options={"populate_existing": True})
        assert again is u
        return again.name


@pytest.mark.claim("expire.get-populate-existing-option-ignored")
def test_get_populate_existing_execution_option_ignored(session_factory, db):
    """Session.get(cls, pk, execution_options={'populate_existing': True})
    returns the identity-map object without reloading it: a change made in the
    database since it was loaded is not seen."""
    assert _get_with_populate_existing_option(session_factory) == "before"


@pytest.mark.claim("expire.get-populate-existing-option-honoured")
def test_get_populate_existing_execution_option_reloads(session_factory, db):
    """Session.get(cls, pk, execution_options={'populate_existing': True})
    reloads the identity-map object from the database, like
    populate_existing=True."""
    assert _get_with_populate_existing_option(session_factory) == "after"
