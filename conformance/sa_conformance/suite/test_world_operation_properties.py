"""Properties of single documented operations over generated object sets.

The world machine walks every operation among many; under the ``ci`` budget a
given operation meets a given object mix only now and then.  Each property
here drives one operation over every mix hypothesis draws (clean, modified,
pending, partly expired objects; a block that raises or not) and checks what
the documentation says of it: `with session.begin():`, close() and ORM
query autoflush (transactions), expire_all() and commit's expiry (expire),
rollback() with no transaction and no_autoflush (scoped-api),
make_transient_to_detached(), close() and delete() (states), and a rolled-back
SAVEPOINT (savepoint).
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached

from sa_conformance.attribution import claim
from sa_conformance.orm_models import Item
from sa_conformance.testing import capture_sql
from sa_conformance.world.machine import budget

names = st.text("abc", min_size=1, max_size=3)


class Boom(Exception):
    """Raised inside a block on purpose."""


def committed(db, rows: list[str], **session_kw) -> tuple[Session, list[Item]]:
    """A fresh table holding ``rows``, and a Session holding them as loaded
    persistent objects (no transaction left open)."""
    db.ensure_schema(Item.metadata)
    db.clear_tables(Item.metadata)
    session = Session(db.engine, expire_on_commit=False, **session_kw)
    objs = [Item(name=n) for n in rows]
    session.add_all(objs)
    session.commit()
    return session, objs


@pytest.mark.property
@pytest.mark.claim("transactions.begin-context-commits")
def test_begin_block_commits_or_rolls_back_whatever_it_holds(db):
    """"`with session.begin():` commits on normal exit and rolls back on an
    exception": for any mix of objects added and persistent objects modified
    inside the block, a normal exit leaves every change in the database (seen
    on another connection) and a raising block leaves none, the added objects
    transient and the modified ones back at their database values."""

    @given(before=st.lists(names, max_size=3), added=st.lists(names, max_size=3),
           modify=st.lists(st.booleans(), min_size=3, max_size=3), fail=st.booleans())
    @budget(25, 1)
    def prop(before, added, modify, fail):
        session, old = committed(db, before)
        new = [Item(name=n) for n in added]
        try:
            with pytest.raises(Boom) if fail else _nothing():
                with session.begin():
                    session.add_all(new)
                    for o, m in zip(old, modify):
                        if m:
                            o.name = o.name + "!"
                    if fail:
                        raise Boom()
            changed = [n + "!" if m else n for n, m in zip(before, modify)]
            with claim("transactions.begin-context-commits"):
                assert not session.in_transaction(), "the block must end the transaction"
                expected = sorted(before if fail else [*changed, *added])
                assert sorted(r[0] for r in db.rows("items", "name")) == expected, (
                    f"{'a raising' if fail else 'a normal'} exit left the wrong rows")
                for o in new:
                    assert inspect(o).transient if fail else inspect(o).persistent, (
                        f"an object added in the block is {'not transient' if fail else 'not persistent'} after it")
                if fail:
                    assert [o.name for o in old] == before, "a rolled-back change must not survive the block"
        finally:
            session.close()

    prop()


@contextmanager
def _nothing():
    yield


@pytest.mark.property
@pytest.mark.claim("expire.expire-all", "state-management.expire-discards-unflushed-changes")
def test_expire_all_expires_every_persistent_object(db):
    """"Session.expire_all() expires every persistent instance in the
    Session", modified or not; un-flushed changes are discarded (the next
    access reads the database value) and pending objects are not touched."""

    @given(rows=st.lists(names, min_size=1, max_size=4), modify=st.lists(st.booleans(), min_size=4, max_size=4),
           pending=st.lists(names, max_size=2))
    @budget(25, 1)
    def prop(rows, modify, pending):
        session, objs = committed(db, rows, autoflush=False)
        try:
            for o, m in zip(objs, modify):
                if m:
                    o.name = "changed"
            fresh = [Item(name=n) for n in pending]
            session.add_all(fresh)
            session.expire_all()
            with claim("expire.expire-all"):
                for o in objs:
                    assert "name" in inspect(o).expired_attributes, f"{o!r} (of {rows}) was not expired"
                    assert o not in session.dirty, f"{o!r} stays dirty after expire_all()"
            with claim("state-management.expire-discards-unflushed-changes"):
                assert [o.name for o in objs] == rows, "un-flushed changes must give way to the database values"
            with claim("expire.expire-all"):
                assert all(inspect(o).pending for o in fresh) and [o.name for o in fresh] == pending, (
                    "expire_all() must leave pending objects as they are")
        finally:
            session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("scoped-api.rollback-without-transaction")
def test_rollback_without_a_transaction_touches_nothing(db):
    """"rollback() with no transaction in progress is a pass-through: no SQL,
    no connection checked out, objects and their loaded state untouched",
    whatever mix of loaded and expired objects the Session holds."""

    @given(rows=st.lists(names, min_size=1, max_size=4), expire=st.lists(st.booleans(), min_size=4, max_size=4))
    @budget(25, 1)
    def prop(rows, expire):
        session, objs = committed(db, rows)
        try:
            for o, e in zip(objs, expire):
                if e:
                    session.expire(o)
            before = [set(inspect(o).unloaded) for o in objs]
            with capture_sql(db.engine) as sql:
                session.rollback()
            with claim("scoped-api.rollback-without-transaction"):
                assert sql == [], f"rollback() with no transaction emitted {sql}"
                assert db.checked_out() == 0 and not session.in_transaction()
                assert [set(inspect(o).unloaded) for o in objs] == before, "rollback() changed what is loaded"
                assert all(inspect(o).persistent and o in session for o in objs)
        finally:
            session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("states.make-transient-to-detached")
def test_make_transient_to_detached_expires_what_is_missing(db):
    """make_transient_to_detached() of a transient object with a primary key
    makes it detached with an identity key ("missing attributes will be marked
    as expired", the rest kept with their history reset); add() then makes it
    persistent without SQL, and a missing attribute loads the database value."""

    @given(rows=st.lists(names, min_size=1, max_size=3), pick=st.integers(0, 2), given_name=st.none() | names)
    @budget(25, 1)
    def prop(rows, pick, given_name):
        seeded, objs = committed(db, rows)
        pk = objs[pick % len(objs)].id
        seeded.close()
        obj = Item(id=pk) if given_name is None else Item(id=pk, name=given_name)
        make_transient_to_detached(obj)
        session = Session(db.engine)
        try:
            with claim("states.make-transient-to-detached"):
                insp = inspect(obj)
                assert insp.detached and insp.key is not None and insp.key[1] == (pk,), f"not detached: {insp.key}"
                assert ("name" in insp.expired_attributes) == (given_name is None), (
                    f"expired {set(insp.expired_attributes)} after make_transient_to_detached with name={given_name!r}")
                with capture_sql(db.engine) as sql:
                    session.add(obj)
                assert sql == [] and inspect(obj).persistent and obj not in session.dirty
                expected = rows[pick % len(rows)] if given_name is None else given_name
                assert obj.name == expected, f"name {obj.name!r}, expected {expected!r}"
        finally:
            session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("savepoint.nested-rollback-keeps-outer", "savepoint.nested-rollback-pending-transient")
def test_rolled_back_savepoint_keeps_the_outer_transaction(db):
    """"Rolling back the begin_nested() transaction discards only the rows
    written inside it; the outer transaction's rows are committed by the
    final commit()", and "objects added inside a rolled-back SAVEPOINT become
    transient again while objects of the outer transaction stay persistent",
    for any split of objects between the outer transaction and the SAVEPOINT."""

    @given(outer=st.lists(names, max_size=3), inner=st.lists(names, min_size=1, max_size=3), flush=st.booleans())
    @budget(25, 1)
    def prop(outer, inner, flush):
        db.ensure_schema(Item.metadata)
        db.clear_tables(Item.metadata)
        session = Session(db.engine)
        try:
            first = [Item(name=n) for n in outer]
            session.add_all(first)
            session.flush()
            nested = session.begin_nested()
            second = [Item(name=n) for n in inner]
            session.add_all(second)
            if flush:
                session.flush()
            nested.rollback()
            with claim("savepoint.nested-rollback-pending-transient"):
                assert all(inspect(o).transient for o in second), "objects of the SAVEPOINT must be transient again"
                assert all(inspect(o).persistent for o in first), "objects of the outer transaction stay persistent"
            session.commit()
            with claim("savepoint.nested-rollback-keeps-outer"):
                assert sorted(r[0] for r in db.rows("items", "name")) == sorted(outer), (
                    f"committed rows after rolling back the SAVEPOINT (flushed inside: {flush})")
        finally:
            session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("states.close-detaches", "transactions.close-releases-connection")
def test_close_detaches_everything_and_releases_the_connection(db):
    """"Session.close() expunges all objects: persistent ones become detached
    and pending ones transient" and "ends the transaction (rolling it back)
    and returns the connection to the pool; ... the Session is usable again",
    whatever mix of clean, modified, deleted and pending objects it holds."""

    @given(rows=st.lists(names, min_size=1, max_size=3), touch=st.lists(st.sampled_from(["keep", "modify", "delete"]),
           min_size=3, max_size=3), pending=st.lists(names, max_size=2))
    @budget(25, 1)
    def prop(rows, touch, pending):
        session, objs = committed(db, rows)
        try:
            for o, t in zip(objs, touch):
                if t == "modify":
                    o.name = "changed"
                elif t == "delete":
                    session.delete(o)
            session.flush()  # the changes are written inside the transaction close() ends
            fresh = [Item(name=n) for n in pending]
            session.add_all(fresh)
            session.close()
            kept = [o for o, t in zip(objs, touch) if t != "delete"]  # (an object whose DELETE was flushed: another claim)
            with claim("states.close-detaches"):
                assert all(inspect(o).detached for o in kept), "persistent objects must be detached by close()"
                assert all(inspect(o).transient for o in fresh), "pending objects must be transient after close()"
                assert len(session.identity_map) == 0 and not session.new and not session.deleted
            with claim("transactions.close-releases-connection"):
                assert db.checked_out() == 0 and not session.in_transaction()
                assert sorted(r[0] for r in db.rows("items", "name")) == sorted(rows), "close() must roll back"
                session.add(Item(name="again"))
                session.commit()
                assert sorted(r[0] for r in db.rows("items", "name")) == sorted([*rows, "again"])
        finally:
            session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("expire.commit-expires-all", "expire.expire-on-commit-false")
def test_commit_expires_exactly_as_configured(db):
    """With the default expire_on_commit=True "commit() expires all
    instances", new and loaded alike; with expire_on_commit=False "attributes
    stay loaded after commit() and reading them emits no SQL"."""

    @given(rows=st.lists(names, max_size=3), added=st.lists(names, max_size=3), expire_on_commit=st.booleans())
    @budget(25, 1)
    def prop(rows, added, expire_on_commit):
        loaded, objs = committed(db, rows)
        loaded.close()
        session = Session(db.engine, expire_on_commit=expire_on_commit)
        try:
            objs = [session.merge(o) for o in objs]
            fresh = [Item(name=n) for n in added]
            session.add_all(fresh)
            session.commit()
            everything = objs + fresh
            if expire_on_commit:
                with claim("expire.commit-expires-all"):
                    assert all("name" in inspect(o).expired_attributes for o in everything), "commit() expires all"
            else:
                with claim("expire.expire-on-commit-false"):
                    with capture_sql(db.engine) as sql:
                        got = [o.name for o in everything]
                    assert sql == [] and got == [*rows, *added], f"reading after commit emitted {sql}"
        finally:
            session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("transactions.orm-query-autoflush", "scoped-api.no-autoflush-block")
def test_query_autoflushes_unless_told_not_to(db):
    """"An ORM query autoflushes pending objects first (autoflush=True); with
    autoflush=False it does not", and inside `with session.no_autoflush:` a
    query does not autoflush (the objects stay pending)."""

    @given(rows=st.lists(names, max_size=2), pending=st.lists(names, min_size=1, max_size=3),
           mode=st.sampled_from(["autoflush", "autoflush=False", "no_autoflush block"]))
    @budget(25, 1)
    def prop(rows, pending, mode):
        _, _ = committed(db, rows)
        session = Session(db.engine, autoflush=(mode != "autoflush=False"))
        try:
            fresh = [Item(name=n) for n in pending]
            session.add_all(fresh)
            query = select(Item.name)
            if mode == "no_autoflush block":
                with session.no_autoflush:
                    seen = session.execute(query).scalars().all()
            else:
                seen = session.execute(query).scalars().all()
            flushed = mode == "autoflush"
            which = "transactions.orm-query-autoflush" if mode != "no_autoflush block" else "scoped-api.no-autoflush-block"
            with claim(which):
                assert sorted(seen) == sorted([*rows, *pending] if flushed else rows), f"{mode}: the query saw {seen}"
                assert all(inspect(o).persistent if flushed else inspect(o).pending for o in fresh)
        finally:
            session.close()

    prop()

