"""State Management (orm/session_state_management): Session attributes,
merging and merge tips, refreshing/expiring, what actually loads."""

import warnings

import pytest
import sqlalchemy.exc
from sqlalchemy import inspect, select
from sqlalchemy.orm import object_session

from sa_conformance.attribution import claim
from sa_conformance.orm_models import Address, User
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql, selects


@pytest.mark.claim(
    "state-management.session-contains-and-iterates",
    "state-management.dirty-computed-on-access",
    "state-management.identity-map-keyed-by-identity-key",
)
def test_session_attributes(session_factory, db):
    """`in`, iteration, dirty (fresh set each access), identity_map by key."""
    with session_factory() as s:
        p = User(name="persistent")
        s.add(p)
        s.commit()
        s.refresh(p)
        pending = User(name="pending")
        s.add(pending)
        outsider = User(name="outsider")
        with claim("state-management.session-contains-and-iterates"):
            assert p in s and pending in s and outsider not in s
            assert set(s) == {p, pending}
        with claim("state-management.identity-map-keyed-by-identity-key"):
            assert s.identity_map[inspect(p).key] is p and len(s.identity_map) == 1
            assert pending not in s.identity_map.values()
        with claim("state-management.dirty-computed-on-access"):
            before = s.dirty
            p.name = "changed"
            after = s.dirty
            assert before is not after and p not in before and p in after


@pytest.mark.claim("state-management.merge-absent-attribute-kept", "state-management.merge-source-reusable")
def test_merge_absent_attribute_and_reusable_source(session_factory, db):
    """A source lacking 'name' leaves the target's loaded name; one source merges
    into several Sessions."""
    with session_factory() as setup:
        setup.add(User(name="db-name"))
        setup.commit()
        uid = setup.scalar(select(User.id))
    with session_factory() as s1, session_factory() as s2:
        with claim("state-management.merge-absent-attribute-kept"):
            target = s1.get(User, uid)
            assert target.__dict__["name"] == "db-name"
            src = User(id=uid)
            assert "name" not in src.__dict__
            merged = s1.merge(src)
            assert merged is target and target.__dict__.get("name") == "db-name"
            assert not s1.is_modified(target)
        with claim("state-management.merge-source-reusable"):
            src.name = "from-source"
            c1 = s1.merge(src)
            assert c1 is target and c1.__dict__["name"] == "from-source"
            s1.rollback()  # one transaction at a time (a memory database has one connection)
            c2 = s2.merge(src)
            assert c2 is not c1 and object_session(c2) is s2 and c2.__dict__["name"] == "from-source"
            assert object_session(src) is None and flags(src) == {"transient"}
            s2.rollback()


@pytest.mark.claim("state-management.merge-tips-no-backref-cascade")
def test_backref_assignment_does_not_cascade_into_session(session_factory, db):
    """2.0+: a1.user = u1 leaves a1 outside the Session; autoflush warns."""
    with session_factory() as s:
        u1 = User(name="ed", addresses=[Address(email="ed@ed.com")])
        s.add(u1)
        s.commit()
        existing = u1.addresses[0]
        a1 = Address(id=existing.id)
        a1.user = u1
        assert a1 not in s and flags(a1) == {"transient"}
        with pytest.warns(
            sqlalchemy.exc.SAWarning,
            match=r"^Object of type <Address> not in session, add operation along 'User.addresses' will not proceed",
        ):
            s.flush()
        s.rollback()


@pytest.mark.claim("state-management.merge-tips-backref-cascade")
def test_backref_assignment_cascades_into_session_in_1_4(session_factory, db):
    """1.4: a1.user = u1 makes a1 pending in u1's Session."""
    with session_factory() as s:
        u1 = User(name="ed", addresses=[Address(email="ed@ed.com")])
        s.add(u1)
        s.commit()
        a1 = Address(email="new@ed.com")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 1.4's RemovedIn20Warning about cascade_backrefs
            a1.user = u1
        assert a1 in s and flags(a1) == {"pending"}
        s.rollback()


@pytest.mark.claim("state-management.expire-discards-unflushed-changes", "state-management.expire-dict-emptied")
@pytest.mark.parametrize("how", ["expire", "refresh"])
def test_expire_and_refresh_discard_unflushed_changes(session_factory, db, how):
    """user.name = 'user2'; expire/refresh -> 'user1' again; __dict__ emptied by expire."""
    with session_factory() as s:
        s.add(User(name="user1"))
        s.commit()
        user = s.scalars(select(User).filter_by(name="user1").limit(1)).first()
        assert {"id", "name"} <= set(user.__dict__)
        user.name = "user2"
        if how == "expire":
            s.expire(user)
            with claim("state-management.expire-dict-emptied"):
                assert set(user.__dict__) == {"_sa_instance_state"}
                with capture_sql(db.engine) as sql:
                    name = user.name
                assert len(selects(sql)) == 1 and {"id", "name"} <= set(user.__dict__)
        else:
            s.refresh(user)
            name = user.name
        with claim("state-management.expire-discards-unflushed-changes"):
            assert name == "user1" and not s.dirty


@pytest.mark.claim("state-management.expired-relationship-loads-on-its-own")
def test_expired_column_access_does_not_load_relationship(session_factory, db):
    """Column access after expire() loads columns only; the relationship loads on
    its own access."""
    with session_factory() as s:
        s.add(User(name="r", addresses=[Address(email="r@x")]))
        s.commit()
        u = s.scalars(select(User)).one()
        assert len(u.addresses) == 1
        s.expire(u)
        with capture_sql(db.engine) as sql:
            _ = u.name
        assert len(selects(sql)) == 1 and "addresses" not in sql[-1].split("FROM")[1].split("WHERE")[0]
        assert "addresses" not in u.__dict__
        with capture_sql(db.engine) as sql:
            emails = [a.email for a in u.addresses]
        assert emails == ["r@x"] and len(selects(sql)) == 1 and "addresses" in sql[-1]
