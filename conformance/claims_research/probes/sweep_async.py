"""AsyncSession fixes: #6943 (1.4.24) execution_options as a plain dict; #6220 (1.4.8)
AsyncSession.bind; #10421 (2.0.23) AsyncSession.close_all(); 2.0.22 AsyncSession.get()
execution_options propagated; #7667 (1.4.32) stream_results with execute()."""
from _sweep import *
import asyncio
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
import tempfile

d = tempfile.mkdtemp()
sync = create_engine(f"sqlite:///{d}/a.db")
Base.metadata.create_all(sync)
with sync.begin() as c:
    c.execute(User.__table__.insert(), {"id": 1, "name": "u1"})
ae = create_async_engine(f"sqlite+aiosqlite:///{d}/a.db")

def run(coro_fn):
    return lambda: asyncio.run(coro_fn())

async def exec_opts():
    async with AsyncSession(ae) as s:
        return (await s.execute(select(User.name), execution_options={"populate_existing": True})).all()
step("AsyncSession.execute(execution_options=dict)", run(exec_opts))

async def bind():
    s = AsyncSession(bind=ae)
    try:
        return s.bind is ae
    finally:
        await s.close()
step("AsyncSession(bind=engine).bind is engine", run(bind))

async def close_all():
    s = AsyncSession(ae)
    await s.execute(select(User.id))
    await AsyncSession.close_all()
    return s.in_transaction()
step("AsyncSession.close_all() closes open sessions (in_transaction after)", run(close_all))

async def get_opts():
    seen = []
    s = AsyncSession(ae)
    event.listen(s.sync_session, "do_orm_execute", lambda st: seen.append(dict(st.execution_options).get("marker")))
    try:
        await s.get(User, 1, execution_options={"marker": "m"})
        return seen
    finally:
        await s.close()
step("AsyncSession.get(execution_options={'marker': 'm'}) seen by do_orm_execute", run(get_opts))

async def stream():
    async with AsyncSession(ae) as s:
        r = await s.execute(select(User.name), execution_options={"stream_results": True})
        return r.all()
step("AsyncSession.execute(stream_results=True)", run(stream))
