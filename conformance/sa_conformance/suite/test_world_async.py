"""Property: asyncio tasks, each with its own AsyncSession from one
async_scoped_session(scopefunc=current_task), run random rounds of steps at
the same time (a barrier releases every task for each round: asyncio.Barrier,
or on Python < 3.11 the small :class:`CompatBarrier`).
Each task keeps its own AsyncSession within the task and a new one after
``await remove()``; no AsyncSession is shared; keyword arguments while one is
present raise, and reach the factory when the task's scope is empty; a task
never sees another's uncommitted rows; the committed rows are exactly what
the tasks committed.

Backends without independent connections (one shared DBAPI connection) run
the registry steps only (no SQL): the registry's behaviour does not depend on
the database."""

from __future__ import annotations

import asyncio
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError

from sa_conformance.attribution import add_note, attribute, claim
from sa_conformance.orm_models import Item, metadata
from sa_conformance.world.machine import budget

pytestmark = pytest.mark.requires("async_driver")

N = 2
OPS = ("add", "flush", "commit", "rollback", "remove", "query", "reargs", "noop")
#: the steps that emit no SQL (all a backend with one shared DBAPI connection runs)
REGISTRY_OPS = ("add", "rollback", "remove", "reargs", "noop")
ASYNC_CLAIMS = ("async.same-session-in-task", "async.distinct-sessions-across-tasks", "async.remove-awaits-close",
                "async.kwargs-present-raises", "reargs.allowed-after-remove")
ALREADY = "Scoped session is already present; no new arguments may be specified."


class CompatBrokenBarrierError(RuntimeError):
    """asyncio.BrokenBarrierError before Python 3.11."""


class CompatBarrier:
    """The part of asyncio.Barrier (Python 3.11+) the walk uses, on an
    asyncio.Condition: ``await wait()`` returns once all ``parties`` tasks
    have called it, then the barrier is ready for the next round;
    ``await abort()`` breaks it, so waiting and later ``wait()`` calls raise
    :class:`CompatBrokenBarrierError`."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self._arrived = 0
        self._round = 0  # rounds completed
        self._broken = False
        self._cond = asyncio.Condition()  # (made inside the running loop: 3.9 binds it to the loop)

    async def wait(self) -> None:
        async with self._cond:
            if self._broken:
                raise CompatBrokenBarrierError("barrier aborted")
            mine = self._round
            self._arrived += 1
            if self._arrived == self.parties:  # the last of the round releases everyone
                self._arrived, self._round = 0, self._round + 1
                self._cond.notify_all()
                return
            await self._cond.wait_for(lambda: self._round != mine or self._broken)
            if self._round == mine:  # broken before the round was complete
                raise CompatBrokenBarrierError("barrier aborted")

    async def abort(self) -> None:
        async with self._cond:
            self._broken = True
            self._cond.notify_all()


if sys.version_info >= (3, 11):
    Barrier, BrokenBarrierError = asyncio.Barrier, asyncio.BrokenBarrierError
else:
    Barrier, BrokenBarrierError = CompatBarrier, CompatBrokenBarrierError


async def walk(engine, rounds, write_lock: bool, registry_only: bool) -> None:
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
    barrier = Barrier(N)
    seen: list = []

    async def task(i: int) -> None:
        try:
            await steps(i)
        except BaseException:
            await barrier.abort()  # the other tasks stop at once (BrokenBarrierError), not at the timeout
            raise

    async def steps(i: int) -> None:
        mine = None  # the task's AsyncSession, once it has one
        for r, ops in enumerate(rounds):
            op = ops[i]
            others_busy = any(flushed[j] or pending[j] for j in range(N) if j != i)
            if registry_only and op not in REGISTRY_OPS:
                op = "noop"
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
            elif op == "reargs" and mine is not None:
                with claim("async.kwargs-present-raises"):
                    try:
                        reg(info={"round": r})
                    except InvalidRequestError as exc:
                        assert str(exc) == ALREADY, f"task {i}: reg(info=...) raised {exc!r}"
                    else:
                        raise AssertionError(f"task {i}: reg(info=...) with its AsyncSession present raised nothing")
            elif op == "reargs":
                with claim("reargs.allowed-after-remove"):
                    made = reg(info={"round": r})
                    assert made.info == {"round": r}, f"task {i}: the first call's arguments must reach the factory"
            if op not in ("remove", "noop"):
                mine = check_own(i, reg(), mine, seen)
            with claim("async.same-session-in-task"):
                assert reg.registry.has() is (mine is not None), (
                    f"task {i}'s scope {'lacks' if mine is not None else 'holds'} an AsyncSession")
            await barrier.wait()
        await reg.remove()

    try:
        results = await asyncio.wait_for(asyncio.gather(*(task(i) for i in range(N)), return_exceptions=True), 30)
    finally:
        for session in seen:  # a failed walk leaves no transaction open (its row locks would stall the next walk)
            await session.close()
    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, BrokenBarrierError)]
    if errors:
        raise errors[0]
    if registry_only:
        return
    async with engine.connect() as conn:
        rows = sorted((await conn.exec_driver_sql("SELECT name FROM items")).scalars().all())
    with claim("async.distinct-sessions-across-tasks"):
        assert rows == sorted(committed), f"committed rows {rows} != what the tasks committed {sorted(committed)}"


def check_own(i: int, session, mine, seen: list):
    """The task's AsyncSession: the same one until remove(), never another
    task's or an old one."""
    with claim("async.same-session-in-task"):
        if mine is None:
            assert all(session is not s for s in seen), f"task {i} got an old (or another task's) AsyncSession"
            seen.append(session)
            return session
        assert session is mine, f"task {i}'s AsyncSession changed without remove()"
    return mine


@pytest.mark.property
@pytest.mark.claim(*ASYNC_CLAIMS)
def test_tasks_drive_their_own_async_sessions_at_once(db):
    """"the async_scoped_session ... scopefunc=current_task ... each task gets
    its own AsyncSession" -- with the tasks' steps overlapping."""
    from sa_fixtures.backends import POOLS

    label = f"{db.id}/world-async"
    write_lock = db.has("database_write_lock")
    registry_only = not db.has("independent_connections")

    @given(rounds=st.lists(st.lists(st.sampled_from(REGISTRY_OPS if registry_only else OPS), min_size=N, max_size=N),
                           min_size=1, max_size=8))
    @budget(8, 8)
    def prop(rounds):
        db.clear_tables(metadata)

        async def main():
            engine = db.create_async_engine(label)
            try:
                await walk(engine, rounds, write_lock, registry_only)
            finally:
                await engine.dispose()
        try:
            asyncio.run(main())
        except AssertionError as exc:
            attribute(exc, "async.distinct-sessions-across-tasks")
            add_note(exc, f"rounds: {rounds!r}")
            raise
        finally:
            POOLS.forget(label)

    prop()


@pytest.mark.selfcheck
@pytest.mark.parametrize("barrier_class", [CompatBarrier, getattr(asyncio, "Barrier", None)], ids=["compat", "asyncio"])
def test_barrier_releases_every_task_each_round_and_aborts(barrier_class):
    """The barrier of the walk (whichever the Python has): no task passes a
    round's wait() before all N have reached it, every round; abort() makes
    the waiting and the later wait() calls raise."""
    if barrier_class is None:
        pytest.skip("asyncio.Barrier needs Python 3.11")
    broken_error = CompatBrokenBarrierError if barrier_class is CompatBarrier else asyncio.BrokenBarrierError
    parties, rounds = 3, 4

    async def main():
        barrier = barrier_class(parties)
        arrived = [0] * rounds
        passed: list = []

        async def task(i: int) -> None:
            for r in range(rounds):
                for _ in range(i):  # arrive at different times
                    await asyncio.sleep(0)
                arrived[r] += 1
                await barrier.wait()
                assert arrived[r] == parties, f"task {i} passed round {r} with {arrived[r]} of {parties} arrived"
                passed.append(r)

        await asyncio.wait_for(asyncio.gather(*(task(i) for i in range(parties))), 5)
        assert passed == sorted(passed) and len(passed) == parties * rounds

        async def stuck():
            await barrier.wait()

        waiter = asyncio.ensure_future(stuck())
        await asyncio.sleep(0)
        await barrier.abort()
        with pytest.raises(broken_error):
            await asyncio.wait_for(waiter, 5)
        with pytest.raises(broken_error):
            await barrier.wait()

    asyncio.run(main())
