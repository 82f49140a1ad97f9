"""Properties of the registry's API surface over generated inputs: scope
tokens (scopes), query properties on a class (query-property), sessionmaker
keyword combinations of the legacy spelling (legacy-api), and Session
configurations that cannot prepare() (session-transactions)."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, String, exc, select
from sqlalchemy.orm import Query, Session, declarative_base, scoped_session, sessionmaker

from sa_conformance.attribution import claim
from sa_conformance.orm_models import Item
from sa_conformance.world.machine import budget

tokens = st.one_of(st.integers(-3, 3), st.text(max_size=2), st.tuples(st.integers(0, 2), st.booleans()))


@pytest.mark.property
@pytest.mark.claim("scopes.request-scope-lifecycle", "scopes.custom-scope-not-self-managed", "scopes.hashable-token-required")
def test_scopefunc_tokens_key_the_registry(db):
    """For any sequence of (hashable) tokens: the same token gets the same
    Session back, different tokens different Sessions, a finished token's
    Session stays registered until remove(), and an unhashable token fails
    with TypeError."""

    @given(seq=st.lists(st.tuples(tokens, st.booleans()), min_size=1, max_size=12))
    @budget(15, 1)
    def prop(seq):
        current = [None]
        reg = scoped_session(sessionmaker(bind=db.engine), scopefunc=lambda: current[0])
        held: dict = {}
        try:
            for token, remove in seq:
                current[0] = token
                session = reg()
                with claim("scopes.request-scope-lifecycle"):
                    if token in held:
                        assert session is held[token], f"token {token!r} must get its Session back"
                    else:
                        assert all(session is not s for s in held.values()), f"token {token!r} got another token's Session"
                        held[token] = session
                if remove:
                    reg.remove()
                    held.pop(token)
                with claim("scopes.custom-scope-not-self-managed"):
                    assert set(reg.registry.registry) == set(held), "the registry holds exactly the unremoved tokens"
            current[0] = [1, 2]
            with claim("scopes.hashable-token-required"):
                with pytest.raises(TypeError, match="unhashable"):
                    reg()
        finally:
            for token in list(held):
                current[0] = token
                reg.remove()

    prop()


@pytest.mark.property
@pytest.mark.claim("query-property.multiple-properties", "query-property.current-scope-session",
                   "query-property.class-attribute", "query-property.default-query-class")
def test_query_properties_each_make_their_own_query(db):
    """Any number of query properties, each with its own query class or
    none (then the session's configured query class), coexist on a class;
    each produces its own kind of Query, bound to the current scope's Session
    at attribute access."""

    @given(own=st.lists(st.booleans(), min_size=1, max_size=4), configured=st.booleans(),
           scopes=st.lists(st.integers(0, 2), min_size=1, max_size=4))
    @budget(10, 1)
    def prop(own, configured, scopes):
        current = [0]
        session_query = type("SessionQuery", (Query,), {}) if configured else Query
        maker = sessionmaker(bind=db.engine, query_cls=session_query) if configured else sessionmaker(bind=db.engine)
        reg = scoped_session(maker, scopefunc=lambda: current[0])
        kinds = [type(f"Q{i}", (Query,), {}) if mine else None for i, mine in enumerate(own)]
        Base = declarative_base()
        attrs = {"__tablename__": "items", "id": Column(Integer, primary_key=True), "name": Column(String(50))}
        attrs.update({f"q{i}": reg.query_property(query_cls=k) if k else reg.query_property() for i, k in enumerate(kinds)})
        Mapped = type("Mapped", (Base,), attrs)
        try:
            for scope in scopes:
                current[0] = scope
                for i, kind in enumerate(kinds):
                    q = getattr(Mapped, f"q{i}")
                    if kind is None:
                        with claim("query-property.default-query-class"):
                            assert type(q) is session_query, (
                                f"q{i} (no query_cls) must produce the session's {session_query.__name__}, "
                                f"got {type(q).__name__}")
                    else:
                        with claim("query-property.multiple-properties"):
                            assert type(q) is kind, f"q{i} must produce {kind.__name__}, got {type(q).__name__}"
                    with claim("query-property.current-scope-session"):
                        assert q.session is reg(), "the Query must be bound to the current scope's Session"
                with claim("query-property.class-attribute"):
                    assert Mapped.q0.all() == [], "the query property must query the mapped table"
                reg.rollback()  # (one shared connection on some backends: end the read)
        finally:
            for scope in set(scopes):
                current[0] = scope
                reg.remove()

    db.clear_tables(Item.metadata)
    prop()


@pytest.mark.property
@pytest.mark.claim("legacy-api.autocommit-false-accepted", "legacy-api.future-flag-accepted")
def test_legacy_sessionmaker_spellings_make_working_sessions(db):
    """Any combination of the seeds' spellings (autocommit=False,
    autoflush=..., future=True, on sessionmaker() or the call) makes working
    Sessions without error or warning."""

    @given(on_maker=st.dictionaries(st.sampled_from(["autocommit", "autoflush", "future"]), st.just(None)),
           autoflush=st.booleans(), names=st.lists(st.text("ab", min_size=1, max_size=3), max_size=3))
    @budget(10, 1)
    def prop(on_maker, autoflush, names):
        kw = {"autocommit": False, "autoflush": autoflush, "future": True}
        maker_kw = {k: kw[k] for k in on_maker}
        call_kw = {k: v for k, v in kw.items() if k not in maker_kw and k != "autocommit"}
        db.clear_tables(Item.metadata)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with claim("legacy-api.autocommit-false-accepted"):
                session = sessionmaker(bind=db.engine, **maker_kw)(**call_kw)
            try:
                with claim("legacy-api.future-flag-accepted"):
                    session.add_all([Item(name=n) for n in names])
                    session.commit()
                    assert sorted(session.scalars(select(Item.name)).all()) == sorted(names)
                    assert session.autoflush is autoflush
            finally:
                session.close()

    prop()


@pytest.mark.property
@pytest.mark.claim("session-transactions.prepare-requires-twophase")
def test_prepare_without_twophase_always_raises(db):
    """Whatever a (non-twophase) Session holds, prepare() raises
    InvalidRequestError "'twophase' mode not enabled, or not root
    transaction; can't prepare." and the Session stays usable."""

    @given(names=st.lists(st.text("xy", min_size=1, max_size=2), max_size=3), flush=st.booleans())
    @budget(10, 1)
    def prop(names, flush):
        db.clear_tables(Item.metadata)
        session = Session(db.engine)
        try:
            session.add_all([Item(name=n) for n in names])
            if flush:
                session.flush()
            with claim("session-transactions.prepare-requires-twophase"):
                not_twophase = "'twophase' mode not enabled, or not root transaction; can't prepare"
                with pytest.raises(exc.InvalidRequestError, match=not_twophase):
                    session.prepare()
                session.rollback()
                session.add(Item(name="after"))
                session.commit()
                assert db.rows("items", "name") == [("after",)]
        finally:
            session.close()

    prop()
