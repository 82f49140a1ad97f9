"""Object states and every documented transition between them
("State Management", "Session Basics")."""

import gc
import weakref

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient, make_transient_to_detached, object_session

from sa_conformance.orm_models import User
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql


@pytest.mark.claim("states.seed-walk-transient-to-detached")
def test_seed_walk_transient_pending_persistent_detached(session_factory, db):
    """transient -> add -> pending -> commit -> persistent -> close -> detached."""
    david = User(name="David")
    assert flags(david) == {"transient"}
    session = session_factory()
    session.add(david)
    assert flags(david) == {"pending"}
    session.commit()
    assert flags(david) == {"persistent"}
    session.close()
    assert flags(david) == {"detached"}
    assert db.rows("users", "name") == [("David",)]


@pytest.mark.claim("states.five-states")
def test_exactly_one_of_five_states_and_object_session(session_factory):
    """Exactly one of five flags is set at each stage; object_session() is the
    Session exactly for pending, persistent and deleted."""
    u = User(name="u")
    seen = []
    with session_factory() as s:
        def record():
            f = flags(u)
            assert len(f) == 1, f
            (state,) = f
            assert (object_session(u) is s) == (state in ("pending", "persistent", "deleted")), state
            seen.append(state)
        record()
        s.add(u)
        record()
        s.flush()
        record()
        s.delete(u)
        s.flush()
        record()
        s.commit()
        record()
    assert seen == ["transient", "pending", "persistent", "deleted", "detached"]


@pytest.mark.claim("states.pending-to-persistent-on-flush")
def test_flush_makes_pending_persistent_before_commit(session_factory, db):
    """A pending object becomes persistent at flush(), with a primary key."""
    with session_factory() as s:
        u = User(name="f")
        s.add(u)
        s.flush()
        assert flags(u) == {"persistent"}
        assert u.id is not None
        assert inspect(u).key in s.identity_map
        assert u not in s.new


@pytest.mark.claim("states.add-detached-persistent")
def test_add_detached_goes_straight_to_persistent(session_factory, db):
    """add() of a detached object makes it persistent, not pending."""
    with session_factory() as s1:
        u = User(name="d")
        s1.add(u)
        s1.commit()
        s1.expunge(u)
    assert flags(u) == {"detached"}
    with session_factory() as s2, capture_sql(db.engine) as sql:
        s2.add(u)
        assert flags(u) == {"persistent"}
        assert u not in s2.new
        assert inspect(u).key in s2.identity_map
    assert sql == []


@pytest.mark.claim("states.rollback-pending-to-transient")
def test_rollback_returns_pending_and_flushed_new_objects_to_transient(session_factory, db):
    """Pending and flushed-in-this-transaction objects become transient on rollback."""
    with session_factory() as s:
        flushed, pending = User(name="flushed"), User(name="pending")
        s.add(flushed)
        s.flush()
        s.add(pending)
        s.rollback()
        assert flags(flushed) == {"transient"} and flags(pending) == {"transient"}
        assert flushed not in s and pending not in s
        assert len(s.identity_map) == 0 and not s.new
    assert db.rows("users") == []


@pytest.mark.claim("states.delete-then-flush-deleted")
def test_delete_keeps_persistent_until_flush_then_deleted(session_factory, db):
    """delete() -> still persistent, in session.deleted; flush -> deleted."""
    with session_factory() as s:
        u = User(name="x")
        s.add(u)
        s.commit()
        s.delete(u)
        assert flags(u) == {"persistent"} and u in s.deleted
        s.flush()
        assert flags(u) == {"deleted"} and u not in s.deleted
        assert inspect(u).key not in s.identity_map
        s.commit()
    assert db.rows("users") == []


@pytest.mark.claim("states.deleted-rollback-persistent")
def test_rollback_after_flushed_delete_restores_persistent(session_factory, db):
    """Rolling back a flushed delete makes the object persistent again."""
    with session_factory() as s:
        u = User(name="keep")
        s.add(u)
        s.commit()
        s.delete(u)
        s.flush()
        s.rollback()
        assert flags(u) == {"persistent"}
        assert inspect(u).key in s.identity_map
    assert db.rows("users", "name") == [("keep",)]


@pytest.mark.claim("states.expunge-detaches")
def test_expunge_persistent_detaches_and_pending_becomes_transient(session_factory, db):
    """expunge(): persistent -> detached, pending -> transient."""
    with session_factory() as s:
        p, n = User(name="p"), User(name="n")
        s.add(p)
        s.commit()
        s.add(n)
        s.expunge(p)
        s.expunge(n)
        assert flags(p) == {"detached"} and flags(n) == {"transient"}
        assert inspect(p).key not in s.identity_map and n not in s.new
        assert object_session(p) is None and object_session(n) is None


@pytest.mark.claim("states.expunge-all")
def test_expunge_all_empties_session(session_factory, db):
    """expunge_all(): every persistent object detached, every pending transient."""
    with session_factory() as s:
        p, n = User(name="p"), User(name="n")
        s.add(p)
        s.commit()
        s.add(n)
        s.expunge_all()
        assert flags(p) == {"detached"} and flags(n) == {"transient"}
        assert len(s.identity_map) == 0 and not s.new


@pytest.mark.claim("states.close-detaches")
def test_close_detaches_persistent_and_transients_pending(session_factory, db):
    """close(): persistent -> detached, pending -> transient."""
    s = session_factory()
    p, n = User(name="p"), User(name="n")
    s.add(p)
    s.commit()
    p.name  # load
    s.add(n)
    s.close()
    assert flags(p) == {"detached"} and flags(n) == {"transient"}
    assert len(s.identity_map) == 0 and not s.new


@pytest.mark.claim("states.merge-returns-other-instance")
@pytest.mark.parametrize("source_state", ["transient", "detached"])
def test_merge_returns_a_different_instance_and_leaves_source_alone(session_factory, db, source_state):
    """merge(src) returns another instance in the Session; src untouched and unassociated."""
    src = User(name="src")
    if source_state == "detached":
        with session_factory(expire_on_commit=False) as s0:
            s0.add(src)
            s0.commit()
    before = dict(inspect(src).dict)
    with session_factory() as s:
        merged = s.merge(src)
        assert merged is not src
        assert merged in s and src not in s
        assert object_session(src) is None and flags(src) == {source_state}
        assert flags(merged) == ({"pending"} if source_state == "transient" else {"persistent"})
        assert merged.name == "src"
        assert {k: v for k, v in inspect(src).dict.items() if k != "_sa_instance_state"} == {
            k: v for k, v in before.items() if k != "_sa_instance_state"
        }


@pytest.mark.claim("states.make-transient")
def test_make_transient_of_persistent(session_factory, db):
    """make_transient(): no identity key, not in the Session."""
    with session_factory() as s:
        u = User(name="t")
        s.add(u)
        s.commit()
        make_transient(u)
        assert flags(u) == {"transient"}
        assert inspect(u).key is None and u not in s and len(s.identity_map) == 0


@pytest.mark.claim("states.make-transient-to-detached")
def test_make_transient_to_detached_then_add_is_persistent_without_sql(session_factory, db):
    """make_transient_to_detached(): detached with a key; add() -> persistent, no SQL."""
    with session_factory() as s:
        s.add(User(id=7, name="seven"))
        s.commit()
    u = User(id=7, name="seven")
    make_transient_to_detached(u)
    assert flags(u) == {"detached"} and inspect(u).key is not None
    with session_factory() as s, capture_sql(db.engine) as sql:
        s.add(u)
        assert flags(u) == {"persistent"} and u not in s.new
        assert s.get(User, 7) is u
    assert sql == []


@pytest.mark.claim("states.weak-identity-map")
def test_clean_objects_leave_identity_map_when_unreferenced(session_factory, db):
    """Drop the last reference to a clean persistent object: it leaves identity_map."""
    with session_factory() as s:
        s.add(User(name="w"))
        s.commit()
        u = s.query(User).one()
        ref = weakref.ref(u)
        assert len(s.identity_map) == 1
        del u
        gc.collect()
        assert ref() is None
        assert len(s.identity_map) == 0


@pytest.mark.claim("states.dirty-strongly-referenced")
def test_dirty_objects_are_kept_until_flushed(session_factory, db):
    """A modified object stays in the Session without application references."""
    with session_factory() as s:
        s.add(User(name="before"))
        s.commit()
        u = s.query(User).one()
        u.name = "after"
        ref = weakref.ref(u)
        del u
        gc.collect()
        assert ref() is not None and len(s.identity_map) == 1
        assert ref() in s.dirty
        s.commit()
    assert db.rows("users", "name") == [("after",)]


# -- behaviour change: cascade_backrefs removed in 2.0.0 (#5150) -------------------
@pytest.mark.claim("states.backref-assignment-cascades")
def test_backref_assignment_cascades_into_session(session_factory, db):
    """Assigning a new object's many-to-one backref attribute to an object in
    the Session (address.user = user) cascades the new object into the Session
    as pending (cascade_backrefs, always on before 2.0)."""
    from sa_conformance.orm_models import Address

    with session_factory() as s:
        u = User(name="owner")
        s.add(u)
        a = Address(email="a@example.org")
        a.user = u
        assert a in u.addresses
        assert a in s and a in s.new
        assert flags(a) == {"pending"}
        s.rollback()


@pytest.mark.claim("states.backref-assignment-no-cascade")
def test_backref_assignment_does_not_cascade(session_factory, db):
    """Assigning a new object's many-to-one backref attribute to an object in
    the Session (address.user = user) appends it to the collection but does not
    add it to the Session: it stays transient until added (cascade_backrefs
    removed)."""
    from sa_conformance.orm_models import Address

    with session_factory() as s:
        u = User(name="owner")
        s.add(u)
        a = Address(email="a@example.org")
        a.user = u
        assert a in u.addresses
        assert a not in s and a not in s.new
        assert flags(a) == {"transient"} and object_session(a) is None
        s.add(a)
        assert flags(a) == {"pending"}
        s.rollback()


# -- behaviour change: Session.get(with_for_update=False) uses the identity map (2.0.49, #13176)
def _sql_of_get_with_for_update_false(session_factory, db):
    from sa_conformance.testing import selects

    with session_factory() as s:
        s.add(User(id=1, name="a"))
        s.flush()
        u = s.get(User, 1)
        with capture_sql(db.engine) as sql:
            again = s.get(User, 1, with_for_update=False)
        assert again is u
        s.rollback()
        return selects(sql)


@pytest.mark.claim("states.get-for-update-false-selects")
def test_get_with_for_update_false_emits_select(session_factory, db):
    """Session.get(cls, pk, with_for_update=False) bypasses the identity map:
    it emits a SELECT even though the object is already loaded (and returns
    that same object)."""
    sql = _sql_of_get_with_for_update_false(session_factory, db)
    assert len(sql) == 1 and "FROM users" in sql[0] and "FOR UPDATE" not in sql[0].upper()


@pytest.mark.claim("states.get-for-update-false-identity-map")
def test_get_with_for_update_false_uses_identity_map(session_factory, db):
    """Session.get(cls, pk, with_for_update=False) is the same as the default
    with_for_update=None: an object already in the identity map is returned
    without emitting SQL."""
    assert _sql_of_get_with_for_update_false(session_factory, db) == []
