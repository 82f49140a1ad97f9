"""Object states and cascades: behaviour changes at exact releases (#10089,
#10090 in 2.0.19, #9549 in 2.0.8, #8862 in 1.4.45).  Each side of a change is
its own claim and test."""

import warnings

import pytest
import sqlalchemy.exc
from sqlalchemy import Column, ForeignKey, Integer, func, select
from sqlalchemy.orm import raiseload, registry, relationship, selectinload

from sa_conformance.messages import exact
from sa_conformance.orm_models import Address, User
from sa_conformance.state_helpers import state_flags as flags

SKIP_WARNING = "Object of type <Address> not in session, add operation along 'User.addresses' will not proceed"

_shelves = registry()
_ShelfBase = _shelves.generate_base()


class Shelf(_ShelfBase):
    """A relationship mapped lazy='raise' and a viewonly one (the models have neither)."""

    __tablename__ = "sa_conformance_shelves"

    id = Column(Integer, primary_key=True, autoincrement=False)
    books = relationship("Book", lazy="raise", cascade="all")
    books_view = relationship("Book", viewonly=True)


class Book(_ShelfBase):
    __tablename__ = "sa_conformance_books"

    id = Column(Integer, primary_key=True, autoincrement=False)
    shelf_id = Column(Integer, ForeignKey("sa_conformance_shelves.id"))


@pytest.fixture
def shelf(engine, db, session_factory):
    """Shelf 1 holding Book 1, committed; the tables are dropped afterwards."""
    _shelves.metadata.create_all(engine)
    try:
        with session_factory() as s:
            s.add(Shelf(id=1, books=[Book(id=1)]))
            s.commit()
        yield
    finally:
        _shelves.metadata.drop_all(engine)


def _detached_shelf(session_factory, loaded):
    """Shelf 1 loaded with one relationship eagerly loaded, then detached."""
    with session_factory() as s:
        return s.execute(select(Shelf).options(selectinload(getattr(Shelf, loaded)))).scalar_one()


# -- #10089 / #10090 (2.0.19): collection members that came through a backref -----------
def _persistent_user(s):
    s.add(User(id=1, name="u"))
    s.commit()
    return s.get(User, 1)


@pytest.mark.claim("states.collection-set-member-no-cascade")
def test_collection_assignment_skips_existing_member(session_factory, db):
    """2.0.0 .. 2.0.18: u.addresses = [..., a] with a already appended via
    a.user = u does not cascade a into the Session."""
    with session_factory() as s:
        u = _persistent_user(s)
        current = list(u.addresses)
        a = Address(email="new")
        a.user = u
        u.addresses = current + [a]
        assert a not in s and flags(a) == {"transient"}


@pytest.mark.claim("states.collection-set-member-cascades")
def test_collection_assignment_cascades_existing_member(session_factory, db):
    """2.0.19+: the same assignment cascades a into the Session as pending (#10089)."""
    with session_factory() as s:
        u = _persistent_user(s)
        current = list(u.addresses)
        a = Address(email="new")
        a.user = u
        assert a not in s
        u.addresses = current + [a]
        assert a in s.new and flags(a) == {"pending"}


def _flush_with_backref_pending_member(session_factory):
    with session_factory() as s:
        u = _persistent_user(s)
        a = Address(email="new")
        a.user = u  # collection not loaded: a waits in it, not in the Session
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s.flush()
        assert a not in s and s.scalar(select(func.count(Address.id))) == 0
        return [str(w.message) for w in caught if "not in session" in str(w.message)]


@pytest.mark.claim("states.backref-pending-skipped-silently")
def test_backref_pending_member_skipped_silently(session_factory, db):
    """2.0.0 .. 2.0.18: the flush skips the backref-pending Address without a warning."""
    assert _flush_with_backref_pending_member(session_factory) == []


@pytest.mark.claim("states.backref-pending-skip-warns")
def test_backref_pending_member_skip_warns(session_factory, db):
    """2.0.19+: the flush that skips it warns naming the class and relationship (#10090)."""
    messages = _flush_with_backref_pending_member(session_factory)
    assert len(messages) == 1 and messages[0].startswith(SKIP_WARNING), messages


# -- #9549 (2.0.8): delete() cascade through a raiseload collection ----------------------
def _user_with_address(session_factory):
    with session_factory() as s:
        u = User(name="u", addresses=[Address(email="a")])
        s.add(u)
        s.commit()
        return u.id


@pytest.mark.claim("states.delete-raiseload-collection-raises")
def test_delete_through_raiseload_collection_raises(session_factory, db):
    """Before 2.0.8: the delete cascade trips the raiseload option."""
    uid = _user_with_address(session_factory)
    with session_factory() as s:
        u = s.get(User, uid, options=[raiseload(User.addresses)])
        with pytest.raises(sqlalchemy.exc.InvalidRequestError,
                           match=exact("'User.addresses' is not available due to lazy='raise'")):
            s.delete(u)
            s.flush()
    assert db.rows("addresses", "email") == [("a",)]


@pytest.mark.claim("states.delete-raiseload-collection-loads")
def test_delete_through_raiseload_collection_loads(session_factory, db):
    """2.0.8+: delete() loads the collection and deletes the User with its addresses (#9549)."""
    uid = _user_with_address(session_factory)
    with session_factory() as s:
        u = s.get(User, uid, options=[raiseload(User.addresses)])
        s.delete(u)
        s.commit()
    assert db.rows("users") == [] and db.rows("addresses") == []


# -- #8862 (1.4.45): merge() of loaded lazy='raise' / viewonly relationships -------------
@pytest.mark.claim("states.merge-raise-relationship-raises")
def test_merge_loaded_raise_relationship_raises(session_factory, shelf):
    """Before 1.4.45: merge() of a Shelf with its lazy='raise' books loaded raises."""
    detached = _detached_shelf(session_factory, "books")
    message = "'Shelf.books' is not available due to lazy='raise'"
    with session_factory() as s, pytest.raises(sqlalchemy.exc.InvalidRequestError, match=exact(message)):
        s.merge(detached)


@pytest.mark.claim("states.merge-raise-relationship-copied")
def test_merge_loaded_raise_relationship_copied(session_factory, shelf):
    """1.4.45+: merge() copies the loaded lazy='raise' collection onto the copy (#8862)."""
    detached = _detached_shelf(session_factory, "books")
    with session_factory() as s:
        merged = s.merge(detached)
        assert merged is not detached and [b.id for b in merged.__dict__["books"]] == [1]


@pytest.mark.claim("states.merge-viewonly-not-copied")
def test_merge_loaded_viewonly_not_copied(session_factory, shelf):
    """Before 1.4.45: the merged copy has the viewonly relationship unloaded."""
    detached = _detached_shelf(session_factory, "books_view")
    with session_factory() as s:
        assert "books_view" not in s.merge(detached).__dict__


@pytest.mark.claim("states.merge-viewonly-copied")
def test_merge_loaded_viewonly_copied(session_factory, shelf):
    """1.4.45+: the loaded viewonly relationship is copied onto the merged copy (#8862)."""
    detached = _detached_shelf(session_factory, "books_view")
    with session_factory() as s:
        assert [b.id for b in s.merge(detached).__dict__["books_view"]] == [1]
