"""async_scoped_session keyed on asyncio.current_task (asyncio.run per test,
async engines disposed, no driver thread left behind)."""

import asyncio
import warnings

import pytest
import sqlalchemy
from sqlalchemy import select, text
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import scoped_session, sessionmaker

from sa_conformance import async_helpers
from sa_conformance.async_helpers import async_factory, run_on_async_engine
from sa_conformance.orm_models import User, metadata

pytestmark = pytest.mark.requires("async_driver")
LABEL = "async-test"  # this module's async engine, as the leak guard names it
REARGS_MESSAGE = r"^Scoped session is already present; no new arguments may be specified\.$"


def run_async(db, body):
    """asyncio.run(body(engine, factory)) on a fresh async engine for the
    backend's database, disposed afterwards and tracked by the leak guard."""
    return run_on_async_engine(db, LABEL, lambda engine: body(engine, async_factory(engine)),
                               metadata=metadata)


def checked_out(db):
    """Connections checked out of this module's async engine."""
    return async_helpers.checked_out(db, LABEL)


@pytest.mark.claim("async.same-session-in-task")
def test_same_async_session_within_a_task(db):
    """Repeated calls within one task return one AsyncSession."""
    from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

    async def body(engine, factory):
        registry = async_scoped_session(factory, scopefunc=asyncio.current_task)
        first = registry()
        await asyncio.sleep(0)
        second = registry()
        assert isinstance(first, AsyncSession) and first is second
        assert registry.registry.has()
        await registry.remove()

    run_async(db, body)


@pytest.mark.claim("async.distinct-sessions-across-tasks")
def test_concurrent_tasks_get_their_own_sessions(db):
    """Tasks running at once (all parked on one Event) each get their own."""
    from sqlalchemy.ext.asyncio import async_scoped_session

    async def body(engine, factory):
        registry = async_scoped_session(factory, scopefunc=asyncio.current_task)
        go = asyncio.Event()
        arrived = []

        async def task(i):
            mine = registry()
            arrived.append(i)
            if len(arrived) == 3:
                go.set()
            await go.wait()  # every task holds its Session at this point
            again = registry()
            await registry.remove()
            return mine, again

        results = await asyncio.gather(*(task(i) for i in range(3)))
        assert all(m is a for m, a in results)
        sessions = [m for m, _ in results]
        assert sessions[0] is not sessions[1] and sessions[1] is not sessions[2] and sessions[0] is not sessions[2]
        assert not registry.registry.has(), "the main task never asked for one"
        assert registry.registry.registry == {}

    run_async(db, body)


@pytest.mark.claim("async.remove-awaits-close")
def test_remove_closes_the_task_session(db):
    """await remove(): connection returned, transaction ended, new Session next."""
    from sqlalchemy.ext.asyncio import async_scoped_session

    async def body(engine, factory):
        registry = async_scoped_session(factory, scopefunc=asyncio.current_task)
        session = registry()
        assert (await registry.execute(text("SELECT 1"))).scalar() == 1
        assert session.in_transaction() and checked_out(db) == 1
        result = registry.remove()
        assert asyncio.iscoroutine(result), "remove() must be awaited"
        await result
        assert not session.in_transaction()
        assert checked_out(db) == 0
        assert not registry.registry.has()
        assert registry() is not session
        await registry.remove()

    run_async(db, body)


@pytest.mark.claim("async.remove-awaits-close")
@pytest.mark.requires("independent_connections")
def test_remove_rolls_back_the_task_transaction(db):
    """Flushed rows are rolled back by await remove() (independent connection)."""
    from sqlalchemy.ext.asyncio import async_scoped_session

    async def body(engine, factory):
        registry = async_scoped_session(factory, scopefunc=asyncio.current_task)
        registry.add(User(name="doomed"))
        await registry.flush()
        assert (await registry.scalars(select(User.name))).all() == ["doomed"]
        assert db.rows("users", "name") == []
        await registry.remove()
        assert db.rows("users", "name") == [], "remove() must not commit"
        assert checked_out(db) == 0, "remove() must release the transaction"
        assert (await registry.scalars(select(User.name))).all() == []
        await registry.remove()

    run_async(db, body)


@pytest.mark.claim("async.scopefunc-required")
def test_async_scoped_session_requires_scopefunc(db):
    """async_scoped_session(session_factory, scopefunc): no thread-local default."""
    from sqlalchemy.ext.asyncio import async_scoped_session

    with pytest.raises(TypeError, match="scopefunc"):
        async_scoped_session(async_factory(None))


@pytest.mark.claim("async.kwargs-present-raises")
def test_async_kwargs_rules(db):
    """kwargs reach the factory on an empty task scope, raise once present."""
    from sqlalchemy.ext.asyncio import async_scoped_session

    async def body(engine, factory):
        registry = async_scoped_session(factory, scopefunc=asyncio.current_task)
        session = registry(info={"task": 1}, expire_on_commit=False)
        assert session.info == {"task": 1} and session.sync_session.expire_on_commit is False
        with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
            registry(info={"task": 2})
        assert registry() is session

        async def other_task():
            s = registry(info={"task": 3})  # an empty scope may pass arguments
            await registry.remove()
            return s

        other = await asyncio.ensure_future(other_task())
        assert other is not session and other.info == {"task": 3}
        await registry.remove()
        again = registry(info={"task": 4})
        assert again.info == {"task": 4}
        await registry.remove()

    run_async(db, body)


@pytest.mark.claim("async.scoped-session-with-asyncio-deprecated")
def test_plain_scoped_session_with_async_factory_warns(db):
    """The docs: use async_scoped_session in place of scoped_session with asyncio."""
    from sqlalchemy.exc import SADeprecationWarning

    async def body(engine, factory):
        registry = scoped_session(factory)
        with pytest.warns(SADeprecationWarning, match=r"Using `scoped_session` with asyncio is deprecated"):
            session = registry()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert registry() is session
        await session.close()
        registry.registry.clear()

    run_async(db, body)
