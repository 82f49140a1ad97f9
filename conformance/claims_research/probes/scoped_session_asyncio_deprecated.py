"""Fact: scoped_session(sessionmaker(class_=AsyncSession)) emits a deprecation warning; async_scoped_session requires scopefunc."""

from _probe import *  # noqa: F401,F403 -- step(), mk_base(), mem_engine(), file_engine(), rows_elsewhere()

from sqlalchemy.orm import sessionmaker, scoped_session
try:
    from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
except ImportError as ex:  # 2.1 without greenlet
    print(f"import sqlalchemy.ext.asyncio: raised {type(ex).__module__}.{type(ex).__name__}: {ex}")
    sys.exit(0)
try:
    from sqlalchemy.ext.asyncio import async_sessionmaker
except ImportError:
    async_sessionmaker = None
_r = step("scoped_session(sessionmaker(class_=AsyncSession))", lambda: scoped_session(sessionmaker(class_=AsyncSession)))
step("calling that registry", lambda: type(_r()).__name__)
step("async_scoped_session(factory) without scopefunc", lambda: async_scoped_session(sessionmaker(class_=AsyncSession)))
import asyncio
async def main():
    reg = async_scoped_session(sessionmaker(class_=AsyncSession), scopefunc=asyncio.current_task)
    a = reg(); b = reg()
    async def other(): return reg()
    c = await asyncio.create_task(other())
    r = {"same_in_task": a is b, "other_task_distinct": c is not a}
    try:
        reg(autoflush=False)
    except Exception as ex:
        r["reargs"] = f"{type(ex).__name__}: {ex}"
    await reg.remove()
    r["new_after_remove"] = reg() is not a
    return r
step("async_scoped_session current_task scope", lambda: asyncio.run(main()))
step("async_sessionmaker exists", lambda: async_sessionmaker is not None)
