"""Scope kinds: scopefunc=get_ident, request tokens, greenlets."""

import gc
import threading
import weakref

import pytest
from sqlalchemy.orm import scoped_session

from sa_conformance.scoping_harness import GreenletWorker, Request
from sa_conformance.testing import run_threads


@pytest.mark.claim("scopes.scopefunc-get-ident")
def test_get_ident_scopefunc_is_per_thread(make_scoped):
    """Seed 000: scoped_session(session_factory, scopefunc=get_ident)."""
    registry = make_scoped(scopefunc=threading.get_ident)

    def worker(i, barrier):
        s = registry()
        barrier.wait()
        again = registry()
        barrier.wait()
        registry.remove()
        return s, again

    (a, a2), (b, b2), (c, c2) = run_threads(worker, 3)
    assert a is a2 and b is b2 and c is c2
    assert a is not b and b is not c and a is not c
    assert registry.registry.registry == {}, "each thread removed its own Session"


@pytest.mark.claim("scopes.request-scope-lifecycle")
def test_request_scoped_sessions_with_remove_at_request_end(make_scoped):
    """The docs' get_current_request()/on_request_end pattern."""
    current = [None]
    registry = make_scoped(scopefunc=lambda: current[0])
    seen = []

    def handle(request):
        current[0] = request
        try:
            first = registry()
            registry.info["request"] = request.number  # proxied: same Session
            assert registry() is first
            seen.append(first)
        finally:
            registry.remove()  # on_request_end
            current[0] = None

    for n in range(3):
        handle(Request(n))
    assert seen[0] is not seen[1] and seen[1] is not seen[2] and seen[0] is not seen[2]
    assert [s.info["request"] for s in seen] == [0, 1, 2]
    assert registry.registry.registry == {}, "nothing stays registered after the requests end"


@pytest.mark.claim("scopes.custom-scope-not-self-managed")
def test_scopefunc_registry_keeps_sessions_until_removed(make_scoped):
    """"this dictionary is not self-managed" -- a finished request's Session
    stays in the registry (and alive) until remove()."""
    current = [Request(1)]
    registry = make_scoped(scopefunc=lambda: current[0])
    finished = current[0]
    ref = weakref.ref(registry())
    current[0] = Request(2)  # request 1 is "over", nobody called remove()
    del finished
    gc.collect()
    assert ref() is not None, "the registry itself keeps the Session alive"
    assert list(registry.registry.registry.values()) == [ref()]
    current[0] = next(iter(registry.registry.registry))
    registry.remove()
    assert registry.registry.registry == {}
    gc.collect()
    assert ref() is None


@pytest.mark.claim("scopes.hashable-token-required")
def test_unhashable_token_fails(session_factory):
    """"the function should return a hashable token\""""
    registry = scoped_session(session_factory, scopefunc=lambda: ["not", "hashable"])
    with pytest.raises(TypeError, match="unhashable"):
        registry()


@pytest.mark.claim("scopes.thread-local-shared-by-greenlets")
def test_default_scope_shares_one_session_between_greenlets(make_scoped):
    """Warning: threading.local() "is not necessarily compatible with ...
    greenlets" -- two greenlets on this thread see one Session."""
    pytest.importorskip("greenlet")
    registry = make_scoped()
    g1, g2 = GreenletWorker(), GreenletWorker()
    try:
        s1 = g1.run(registry)
        s2 = g2.run(registry)
        assert s1 is s2, "thread-local scope cannot tell greenlets apart"
        assert registry() is s1
        g2.run(registry.remove)
        assert g1.run(registry.registry.has) is False, "remove() in one greenlet empties the other's scope too"
    finally:
        g1.stop()
        g2.stop()
        registry.remove()


@pytest.mark.claim("scopes.greenlet-scopefunc")
def test_greenlet_scopefunc_gives_each_greenlet_its_session(make_scoped):
    """scopefunc=greenlet.getcurrent: one Session per greenlet."""
    greenlet = pytest.importorskip("greenlet")
    registry = make_scoped(scopefunc=greenlet.getcurrent)
    g1, g2 = GreenletWorker(), GreenletWorker()
    try:
        s1 = g1.run(registry)
        s2 = g2.run(registry)
        assert s1 is not s2
        assert g1.run(registry) is s1 and g2.run(registry) is s2
        assert registry.registry.has() is False, "the test's own greenlet has no Session"
        g1.run(registry.remove)
        assert g2.run(registry) is s2
        g2.run(registry.remove)
        assert registry.registry.registry == {}
    finally:
        g1.stop()
        g2.stop()


@pytest.mark.claim("scopes.greenlet-scopefunc")
def test_gevent_getcurrent_scopefunc(make_scoped):
    """The same with gevent's greenlets (gevent.getcurrent)."""
    gevent = pytest.importorskip("gevent", reason="gevent is not installed; greenlet-level check covers the claim")
    registry = make_scoped(scopefunc=gevent.getcurrent)

    def job():
        s = registry()
        gevent.sleep(0)
        same = registry() is s
        registry.remove()
        return s, same

    jobs = [gevent.spawn(job) for _ in range(2)]
    gevent.joinall(jobs, timeout=10)
    (a, same_a), (b, same_b) = [j.get(timeout=1) for j in jobs]
    assert same_a and same_b and a is not b
