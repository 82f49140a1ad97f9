"""Seed 002's Contextual Session API, member by member: the object-state
members (add, add_all, delete, expunge, merge, flush, dirty/deleted,
is_modified, no_autoflush), each used through the scoped_session proxy."""

import warnings

import pytest
import sqlalchemy.exc
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import make_transient_to_detached, object_session

from sa_conformance.attribution import claim
from sa_conformance.messages import already_attached, exact, not_persisted
from sa_conformance.orm_models import Address, User
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import capture_sql


def _dml(sql, verb):
    return [q for q in sql if q.lstrip().upper().startswith(verb)]


@pytest.mark.claim(
    "scoped-api.add-lifecycle",
    "states.pending-to-persistent-on-flush",
    "states.add-detached-persistent",
    "states.rollback-pending-to-transient",
)
def test_add_moves_objects_through_states_via_proxy(scoped, db):
    """scoped_session.add(): transient -> pending -> (flush) persistent;
    detached -> persistent; rolled back -> transient again."""
    try:
        s = scoped()
        with claim("states.pending-to-persistent-on-flush"):
            u = User(name="t")
            scoped.add(u)
            assert flags(u) == {"pending"} and u in scoped.new and object_session(u) is s
            scoped.flush()
            assert flags(u) == {"persistent"} and u.id is not None and u not in scoped.new
            assert scoped.identity_map.get(inspect(u).key) is u
        with claim("states.rollback-pending-to-transient"):
            scoped.rollback()
            assert flags(u) == {"transient"} and u not in s and object_session(u) is None
            assert u.name == "t", "the attributes of a rolled-back pending object remain"
        with claim("states.add-detached-persistent"):
            d = User(name="d")
            scoped.add(d)
            scoped.commit()
            scoped.expunge(d)
            assert flags(d) == {"detached"}
            scoped.add(d)
            assert flags(d) == {"persistent"} and d not in scoped.new and d in s
        with claim("scoped-api.add-lifecycle"):
            scoped.rollback()
            assert flags(d) == {"persistent"}, "d was not transient when added: rollback keeps it"
            assert flags(u) == {"transient"}
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.add-attached-elsewhere-raises")
def test_add_of_object_owned_elsewhere_names_owner_and_caller(scoped, session_factory, db):
    """"Object '<User at 0x...>' is already attached to session 'OWNER' (this is
    'CALLER')": the object, the owning Session and the scope's Session."""
    try:
        with session_factory() as owner:
            u = User(name="owned")
            owner.add(u)
            caller = scoped()
            assert owner.hash_key != caller.hash_key
            with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=already_attached(u, owner, caller)):
                scoped.add(u)
            assert object_session(u) is owner and u in owner.new and u not in caller
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.add-all-each-pending")
def test_add_all_accepts_any_iterable(scoped, db):
    """add_all(generator): every object pending, then persistent after flush."""
    try:
        users = [User(name=f"g{i}") for i in range(3)]
        scoped.add_all(u for u in users)
        assert all(flags(u) == {"pending"} for u in users) and set(scoped.new) == set(users)
        scoped.flush()
        assert all(flags(u) == {"persistent"} for u in users)
        scoped.commit()
        assert db.rows("users", "name") == [("g0",), ("g1",), ("g2",)]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.delete-transient-raises")
def test_delete_of_transient_object_names_it(scoped, db):
    """delete(transient) -> "Instance '<User at 0x...>' is not persisted"."""
    try:
        other = User(name="other")
        scoped.add(other)
        u = User(name="never-saved")
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=not_persisted(u)):
            scoped.delete(u)
        assert flags(u) == {"transient"} and not scoped.deleted and other in scoped.new
    finally:
        scoped.remove()


@pytest.mark.claim(
    "scoped-api.delete-detached-marks-deleted",
    "states.delete-then-flush-deleted",
    "states.detached-after-delete-commit",
)
def test_delete_through_proxy_persistent_then_deleted_then_detached(scoped, session_factory, db):
    """delete(): persistent and in deleted until flush; deleted after the
    DELETE; detached after commit.  A detached object can be deleted too."""
    with session_factory() as setup:
        setup.add_all([User(name="a"), User(name="b")])
        setup.commit()
        detached = setup.scalars(select(User).where(User.name == "b")).one()
    try:
        with claim("states.delete-then-flush-deleted"):
            a = scoped.scalars(select(User).where(User.name == "a")).one()
            scoped.delete(a)
            assert flags(a) == {"persistent"} and a in scoped.deleted
            with capture_sql(db.engine) as sql:
                scoped.flush()
            assert len(_dml(sql, "DELETE")) == 1
            assert flags(a) == {"deleted"} and a not in scoped.deleted
        with claim("scoped-api.delete-detached-marks-deleted"):
            assert flags(detached) == {"detached"}
            scoped.delete(detached)
            assert flags(detached) == {"persistent"} and detached in scoped.deleted
            assert object_session(detached) is scoped()
        with claim("states.detached-after-delete-commit"):
            scoped.commit()
            assert flags(a) == {"detached"} and flags(detached) == {"detached"}
            assert a not in scoped() and a.id is not None
        assert db.rows("users") == []
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.dirty-optimistic", "scoped-api.dirty-excludes-deleted")
def test_dirty_is_optimistic_and_excludes_deleted(scoped, db):
    """Same-value set: in dirty, is_modified() False, no UPDATE.  Modified then
    deleted: in deleted, not in dirty."""
    try:
        scoped.add_all([User(name="same"), User(name="gone")])
        scoped.commit()
        same, gone = scoped.scalars(select(User).order_by(User.name)).all()[::-1]
        with claim("scoped-api.dirty-optimistic"):
            same.name = "same"
            assert same in scoped.dirty and scoped.is_modified(same) is False
            with capture_sql(db.engine) as sql:
                scoped.flush()
            assert _dml(sql, "UPDATE") == []
        with claim("scoped-api.dirty-excludes-deleted"):
            gone.name = "changed"
            assert gone in scoped.dirty
            scoped.delete(gone)
            assert gone in scoped.deleted and gone not in scoped.dirty
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.is-modified-net-change")
def test_is_modified_reports_net_changes(scoped, db):
    """is_modified(): True for a net change, False once set back; a collection
    change alone is ignored with include_collections=False."""
    try:
        u = User(name="orig")
        scoped.add(u)
        scoped.commit()
        u.name = "orig"  # expired attribute: no old value to compare with
        assert scoped.is_modified(u) is True, "a set on an unloaded attribute is assumed to be a change"
        scoped.refresh(u)
        assert scoped.is_modified(u) is False
        u.name = "new"
        assert scoped.is_modified(u) is True
        u.name = "orig"
        assert scoped.is_modified(u) is False
        u.addresses.append(Address(email="a@x"))
        assert scoped.is_modified(u) is True
        assert scoped.is_modified(u, include_collections=False) is False
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.expunge-cascades", "states.expunge-detaches")
def test_expunge_cascades_to_loaded_related_objects(scoped, db):
    """expunge(user) detaches the user and, by the 'expunge' cascade, its
    loaded addresses; a pending object expunged becomes transient."""
    try:
        u = User(name="u", addresses=[Address(email="a@x"), Address(email="b@x")])
        scoped.add(u)
        scoped.commit()
        addresses = list(u.addresses)
        other = User(name="other")
        scoped.add(other)
        with claim("scoped-api.expunge-cascades"):
            scoped.expunge(u)
            assert flags(u) == {"detached"}
            assert all(flags(a) == {"detached"} for a in addresses)
            assert len(scoped.identity_map) == 0 and other in scoped.new
        with claim("states.expunge-detaches"):
            scoped.expunge(other)
            assert flags(other) == {"transient"} and not scoped.new
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.flush-objects-subset")
def test_flush_objects_restricts_the_flush(scoped, db):
    """flush(objects=[a]) flushes a only."""
    try:
        a, b = User(name="a"), User(name="b")
        scoped.add_all([a, b])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sqlalchemy.exc.SADeprecationWarning)  # 2.1: see flush-objects-deprecated
            scoped.flush([a])
        assert flags(a) == {"persistent"} and flags(b) == {"pending"} and b in scoped.new
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.flush-objects-deprecated")
def test_flush_objects_parameter_deprecated(scoped, db):
    """2.1: flush(objects) warns 'The `objects` parameter of `Session.flush` is deprecated'."""
    try:
        a = User(name="a")
        scoped.add(a)
        deprecated = r"^The `objects` parameter of `Session.flush` is deprecated"
        with pytest.warns(sqlalchemy.exc.SADeprecationWarning, match=deprecated):
            scoped.flush([a])
        assert flags(a) == {"persistent"}
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.flush-error-rolls-back-transaction")
def test_failed_flush_rolls_back_whole_transaction(scoped, db):
    """A failed flush rolls back everything; is_active False; PendingRollbackError
    until rollback()."""
    try:
        scoped.add(User(name="first"))
        scoped.flush()
        assert scoped.is_active is True
        scoped.add(User(name=None))
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            scoped.flush()
        assert scoped.is_active is False
        prefix = (
            "This Session's transaction has been rolled back due to a previous exception during flush. "
            "To begin a new transaction with this Session, first issue Session.rollback()."
        )
        with pytest.raises(sqlalchemy.exc.PendingRollbackError) as info:
            scoped.execute(select(func.count(User.id)))
        assert str(info.value).startswith(prefix)
        scoped.rollback()
        assert scoped.is_active is True
        assert scoped.scalar(select(func.count(User.id))) == 0, "the earlier flushed row was rolled back too"
        scoped.rollback()
        assert db.rows("users") == []
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.merge-loads-or-creates", "states.merge-returns-other-instance")
def test_merge_loads_row_or_creates_instance(scoped, session_factory, db):
    """merge(): SELECT by primary key when not in the identity map, new pending
    instance when no row exists; the source is left alone."""
    with session_factory() as setup:
        setup.add(User(name="stored"))
        setup.commit()
        uid = setup.scalar(select(User.id))
    try:
        with claim("scoped-api.merge-loads-or-creates"):
            src = User(id=uid, name="incoming")
            with capture_sql(db.engine) as sql:
                merged = scoped.merge(src)
            assert any(q.lstrip().upper().startswith("SELECT") for q in sql)
            assert merged is not src and flags(merged) == {"persistent"} and merged.name == "incoming"
            assert merged in scoped.dirty
            fresh = User(id=uid + 1000, name="fresh")
            created = scoped.merge(fresh)
            assert created is not fresh and flags(created) == {"pending"} and created in scoped.new
        with claim("states.merge-returns-other-instance"):
            assert flags(src) == {"transient"} and object_session(src) is None and src.name == "incoming"
            assert flags(fresh) == {"transient"} and object_session(fresh) is None
        scoped.commit()
        assert db.rows("users", "id", "name") == [(uid, "incoming"), (uid + 1000, "fresh")]
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.merge-cascades")
def test_merge_cascades_to_related_objects(scoped, db):
    """merge() copies User.addresses along the 'merge' cascade."""
    try:
        src = User(name="m", addresses=[Address(email="m@x")])
        merged = scoped.merge(src)
        assert len(merged.addresses) == 1
        copy = merged.addresses[0]
        assert copy is not src.addresses[0] and copy in scoped.new and copy.email == "m@x"
        assert object_session(src.addresses[0]) is None
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.merge-load-false")
def test_merge_load_false_no_sql_and_rejects_dirty(scoped, session_factory, db):
    """merge(load=False): no SQL, clean copy; a dirty source is refused."""
    with session_factory(expire_on_commit=False) as setup:
        u = User(name="cached")
        setup.add(u)
        setup.commit()
    assert flags(u) == {"detached"}
    try:
        with capture_sql(db.engine) as sql:
            merged = scoped.merge(u, load=False)
        assert sql == [] and merged is not u
        assert flags(merged) == {"persistent"} and merged not in scoped.dirty and merged.name == "cached"
        other = User(id=u.id + 1, name="x")
        make_transient_to_detached(other)
        other.name = "dirty"
        msg = (
            "merge() with load=False option does not support objects marked as 'dirty'.  "
            "flush() all changes on mapped instances before merging with load=False."
        )
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=exact(msg)):
            scoped.merge(other, load=False)
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.no-autoflush-block")
def test_no_autoflush_block_suspends_autoflush(scoped, db):
    """Within `with scoped.no_autoflush:` a query does not flush; afterwards it does."""
    try:
        assert scoped.autoflush is True
        count = select(func.count(User.id))
        with scoped.no_autoflush:
            u = User(name="held")
            scoped.add(u)
            assert scoped.scalar(select(func.count(User.id)).where(User.name == "held")) == 0
            assert u in scoped.new
        assert scoped.autoflush is True
        assert scoped.scalar(count.where(User.name == "held")) == 1 and flags(u) == {"persistent"}
    finally:
        scoped.remove()

