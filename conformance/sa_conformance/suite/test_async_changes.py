"""AsyncSession behaviour changes at exact releases (#6220 1.4.8, #6943 1.4.24,
2.0.22 get() execution_options, #10421 2.0.23).  asyncio.run per test on a fresh
async engine for the backend's database, disposed afterwards."""

import asyncio

import pytest
from sqlalchemy import event, select

from sa_conformance.messages import exact
from sa_conformance import async_helpers
from sa_conformance.async_helpers import run_on_async_engine
from sa_conformance.orm_models import User, metadata

pytestmark = pytest.mark.requires("async_driver")
LABEL = "async-changes"  # this module's async engine, as the leak guard names it


def run_async(db, body, *, schema=True):
    """asyncio.run(body(engine)) on a fresh async engine, disposed afterwards."""
    return run_on_async_engine(db, LABEL, body, metadata=metadata if schema else None)


def checked_out(db):
    """Connections checked out of this module's async engine."""
    return async_helpers.checked_out(db, LABEL)


def _session(engine):
    from sqlalchemy.ext.asyncio import AsyncSession

    return AsyncSession(bind=engine)


def _bind_is_the_engine(db) -> bool:
    async def body(engine):
        s = _session(engine)
        try:
            return s.bind is engine
        finally:
            await s.close()
    return run_async(db, body, schema=False)


@pytest.mark.claim("async.session-bind-wrong")
def test_async_session_bind_is_not_the_engine(db):
    """Before 1.4.8: AsyncSession(bind=engine).bind is not that engine."""
    assert _bind_is_the_engine(db) is False


@pytest.mark.claim("async.session-bind-is-engine")
def test_async_session_bind_is_the_engine(db):
    """1.4.8+: AsyncSession(bind=engine).bind is that AsyncEngine (#6220)."""
    assert _bind_is_the_engine(db) is True


async def _execute_with_dict_options(engine):
    s = _session(engine)
    try:
        s.add(User(name="a"))
        await s.commit()
        return (await s.execute(select(User.name), execution_options={"populate_existing": True})).all()
    finally:
        await s.close()


@pytest.mark.claim("async.execute-options-dict-fails")
def test_async_execute_plain_dict_options_fail(db):
    """Before 1.4.24: execution_options given as a plain dict raise AttributeError."""
    with pytest.raises(AttributeError, match=exact("'dict' object has no attribute 'union'")):
        run_async(db, _execute_with_dict_options)


@pytest.mark.claim("async.execute-options-dict-accepted")
def test_async_execute_plain_dict_options_accepted(db):
    """1.4.24+: any mapping works as execution_options (#6943)."""
    assert run_async(db, _execute_with_dict_options) == [("a",)]


async def _get_with_marker(engine):
    s = _session(engine)
    try:
        s.add(User(id=1, name="a"))
        await s.commit()
    finally:
        await s.close()
    seen = []
    s = _session(engine)
    event.listen(s.sync_session, "do_orm_execute", lambda state: seen.append(state.execution_options.get("marker")))
    try:
        u = await s.get(User, 1, execution_options={"marker": "m"})
        return u.name, seen
    finally:
        await s.close()


@pytest.mark.claim("async.get-execution-options-ignored")
def test_async_get_drops_execution_options(db):
    """2.0.0 .. 2.0.21: AsyncSession.get() drops execution_options."""
    assert run_async(db, _get_with_marker) == ("a", [None])


@pytest.mark.claim("async.get-execution-options-applied")
def test_async_get_passes_execution_options(db):
    """2.0.22+: AsyncSession.get() passes execution_options on to Session.get()."""
    assert run_async(db, _get_with_marker) == ("a", ["m"])


async def _close_all_with_open_session(engine, broken):
    from sqlalchemy.ext.asyncio import AsyncSession

    s = _session(engine)
    try:
        await s.execute(select(User.id))
        assert s.in_transaction()
        if broken:
            with pytest.raises(AttributeError):
                await AsyncSession.close_all()
        else:
            await AsyncSession.close_all()
        return s.in_transaction()
    finally:
        await s.close()


@pytest.mark.claim("async.close-all-classmethod-broken")
def test_async_close_all_raises(db):
    """Before 2.0.23: AsyncSession.close_all() raises AttributeError; the open session stays open."""
    assert run_async(db, lambda engine: _close_all_with_open_session(engine, True)) is True


@pytest.mark.claim("async.close-all-classmethod-closes")
@pytest.mark.filterwarnings("ignore:The AsyncSession.close_all:DeprecationWarning")
def test_async_close_all_closes_open_sessions(db):
    """2.0.23+: AsyncSession.close_all() closes the open AsyncSession (#10421)."""
    assert run_async(db, lambda engine: _close_all_with_open_session(engine, False)) is False
    assert checked_out(db) == 0
