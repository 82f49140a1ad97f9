"""Fact: scoped_session(sessionmaker(class_=AsyncSession)) emits a deprecation warning; async_scoped_session requires scopefunc."""

# --- standalone probe preamble (needs only sqlalchemy + the stdlib sqlite3) ---
import os, sys, warnings, tempfile
os.environ.setdefault("SQLALCHEMY_WARN_20", "1")  # 1.4: surface RemovedIn20Warning
warnings.simplefilter("always")
import sqlalchemy as sa
from sqlalchemy import Column, Integer, String, create_engine, inspect, select, text, func
print("sqlalchemy", sa.__version__)

def step(label, fn):
    """Run fn, print its return value or exception (module.Class: message) and any warnings."""
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            r = fn()
            print(f"{label}: returned {r!r}")
        except Exception as e:
            r = e
            print(f"{label}: raised {type(e).__module__}.{type(e).__name__}: {e}")
    for w in ws:
        print(f"    warning {w.category.__name__}: {w.message}")
    return r

def mk_base():
    try:
        from sqlalchemy.orm import declarative_base
    except ImportError:  # pragma: no cover
        from sqlalchemy.ext.declarative import declarative_base
    Base = declarative_base()
    class User(Base):
        __tablename__ = "user"
        id = Column(Integer, primary_key=True)
        name = Column(String(50))
        def __repr__(self):
            return f"<User {self.__dict__.get('id')!r} {self.__dict__.get('name')!r}>"
    return Base, User

def file_engine(Base, **kw):
    path = os.path.join(tempfile.mkdtemp(), "probe.db")
    e = create_engine(f"sqlite:///{path}", **kw)
    Base.metadata.create_all(e)
    return e

def mem_engine(Base, **kw):
    e = create_engine("sqlite://", **kw)
    Base.metadata.create_all(e)
    return e

def rows_elsewhere(engine, sql='SELECT name FROM "user" ORDER BY id'):
    """Rows as seen from a fresh, independent DBAPI connection."""
    import sqlite3
    c = sqlite3.connect(engine.url.database)
    try:
        return [tuple(r) for r in c.execute(sql)]
    finally:
        c.close()
# --- end preamble ---

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
