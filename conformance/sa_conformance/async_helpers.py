"""What the async claim tests share: one asyncio.run on a fresh async engine.

Each test runs ``asyncio.run`` itself (no event loop outlives it) on an async
engine for the backend's database, made from the backend's declaration,
tracked by the leak guard under ``<backend id>/<label>`` and disposed
afterwards, with a bound on the whole body.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import sqlalchemy
from sqlalchemy.orm import sessionmaker

from sa_fixtures.backends import POOLS

TIMEOUT = 20


def async_factory(engine: Any, **kw: Any) -> Any:
    """An AsyncSession factory: ``async_sessionmaker`` on 2.x, its 1.4 spelling otherwise."""
    if int(sqlalchemy.__version__.split(".")[0]) >= 2:  # API spelling only
        from sqlalchemy.ext.asyncio import async_sessionmaker

        return async_sessionmaker(bind=engine, **kw)
    from sqlalchemy.ext.asyncio import AsyncSession

    return sessionmaker(bind=engine, class_=AsyncSession, **kw)


def tracked_label(db: Any, label: str) -> str:
    """The leak guard's name for a test module's async engine."""
    return f"{db.id}/{label}"


def checked_out(db: Any, label: str) -> int:
    """Connections checked out of the async engine :func:`run_on_async_engine` made under ``label``."""
    return db.checked_out(tracked_label(db, label))


def run_on_async_engine(db: Any, label: str, body: Callable[[Any], Awaitable[Any]], *,
                        metadata: Any = None, timeout: float = TIMEOUT) -> Any:
    """``asyncio.run(body(engine))``; with ``metadata``, its tables are created first."""
    tracked = tracked_label(db, label)

    async def main() -> Any:
        engine = db.create_async_engine(tracked)
        try:
            if metadata is not None:
                await db.prepare_async(engine, metadata)
            return await asyncio.wait_for(body(engine), timeout)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    finally:
        POOLS.forget(tracked)
