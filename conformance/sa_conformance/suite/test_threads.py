"""Thread-local scope: per-thread storage, its lifetime, per-thread transactions."""

import gc
import weakref

import pytest
from sqlalchemy import text

from sa_conformance.orm_models import User
from sa_conformance.testing import run_threads
from sa_fixtures.backends import POOLS


@pytest.mark.claim("threads.storage-gone-with-thread")
def test_session_of_an_ended_thread_is_collected_and_its_connection_returned(db, scoped):
    """"if the application thread itself ends, the 'storage' for that thread is
    also garbage collected" -- proven with a weakref, gc.collect() and the pool."""
    refs = []

    def worker(i, barrier):
        session = scoped()
        session.execute(text("SELECT 1"))  # holds a pooled connection
        refs.append(weakref.ref(session))
        barrier.wait()
        # the thread ends without remove()

    run_threads(worker, 1)
    assert not scoped.registry.has(), "this thread never had a Session"
    for _ in range(3):
        gc.collect()
    assert refs[0]() is None, "the ended thread's Session must become unreachable"
    assert POOLS.checked_out().get(db.name) is None, "its connection must be back in the pool"


@pytest.mark.claim("threads.storage-gone-with-thread")
def test_live_thread_keeps_its_session(db, scoped):
    """Control: while its thread is alive, the thread's Session stays reachable
    (so the collection above is due to the thread ending)."""
    refs = []

    def worker(i, barrier):
        if i == 0:
            refs.append(weakref.ref(scoped()))
            barrier.wait()  # the other thread checks while this one is alive
            barrier.wait()
            scoped.remove()
            return True
        barrier.wait()
        gc.collect()
        still = refs[0]() is not None
        barrier.wait()
        return still

    assert run_threads(worker, 2) == [True, True]


@pytest.mark.claim("threads.independent-transactions")
@pytest.mark.requires("concurrent_writers")
def test_each_thread_commits_or_rolls_back_only_its_own_work(db, scoped):
    """Threads write at the same time; one commits, one rolls back, one removes."""

    def worker(i, barrier):
        scoped.add(User(name=f"t{i}"))
        scoped.flush()
        barrier.wait()  # all three hold flushed, uncommitted rows at once
        if i == 0:
            scoped.commit()
        elif i == 1:
            scoped.rollback()
        barrier.wait()
        scoped.remove()  # i == 2: discards its own work

    run_threads(worker, 3)
    assert db.rows("users", "name") == [("t0",)]


@pytest.mark.claim("threads.independent-transactions")
def test_threads_take_turns_committing_their_own_work(db, scoped):
    """Without concurrent writers: each thread's commit persists exactly its
    own pending objects, its rollback discards only its own."""
    import threading

    turn = threading.Condition()
    state = {"turn": 0}

    def wait_turn(i):
        with turn:
            assert turn.wait_for(lambda: state["turn"] == i, timeout=10), "turn timeout"

    def next_turn():
        with turn:
            state["turn"] += 1
            turn.notify_all()

    def worker(i, barrier):
        scoped.add(User(name=f"t{i}"))  # pending in each thread at once
        barrier.wait()
        wait_turn(i)
        try:
            if i == 1:
                scoped.rollback()
            else:
                scoped.commit()
        finally:
            next_turn()
        barrier.wait()
        scoped.remove()

    run_threads(worker, 3)
    assert db.rows("users", "name") == [("t0",), ("t2",)]
