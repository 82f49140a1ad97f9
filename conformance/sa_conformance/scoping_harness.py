"""Scope modes for the scoped_session claim tests.

A *scope* is what a ``scoped_session`` registry keys its Session on.  The
claims about the registry are meant to hold in every scope mode, so tests are
written once against :class:`ScopeHarness` and parametrised over the
``scope_mode`` fixture:

* ``thread-local``  -- the default ``scoped_session(factory)``; each scope is a
  long-lived real worker thread executing commands sent to it.
* ``scopefunc``     -- ``scoped_session(factory, scopefunc=...)`` keyed on a
  request-like token; each scope is one "request" object made current while a
  command runs.
* ``asyncio-task``  -- ``async_scoped_session(factory, scopefunc=asyncio.current_task)``
  on the backend's asyncio driver; each scope is a long-lived task.
* ``greenlet``      -- ``scoped_session(factory, scopefunc=greenlet.getcurrent)``;
  each scope is a long-lived greenlet on the test thread.

``harness.run(k, fn)`` runs ``fn()`` *inside* scope ``k`` and returns its
result (awaiting it first when the mode is asyncio and ``fn`` returned an
awaitable), re-raising any exception.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import sqlalchemy
from sa_fixtures.backends import POOLS
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from .orm_models import User, metadata
from .scope_workers import COMMAND_TIMEOUT, GreenletWorker, Request, ThreadWorker

SCOPE_MODES = ("thread-local", "scopefunc", "asyncio-task", "greenlet")
SYNC_SCOPE_MODES = ("thread-local", "scopefunc", "greenlet")
SA_2 = int(sqlalchemy.__version__.split(".")[0]) >= 2


# -- harnesses ----------------------------------------------------------------------
class ScopeHarness:
    """One scoped_session registry plus N scopes of one scope mode."""

    mode: str = ""
    is_async = False

    def __init__(self, backend: Any, factory: Any = None, **factory_kw: Any) -> None:
        self.backend = backend
        self.engine = backend.engine
        self.session_factory = factory or sessionmaker(bind=self.engine, **factory_kw)
        self.registry = self._make_registry()

    # mode-specific ------------------------------------------------------------
    def _make_registry(self) -> Any:
        raise NotImplementedError

    def run(self, k: int, fn: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def _stop(self) -> None:
        pass

    # shared operations ------------------------------------------------------------
    def call(self, k: int, **kw: Any) -> Any:
        return self.run(k, lambda: self.registry(**kw))

    def remove(self, k: int) -> None:
        self.run(k, self.registry.remove)

    def has(self, k: int) -> bool:
        return self.run(k, self.registry.registry.has)

    def current(self, k: int) -> Any:
        """The scope's Session if present, without creating one."""
        reg = self.registry.registry
        return self.run(k, lambda: reg() if reg.has() else None)

    def sync_session(self, session: Any) -> Session:
        return session.sync_session if self.is_async else session

    def add_user(self, k: int, name: str) -> User:
        user = User(name=name)
        self.run(k, lambda: self.registry.add(user))
        return user

    def commit(self, k: int) -> None:
        self.run(k, self.registry.commit)

    def rollback(self, k: int) -> None:
        self.run(k, self.registry.rollback)

    def flush(self, k: int) -> None:
        self.run(k, self.registry.flush)

    def execute_select_1(self, k: int) -> Any:
        from sqlalchemy import text

        async def _async():
            return (await self.registry.execute(text("SELECT 1"))).scalar()

        if self.is_async:
            return self.run(k, _async)
        return self.run(k, lambda: self.registry.execute(text("SELECT 1")).scalar())

    def user_names_in_session(self, k: int) -> list[str]:
        """Names of User rows as the scope's Session sees them (its transaction)."""
        stmt = select(User.name).order_by(User.name)

        if self.is_async:
            async def _q():
                return list((await self.registry.scalars(stmt)).all())

            return self.run(k, _q)
        return self.run(k, lambda: list(self.registry.scalars(stmt).all()))

    def rows(self) -> list[str]:
        """Committed user names, read through the backend's one observer engine
        (a connection no Session under test uses, where the backend has them)."""
        return sorted(r[0] for r in self.backend.rows("users", "name"))

    def pool_checked_out(self) -> int:
        return sum(POOLS.checked_out().values())

    def close(self) -> None:
        """Remove every scope's Session (closing it) and stop the workers."""
        errors: list[BaseException] = []
        reg = self.registry.registry

        def _cleanup() -> Any:
            if reg.has():
                s = reg()
                reg.clear()
                return s.close()
            return None

        for k in list(self._scopes()):
            try:
                self.run(k, _cleanup)
            except BaseException as exc:  # keep going; report the first
                errors.append(exc)
        self._stop()
        if errors:
            raise errors[0]

    def _scopes(self) -> Iterator[int]:
        raise NotImplementedError


class ThreadLocalHarness(ScopeHarness):
    mode = "thread-local"

    def _make_registry(self) -> Any:
        self._workers: dict[int, ThreadWorker] = {}
        return scoped_session(self.session_factory)

    def worker(self, k: int) -> ThreadWorker:
        if k not in self._workers:
            self._workers[k] = ThreadWorker(f"scope-thread-{k}")
        return self._workers[k]

    def run(self, k: int, fn: Callable[[], Any]) -> Any:
        return self.worker(k).run(fn)

    def _scopes(self) -> Iterator[int]:
        return iter(self._workers)

    def _stop(self) -> None:
        for w in self._workers.values():
            w.stop()
        self._workers.clear()


class ScopefuncHarness(ScopeHarness):
    mode = "scopefunc"

    def _make_registry(self) -> Any:
        self._requests: dict[int, Request] = {}
        self._current: list = [None]
        return scoped_session(self.session_factory, scopefunc=self.get_current_request)

    def get_current_request(self) -> Any:
        return self._current[0]

    def run(self, k: int, fn: Callable[[], Any]) -> Any:
        req = self._requests.setdefault(k, Request(k))
        previous, self._current[0] = self._current[0], req
        try:
            return fn()
        finally:
            self._current[0] = previous

    def _scopes(self) -> Iterator[int]:
        return iter(self._requests)


class GreenletHarness(ScopeHarness):
    mode = "greenlet"

    def _make_registry(self) -> Any:
        import greenlet

        self._glets: dict[int, GreenletWorker] = {}
        return scoped_session(self.session_factory, scopefunc=greenlet.getcurrent)

    def run(self, k: int, fn: Callable[[], Any]) -> Any:
        if k not in self._glets:
            self._glets[k] = GreenletWorker()
        return self._glets[k].run(fn)

    def _scopes(self) -> Iterator[int]:
        return iter(self._glets)

    def _stop(self) -> None:
        for g in self._glets.values():
            g.stop()
        self._glets.clear()


class AsyncioTaskHarness(ScopeHarness):
    """async_scoped_session keyed on asyncio.current_task, one long-lived task
    per scope, all on a private event loop driven from the test thread."""

    mode = "asyncio-task"
    is_async = True

    def __init__(self, backend: Any, factory: Any = None, **factory_kw: Any) -> None:
        self.backend = backend
        self.loop = asyncio.new_event_loop()
        self._tasks: dict[int, tuple[asyncio.Task, asyncio.Queue]] = {}
        if backend.async_url is None:
            pytest.skip(f"backend {backend.id} has no asyncio driver installed")
        # Declared per backend: where the asyncio driver opens a database of its
        # own (aiosqlite's memory database), rows are read through it, and it
        # gets the schema; the engine options come from the declaration too.
        self.shared_memory = backend.spec.async_private_database
        self._label = f"{backend.id}/async#{id(self)}"
        self.async_engine = backend.create_async_engine(self._label)
        self.engine = self.async_engine.sync_engine
        self.loop.run_until_complete(
            asyncio.wait_for(backend.prepare_async(self.async_engine, metadata), COMMAND_TIMEOUT)
        )
        self.session_factory = factory or self.async_sessionmaker(bind=self.async_engine, **factory_kw)
        self.registry = self._make_registry()

    @staticmethod
    def async_sessionmaker(**kw: Any) -> Any:
        if SA_2:
            from sqlalchemy.ext.asyncio import async_sessionmaker

            return async_sessionmaker(**kw)
        from sqlalchemy.ext.asyncio import AsyncSession

        return sessionmaker(class_=AsyncSession, **kw)

    def _make_registry(self) -> Any:
        from sqlalchemy.ext.asyncio import async_scoped_session

        return async_scoped_session(self.session_factory, scopefunc=asyncio.current_task)

    async def _worker(self, q: asyncio.Queue) -> None:
        while True:
            item = await q.get()
            if item is None:
                return
            fn, fut = item
            try:
                result = fn()
                if inspect.isawaitable(result):
                    result = await result
                fut.set_result(result)
            except BaseException as exc:
                fut.set_exception(exc)

    def run(self, k: int, fn: Callable[[], Any]) -> Any:
        if k not in self._tasks:
            async def _start() -> tuple:
                q: asyncio.Queue = asyncio.Queue()
                return asyncio.ensure_future(self._worker(q)), q

            self._tasks[k] = self.loop.run_until_complete(_start())
        _task, q = self._tasks[k]

        async def _submit() -> Any:
            fut = self.loop.create_future()
            await q.put((fn, fut))
            return await fut

        return self.loop.run_until_complete(asyncio.wait_for(_submit(), COMMAND_TIMEOUT))

    def _scopes(self) -> Iterator[int]:
        return iter(self._tasks)

    def rows(self) -> list[str]:
        if not self.shared_memory:
            return super().rows()

        async def _rows() -> list[str]:
            async with self.async_engine.connect() as conn:
                return sorted((await conn.execute(select(User.name))).scalars().all())

        return self.loop.run_until_complete(asyncio.wait_for(_rows(), COMMAND_TIMEOUT))

    def _stop(self) -> None:
        try:
            for task, q in self._tasks.values():
                q.put_nowait(None)
            if self._tasks:
                self.loop.run_until_complete(
                    asyncio.wait_for(asyncio.gather(*(t for t, _ in self._tasks.values())), COMMAND_TIMEOUT)
                )
            self._tasks.clear()
            self.loop.run_until_complete(asyncio.wait_for(self.async_engine.dispose(), COMMAND_TIMEOUT))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()
            POOLS.forget(self._label)


HARNESSES: dict[str, type[ScopeHarness]] = {
    "thread-local": ThreadLocalHarness,
    "scopefunc": ScopefuncHarness,
    "asyncio-task": AsyncioTaskHarness,
    "greenlet": GreenletHarness,
}


# -- fixtures (import them into a test module to use them) ----------------------------
@pytest.fixture(params=SCOPE_MODES)
def scope_mode(request: pytest.FixtureRequest) -> str:
    """The scope mode a claim is checked under (results are keyed by it)."""
    if request.param == "greenlet":
        pytest.importorskip("greenlet", reason="greenlet is not installed")
    return request.param


@pytest.fixture
def make_harness(make_scoped, scope_mode):
    """``make_harness(factory=None, **sessionmaker_kw)``: harnesses of the
    current ``scope_mode``, built (and closed at the end) by the one registry
    builder, ``session_fixtures.make_scoped``."""

    def make(factory: Any = None, **factory_kw: Any) -> ScopeHarness:
        return make_scoped(factory, mode=scope_mode, **factory_kw)

    return make


@pytest.fixture
def harness(make_harness) -> ScopeHarness:
    return make_harness()
