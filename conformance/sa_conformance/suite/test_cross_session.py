"""An object belongs to at most one Session (seed 001)."""

import threading

import pytest
import sqlalchemy.exc
from sqlalchemy.orm import object_session

from sa_conformance.messages import already_attached
from sa_conformance.orm_models import User
from sa_conformance.state_helpers import state_flags as flags
from sa_conformance.testing import run_threads


@pytest.mark.claim("cross-session.already-attached-raises")
def test_add_pending_object_to_second_session_raises(session_factory, db):
    """s1.add(jessica); s2.add(jessica) -> InvalidRequestError 'is already attached'."""
    with session_factory() as s1, session_factory() as s2:
        jessica = User(name="Jessica")
        s1.add(jessica)
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=already_attached(jessica, s1, s2)):
            s2.add(jessica)
        assert object_session(jessica) is s1 and jessica in s1.new and jessica not in s2


@pytest.mark.claim("cross-session.persistent-also-raises")
def test_add_persistent_object_to_second_session_raises(session_factory, db):
    """A persistent object of s1 cannot be added to s2; it stays in s1."""
    with session_factory() as s1, session_factory() as s2:
        u = User(name="p")
        s1.add(u)
        s1.commit()
        with pytest.raises(sqlalchemy.exc.InvalidRequestError, match=already_attached(u, s1, s2)):
            s2.add(u)
        assert object_session(u) is s1 and flags(u) == {"persistent"}
        assert len(s2.identity_map) == 0


@pytest.mark.claim("cross-session.other-thread-session-raises")
def test_add_object_held_by_session_in_other_thread_raises(session_factory, db):
    """An object held by a Session in another thread cannot be added here."""
    holder: dict = {}
    added = threading.Event()
    done = threading.Event()

    def worker(i, barrier):
        if i == 0:
            with session_factory() as s:
                holder["obj"], holder["owner"] = User(name="t"), s
                s.add(holder["obj"])
                added.set()
                assert done.wait(10)
                return object_session(holder["obj"]) is s
        assert added.wait(10)
        try:
            with session_factory() as mine:
                with pytest.raises(
                    sqlalchemy.exc.InvalidRequestError, match=already_attached(holder["obj"], holder["owner"], mine)
                ):
                    mine.add(holder["obj"])
                return holder["obj"] not in mine
        finally:
            done.set()

    assert run_threads(worker, 2) == [True, True]


@pytest.mark.claim("cross-session.scoped-same-session-no-error")
def test_scoped_session_twice_is_same_session(scoped, db):
    """s1 = session(); s2 = session(); add via both: no error, s1 is s2."""
    s1 = scoped()
    try:
        s2 = scoped()
        jessica = User(name="Jessica")
        s1.add(jessica)
        s2.add(jessica)
        assert s1 is s2
        s1.commit()
        assert s2.query(User).filter(User.name == "Jessica").one() is jessica
    finally:
        s1.close()  # not only remove(): this claim must not depend on remove() closing
        scoped.remove()
    assert db.rows("users", "name") == [("Jessica",)]


@pytest.mark.claim("cross-session.add-after-expunge")
@pytest.mark.parametrize("release", ["expunge", "close"])
def test_object_can_move_after_expunge_or_close(session_factory, db, release):
    """After expunge()/close() of the first Session, a second may add it."""
    s1 = session_factory()
    u = User(name="m")
    s1.add(u)
    s1.commit()
    u.name  # load before detaching
    if release == "expunge":
        s1.expunge(u)
        s1.rollback()  # end s1's transaction (the object is no longer its concern)
        assert flags(u) == {"detached"}
    else:
        s1.close()
    with session_factory() as s2:
        s2.add(u)
        assert object_session(u) is s2 and flags(u) == {"persistent"}
        u.name = "moved"
        s2.commit()
    s1.close()
    assert db.rows("users", "name") == [("moved",)]
