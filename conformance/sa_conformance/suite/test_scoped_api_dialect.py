"""Seed 002's Contextual Session API: members whose behaviour depends on the
dialect or the SQLAlchemy series (FOR UPDATE, bound MetaData, asyncio
re-load after commit)."""

import asyncio
import gc
import re
import warnings

import pytest
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import MetaData, select
from sqlalchemy.orm import sessionmaker

from sa_conformance.orm_models import User, metadata
from sa_conformance.testing import capture_sql, selects
from sa_fixtures.backends import POOLS


def _for_update_clause(engine) -> str:
    """What this dialect appends for with_for_update() ('' where it renders none)."""
    plain = str(select(User.id).compile(engine))
    locked = str(select(User.id).with_for_update().compile(engine))
    return locked[len(plain):].strip()


@pytest.mark.claim("scoped-api.get-with-for-update")
def test_get_and_refresh_with_for_update(scoped, session_factory, db):
    """with_for_update=True: the SELECT carries the dialect's FOR UPDATE."""
    clause = _for_update_clause(db.engine)
    with session_factory() as setup:
        setup.add(User(name="locked"))
        setup.commit()
        uid = setup.scalar(select(User.id))
    try:
        with capture_sql(db.engine) as sql:
            u = scoped.get(User, uid, with_for_update=True)
            scoped.refresh(u, with_for_update=True)
        assert len(selects(sql)) == 2
        for q in selects(sql):
            assert (clause in q) if clause else ("FOR UPDATE" not in q.upper()), (clause, q)
        scoped.rollback()
    finally:
        scoped.remove()


@pytest.mark.claim("scoped-api.get-bind-bound-metadata")
def test_get_bind_through_bound_metadata_in_1_4(make_scoped, engine, db):
    """1.4: MetaData(bind=engine) makes an unbound Session find the engine."""
    from sqlalchemy import Column, Integer, Table
    from sqlalchemy.orm import registry

    bound = MetaData(bind=engine)
    table = Table("users", bound, Column("id", Integer, primary_key=True))

    class BoundUser:
        pass

    registry(metadata=bound).map_imperatively(BoundUser, table)
    reg = make_scoped(sessionmaker())
    try:
        assert reg.get_bind(BoundUser) is engine
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.get-bind-no-bound-metadata")
def test_no_bound_metadata_from_2_0(make_scoped, db):
    """2.0+: MetaData(bind=...) is a TypeError; an unbound Session has no bind."""
    with pytest.raises(TypeError, match="bind"):
        MetaData(bind=db.engine)
    reg = make_scoped(sessionmaker())
    try:
        with pytest.raises(sqlalchemy.exc.UnboundExecutionError):
            reg.get_bind(User)
    finally:
        reg.remove()


@pytest.mark.claim("scoped-api.commit-expired-reload-not-async")
@pytest.mark.requires("async_driver")
def test_async_commit_expired_attribute_needs_await(db):
    """AsyncSession: after commit() an expired attribute raises MissingGreenlet."""
    from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

    label = f"{db.id}/scoped-api-async"

    async def main():
        engine = db.create_async_engine(label)
        try:
            await db.prepare_async(engine, metadata)
            reg = async_scoped_session(
                sessionmaker(bind=engine, class_=AsyncSession), scopefunc=asyncio.current_task
            )
            try:
                u = User(name="async")
                reg.add(u)
                await reg.commit()
                with pytest.raises((sqlalchemy.exc.MissingGreenlet, sqlalchemy.exc.StatementError)) as info:
                    _ = u.name
                err = info.value
                root = err if isinstance(err, sqlalchemy.exc.MissingGreenlet) else err.orig
                assert isinstance(root, sqlalchemy.exc.MissingGreenlet), repr(err)
                assert re.match(
                    r"^greenlet_spawn has not been called; can't call await_(only)?\(\) here\. "
                    r"Was IO attempted in an unexpected place\?", str(root)
                ), str(root)
                with warnings.catch_warnings():  # the failed sync load left an un-awaited driver coroutine
                    warnings.simplefilter("ignore", RuntimeWarning)
                    del info, err, root
                    gc.collect()
                await reg.refresh(u)
                assert u.name == "async"
                await reg.delete(u)
                await reg.commit()
            finally:
                await reg.remove()
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        POOLS.forget(label)


@pytest.mark.claim("scoped-api.expire-isolated-transaction-same-values")
@pytest.mark.requires("repeatable_reads", "independent_connections")
@pytest.mark.parametrize("how", ["expire", "expire_all", "refresh"])
def test_expiry_reloads_within_the_transaction_snapshot(scoped, session_factory, db, how):
    """"a highly isolated transaction will return the same values as were
    previously read in that same transaction"."""
    with session_factory() as setup:
        setup.add(User(name="before"))
        setup.commit()
    try:
        u = scoped.scalars(select(User)).one()
        assert u.name == "before"
        with db.observer.begin() as conn:
            conn.exec_driver_sql("UPDATE users SET name = 'after'")
        if how == "refresh":
            scoped.refresh(u)
        else:
            getattr(scoped, how)(*([u] if how == "expire" else []))
        assert u.name == "before", "reloaded inside the same (isolated) transaction"
        scoped.commit()
        assert u.name == "after"
    finally:
        scoped.remove()
