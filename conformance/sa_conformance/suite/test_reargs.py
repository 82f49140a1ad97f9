"""Re-arguments: keyword arguments are only accepted when the scope is empty."""

import warnings

import pytest
from sqlalchemy.exc import ArgumentError, InvalidRequestError, SAWarning
from sqlalchemy.orm import sessionmaker

from sa_conformance.attribution import claim
from sa_conformance.scoping_harness import harness, make_harness, scope_mode  # noqa: F401  (fixtures)

REARGS_MESSAGE = r"^Scoped session is already present; no new arguments may be specified\.$"
CONFIGURE_MESSAGE = (
    r"^At least one scoped session is already present\.\s+configure\(\) can not affect sessions "
    r"that have already been created\.$"
)


@pytest.mark.claim("reargs.present-raises")
def test_kwargs_while_session_present_raise_invalid_request(harness):
    """"If the Session is present and keyword arguments have been passed,
    InvalidRequestError is raised." """
    present = harness.call(0)
    with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
        harness.call(0, autoflush=False)
    with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
        harness.call(0, info={"x": 1})
    assert harness.call(0) is present, "the failed call must not replace the Session"
    assert harness.sync_session(present).autoflush is True, "the failed call's arguments must not apply"
    assert harness.sync_session(present).info == {}
    harness.remove(0)


@pytest.mark.claim("reargs.present-raises")
def test_seed_future_true_twice_raises(scoped):
    """Seed 000: a second database_sesssion(future=True) raises
    "Scoped session is already present; no new arguments may be specified.\""""
    session = scoped(future=True)
    with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
        scoped(future=True)
    assert scoped() is session
    scoped.remove()


@pytest.mark.claim("reargs.first-call-kwargs-reach-factory")
def test_first_call_kwargs_configure_the_new_session(harness):
    """"Keyword arguments will be passed to the session_factory callable, if an
    existing Session is not present.\""""
    created = harness.call(0, autoflush=False, expire_on_commit=False, info={"request": 7})
    sync = harness.sync_session(created)
    assert sync.autoflush is False
    assert sync.expire_on_commit is False
    assert sync.info == {"request": 7}
    assert harness.call(0) is created, "the Session made with arguments is the scope's Session"
    # the factory defaults are untouched for another scope
    other = harness.sync_session(harness.call(1))
    assert other.autoflush is True and other.expire_on_commit is True and other.info == {}
    harness.remove(0)
    harness.remove(1)


@pytest.mark.claim("reargs.allowed-after-remove", "reargs.present-raises")
def test_kwargs_allowed_again_after_remove(harness):
    """Seed 000: after remove(), database_sesssion(future=True) "actually works,
    it does not raise an exception"; the new Session is then present again."""
    first = harness.call(0, info={"n": 1})
    harness.remove(0)
    with claim("reargs.allowed-after-remove"):
        second = harness.call(0, info={"n": 2})
        assert second is not first
        assert harness.sync_session(second).info == {"n": 2}
    with claim("reargs.present-raises"), pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
        harness.call(0, info={"n": 3})
    harness.remove(0)


@pytest.mark.claim("reargs.per-scope", "reargs.present-raises")
def test_kwargs_accepted_in_an_empty_scope_while_another_holds_one(harness):
    """The presence check is the current scope's (registry.has())."""
    held = harness.call(0)
    with claim("reargs.per-scope"):
        other = harness.call(1, autoflush=False)
        assert other is not held
        assert harness.sync_session(other).autoflush is False
        assert harness.sync_session(held).autoflush is True
    with claim("reargs.present-raises"):
        with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
            harness.call(0, autoflush=False)
        with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
            harness.call(1, autoflush=True)
    harness.remove(0)
    harness.remove(1)


@pytest.mark.claim("reargs.configure-warns-when-present")
def test_configure_with_a_session_present_warns(harness):
    """configure(): SAWarning "At least one scoped session is already present.
    configure() can not affect sessions that have already been created.\""""
    harness.call(0)
    with pytest.warns(SAWarning, match=CONFIGURE_MESSAGE):
        harness.run(0, lambda: harness.registry.configure(autoflush=False))
    harness.remove(0)


@pytest.mark.claim("reargs.configure-affects-next-session-only")
def test_configure_changes_only_later_sessions(harness):
    """The existing Session keeps its settings; the next one gets the new ones."""
    existing = harness.call(0)
    with pytest.warns(SAWarning, match=CONFIGURE_MESSAGE):
        harness.run(0, lambda: harness.registry.configure(autoflush=False, info={"configured": True}))
    assert harness.sync_session(existing).autoflush is True
    assert harness.sync_session(existing).info == {}
    assert harness.call(0) is existing, "configure() must not replace the present Session"
    harness.remove(0)
    fresh = harness.sync_session(harness.call(0))
    assert fresh.autoflush is False
    assert fresh.info == {"configured": True}
    harness.remove(0)


@pytest.mark.claim("reargs.configure-silent-when-empty")
def test_configure_with_empty_scope_does_not_warn(harness):
    """No Session present in the current scope: no warning; the next Session uses it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        harness.run(0, lambda: harness.registry.configure(expire_on_commit=False))
    assert harness.sync_session(harness.call(0)).expire_on_commit is False
    harness.remove(0)


@pytest.mark.claim("reargs.future-true-accepted")
def test_seed_future_true_first_call_works(db, make_scoped):
    """Seed 000: sessionmaker(autocommit=False, autoflush=False, bind=engine,
    future=True); database_sesssion(future=True) returns a working Session."""
    from sqlalchemy import text

    factory = sessionmaker(autocommit=False, autoflush=False, bind=db.engine, future=True)
    registry = make_scoped(factory=factory)
    session = registry(future=True)
    assert session.autoflush is False
    assert session.execute(text("SELECT 1")).scalar() == 1
    assert registry() is session
    registry.remove()


@pytest.mark.claim("reargs.future-false-legacy-session")
def test_future_false_reaches_the_factory_in_1_4(scoped):
    """1.4: Session(future=False) is the legacy mode; the kwarg reaches the factory."""
    session = scoped(future=False)
    assert session.future is False
    scoped.remove()
    assert scoped(future=True).future is True
    scoped.remove()


@pytest.mark.claim("reargs.future-false-rejected")
def test_future_false_rejected_from_2_0(scoped):
    """2.0+: "The 'future' parameter passed to Session() may only be set to True.\""""
    with pytest.raises(ArgumentError, match=r"The 'future' parameter passed to Session\(\) may only be set to True"):
        scoped(future=False)
    assert scoped.registry.has() is False, "a failed factory call must leave the scope empty"
    scoped.remove()
