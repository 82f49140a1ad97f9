"""Property: asyncio tasks, each with its own AsyncSession from one
async_scoped_session(scopefunc=current_task), run random rounds of steps at
the same time (an asyncio.Barrier releases every task for each round).
Each task keeps its own AsyncSession within the task and a new one after
``await remove()``; no AsyncSession is shared; keyword arguments while one is
present raise; a task never sees another's uncommitted rows; the committed
rows are exactly what the tasks committed."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError

from sa_conformance.attribution import attribute, claim
from sa_conformance.models import Item, metadata
from sa_conformance.world.machine import budget

pytestmark = pytest.mark.requires("async_driver")

N = 2
OPS = ("add", "flush", "commit", "rollback", "remove", "query", "reargs", "noop")
ASYNC_CLAIMS = ("async.same-session-in-task", "async.distinct-sessions-across-tasks", "async.remove-awaits-close",
                "async.kwargs-present-raises")
ALREADY = "Scoped session is already present; no new arguments may be specified."


async def walk(engine, rounds, write_lock: bool) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

    try:
        from sqlalchemy.ext.asyncio import async_sessionmaker
        factory = async_sessionmaker(bind=engine)
    except ImportError:  # 1.4 spelling
        from sqlalchemy.orm import sessionmaker
        factory = sessionmaker(bind=engine, class_=AsyncSession)
    reg = async_scoped_session(factory, scopefunc=asyncio.current_task)
    committed: list[str] = []
    flushed: list[list[str]] = [[] for _ in range(N)]
    pending: list[list[str]] = [[] for _ in range(N)]
    barrier = asyncio.Barrier(N)
    seen: list = []

    async def task(i: int) -> None:
        mine = None
        for r, ops in enumerate(rounds):
            op = ops[i]
            others_busy = any(flushed[j] or pending[j] for j in range(N) if j != i)
            if write_lock and op in ("flush", "commit", "query") and others_busy:
                op = "noop"  # one writer at a time on a database-wide write lock
            await barrier.wait()
            name = f"a{r}-{i}"
            if op == "add":
                reg.add(Item(name=name))
                pending[i].append(name)
            elif op in ("flush", "query"):
                if op == "flush":
                    await reg.flush()
                    flushed[i] += pending[i]
                else:
                    got = set((await reg.scalars(select(Item.name))).all())
                    flushed[i] += pending[i]
                    theirs = {n for j in range(N) if j != i for n in flushed[j]}
                    with claim("async.distinct-sessions-across-tasks"):
                        assert set(flushed[i]) <= got, f"task {i} must see its own flushed rows"
                        assert not (theirs & got), f"task {i} sees another task's uncommitted rows {theirs & got}"
                pending[i] = []
            elif op == "commit":
                await reg.commit()
                committed.extend(flushed[i] + pending[i])
                flushed[i], pending[i] = [], []
            elif op == "rollback":
                await reg.rollback()
                flushed[i], pending[i] = [], []
            elif op == "remove":
                old = reg() if reg.registry.has() else None
                await reg.remove()
                with claim("async.remove-awaits-close"):
                    assert not reg.registry.has(), "remove() must empty the task's scope"
                    assert old is None or not old.in_transaction(), "remove() must close the AsyncSession"
                flushed[i], pending[i], mine = [], [], None
            elif op == "reargs" and reg.registry.has():
                with claim("async.kwargs-present-raises"):
                    with pytest.raises(InvalidRequestError, match=ALREADY.replace(".", r"\.")):
                        reg(info={"round": r})
            session = reg()
            with claim("async.same-session-in-task"):
                if mine is None:
                    assert all(session is not s for s in seen), f"task {i} got an old AsyncSession back"
                    mine = session
                    seen.append(session)
                assert session is mine, f"task {i}'s AsyncSession changed without remove()"
            await barrier.wait()
        await reg.remove()

    await asyncio.wait_for(asyncio.gather(*(task(i) for i in range(N))), 30)
    async with engine.connect() as conn:
        rows = sorted((await conn.exec_driver_sql("SELECT name FROM items")).scalars().all())
    with claim("async.distinct-sessions-across-tasks"):
        assert rows == sorted(committed), f"committed rows {rows} != what the tasks committed {sorted(committed)}"


@pytest.mark.property
@pytest.mark.claim(*ASYNC_CLAIMS)
def test_tasks_drive_their_own_async_sessions_at_once(db):
    """"the async_scoped_session ... scopefunc=current_task ... each task gets
    its own AsyncSession" -- with the tasks' steps overlapping."""
    if not db.has("independent_connections"):
        pytest.skip("needs independent_connections: tasks' transactions need their own DBAPI connections")
    from sa_fixtures.backends import POOLS

    label = f"{db.id}/world-async"
    write_lock = db.has("database_write_lock")

    @given(rounds=st.lists(st.lists(st.sampled_from(OPS), min_size=N, max_size=N), min_size=1, max_size=8))
    @budget(8, 8)
    def prop(rounds):
        db.clear_tables(metadata)

        async def main():
            engine = db.create_async_engine(label)
            try:
                await walk(engine, rounds, write_lock)
            finally:
                await engine.dispose()
        try:
            asyncio.run(main())
        except AssertionError as exc:
            attribute(exc, "async.distinct-sessions-across-tasks")
            exc.add_note(f"rounds: {rounds!r}")
            raise
        finally:
            POOLS.forget(label)

    prop()
