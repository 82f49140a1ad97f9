"""Registry identity: the scoped_session registry hands out one Session per scope."""

import pytest
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.util import ScopedRegistry, ThreadLocalRegistry

from sa_conformance.scoping_harness import Request, harness, make_harness, scope_mode  # noqa: F401  (fixtures)
from sa_conformance.testing import run_threads


class CountingFactory:
    """A session factory that records every Session it makes (and its kwargs)."""

    def __init__(self, inner):
        self.inner = inner
        self.made = []

    def __call__(self, **kw):
        session = self.inner(**kw)
        self.made.append((session, kw))
        return session

    def configure(self, **kw):
        self.inner.configure(**kw)


@pytest.mark.claim("registry.same-session-in-scope")
def test_repeated_calls_in_one_scope_return_the_same_session(harness):
    """"Calling the registry again returns the same Session" (some_session is some_other_session)."""
    first = harness.call(0)
    second = harness.call(0)
    assert isinstance(harness.sync_session(first), Session)
    assert first is second
    assert harness.call(0) is first
    harness.remove(0)


@pytest.mark.claim("registry.same-session-in-scope")
def test_thread_local_default_repeated_calls_same_session(scoped):
    """The docs' own sequence on the plain thread-local registry."""
    some_session = scoped()
    some_other_session = scoped()
    assert some_session is some_other_session
    scoped.remove()


@pytest.mark.claim("registry.distinct-sessions-across-scopes")
def test_each_scope_gets_and_keeps_its_own_session(harness):
    """"Another thread's call gets a Session local to that other thread";
    the same holds for any scope kind."""
    sessions = [harness.call(k) for k in range(3)]
    assert sessions[0] is not sessions[1] and sessions[1] is not sessions[2] and sessions[0] is not sessions[2]
    # interleaved calls keep returning each scope's own Session
    for k in (2, 0, 1, 0, 2):
        assert harness.call(k) is sessions[k]
    for k in range(3):
        harness.remove(k)


@pytest.mark.claim("registry.distinct-sessions-across-threads")
def test_overlapping_threads_get_distinct_sessions(scoped):
    """"Callers who call upon the scoped_session registry in another thread get
    a Session instance that is local to that other thread."  Four threads hold
    their Sessions at the same time (barrier), identity compared with `is`."""
    n = 4

    def worker(i, barrier):
        mine = scoped()
        barrier.wait()  # all threads now hold a Session concurrently
        again = scoped()
        barrier.wait()
        scoped.remove()
        return mine, again

    results = run_threads(worker, n)
    sessions = [mine for mine, _ in results]
    assert all(mine is again for mine, again in results), "a thread's repeated call must return its Session"
    for i in range(n):
        for j in range(i + 1, n):
            assert sessions[i] is not sessions[j], f"threads {i} and {j} shared one Session"
    assert not scoped.registry.has(), "the main thread never asked for a Session"


@pytest.mark.claim("registry.distinct-sessions-across-scopefunc-tokens")
def test_scopefunc_tokens_key_the_sessions(make_scoped):
    """"the function should return a hashable token; this token will be used as
    the key in a dictionary" -- one thread, several tokens."""
    current = [Request(1)]
    registry = make_scoped(scopefunc=lambda: current[0])
    r1, r2 = current[0], Request(2)
    s1 = registry()
    current[0] = r2
    s2 = registry()
    assert s1 is not s2
    current[0] = r1
    assert registry() is s1
    current[0] = r2
    assert registry() is s2
    assert set(registry.registry.registry) == {r1, r2}
    assert registry.registry.registry[r1] is s1 and registry.registry.registry[r2] is s2
    for token in (r1, r2):
        current[0] = token
        registry.remove()


@pytest.mark.claim("registry.registry-unchanged-by-remove")
def test_remove_leaves_the_registry_object_in_place(harness):
    """Seed 000: "database_sesssion itself is still the same object after
    calling database_sesssion.remove()" -- and it still works (even with
    arguments)."""
    registry = harness.registry
    registry_store = registry.registry
    before = harness.call(0)
    harness.remove(0)
    assert harness.registry is registry and registry.registry is registry_store
    after = harness.call(0, info={"second": True})
    assert after is not before
    assert harness.sync_session(after).info == {"second": True}
    assert harness.call(0) is after
    harness.remove(0)


@pytest.mark.claim("registry.factory-called-once-per-scope")
def test_factory_called_only_when_scope_is_empty(make_harness):
    """"Return the current Session, creating it using the session_factory if not present.\""""
    probe = make_harness()
    counting = CountingFactory(probe.session_factory)
    h = make_harness(factory=counting)
    s = h.call(0)
    for _ in range(3):
        h.call(0)
    assert [m for m, _ in counting.made] == [s]
    t = h.call(1)
    assert [m for m, _ in counting.made] == [s, t]
    h.remove(0)
    u = h.call(0)
    assert [m for m, _ in counting.made] == [s, t, u]
    h.remove(0)
    h.remove(1)


@pytest.mark.claim("registry.session-factory-attribute")
def test_session_factory_attribute_is_the_factory_passed(db, make_scoped):
    """"The session_factory provided to __init__ is stored in this attribute ...
    useful when a new non-scoped Session is needed.\""""
    factory = sessionmaker(bind=db.engine, expire_on_commit=False)
    registry = make_scoped(factory=factory)
    assert registry.session_factory is factory
    scoped_one = registry()
    with registry.session_factory() as unscoped:
        assert unscoped is not scoped_one
        assert unscoped.expire_on_commit is False
        assert registry() is scoped_one, "a non-scoped Session must not enter the registry"
    registry.remove()


@pytest.mark.claim("registry.has-reflects-presence")
def test_has_tracks_presence_in_the_current_scope(harness):
    """ScopedRegistry.has(): "Return True if an object is present in the current scope.\""""
    assert harness.has(0) is False
    harness.call(0)
    assert harness.has(0) is True
    assert harness.has(1) is False, "another scope has no Session yet"
    harness.call(1)
    harness.remove(0)
    assert harness.has(0) is False
    assert harness.has(1) is True
    harness.remove(1)
    assert harness.has(1) is False


@pytest.mark.claim("registry.scoped-registry-api")
def test_scoped_registry_set_clear_and_create(session_factory):
    """ScopedRegistry: call = getter (createfunc if absent); set()/clear() act
    on the current scope only."""
    token = ["a"]
    created = []

    def createfunc():
        created.append(object())
        return created[-1]

    reg = ScopedRegistry(createfunc, lambda: token[0])
    assert reg.has() is False
    first = reg()
    assert reg() is first and created == [first]
    mine = object()
    token[0] = "b"
    reg.set(mine)
    assert reg() is mine and len(created) == 1, "set() value is returned without calling createfunc"
    token[0] = "a"
    assert reg() is first, "set() in scope b must not touch scope a"
    reg.clear()
    assert reg.has() is False
    reg.clear()  # no-op when absent
    token[0] = "b"
    assert reg.has() is True and reg() is mine, "clear() in scope a must not touch scope b"
    reg.clear()
    assert reg.has() is False


@pytest.mark.claim("registry.scoped-registry-api")
def test_thread_local_registry_set_clear_per_thread():
    """ThreadLocalRegistry: "uses a threading.local() variable for storage" --
    set()/clear() in one thread leave another thread's value alone."""
    reg = ThreadLocalRegistry(lambda: object())
    mine = object()
    reg.set(mine)
    assert reg.has() and reg() is mine

    def other(i, barrier):
        seen_before = reg.has()
        theirs = reg()
        barrier.wait()
        reg.clear()
        return seen_before, theirs, reg.has()

    [(seen_before, theirs, has_after)] = run_threads(other, 1)
    assert seen_before is False and theirs is not mine and has_after is False
    assert reg() is mine, "another thread's clear() must not clear this thread's value"
    reg.clear()
    assert reg.has() is False


@pytest.mark.claim("registry.default-thread-local-registry")
def test_default_registry_is_thread_local_and_scopefunc_makes_scoped(session_factory):
    """"If not passed, the scoped_session object assumes 'thread-local' scope ...
    If passed, ... used as the key in a dictionary.\""""
    plain = scoped_session(session_factory)
    assert isinstance(plain.registry, ThreadLocalRegistry)
    token = object()
    keyed = scoped_session(session_factory, scopefunc=lambda: token)
    assert isinstance(keyed.registry, ScopedRegistry) and not isinstance(keyed.registry, ThreadLocalRegistry)
    s = keyed()
    assert keyed.registry.registry == {token: s}
    keyed.remove()
    assert keyed.registry.registry == {}
