"""Transaction isolation between Sessions on real threads, and SQLite's
whole-database write lock."""

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sa_conformance.orm_models import User
from sa_conformance.testing import run_threads


@pytest.mark.claim("transactions.uncommitted-invisible-other-thread")
@pytest.mark.requires("isolated_reads")
def test_uncommitted_rows_invisible_to_session_in_other_thread(session_factory, db):
    """Thread 0 flushes (uncommitted); thread 1's Session sees 0 rows; after
    thread 0 commits, a new transaction in thread 1 sees 1 row."""

    def count(s):
        return s.execute(select(func.count(User.id))).scalar()

    def worker(i, barrier):
        with session_factory() as s:
            if i == 0:
                s.add(User(name="secret"))
                s.flush()
                barrier.wait()  # flushed
                barrier.wait()  # reader looked
                s.commit()
                barrier.wait()  # committed
                return None
            barrier.wait()
            before = count(s)
            s.rollback()
            barrier.wait()
            barrier.wait()
            after = count(s)
            return before, after

    assert run_threads(worker, 2)[1] == (0, 1)


@pytest.mark.claim("transactions.database-write-lock")
@pytest.mark.requires("database_write_lock")
def test_second_writer_gets_database_is_locked(db):
    """While s1 holds the write lock, s2's flush fails 'database is locked'; after s1 commits it works."""
    impatient = db.make_engine(label=f"{db.name}/impatient", connect_args={"check_same_thread": False, "timeout": 0.2})
    with Session(bind=db.engine) as s1, Session(bind=impatient) as s2:
        s1.add(User(name="first"))
        s1.flush()
        s2.add(User(name="second"))
        with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
            s2.flush()
        s2.rollback()
        s1.commit()
        s2.add(User(name="second"))
        s2.commit()
    assert db.rows("users", "name") == [("first",), ("second",)]
