"""pytest plugin: the fixtures shared by the claim tests.

Loaded with ``-p sa_conformance.session_fixtures`` (never through an entry
point, so installing the package changes nobody else's pytest runs).  The
``backend`` fixture (parametrised over ``--backend``) comes from
``sa_fixtures.pytest_plugin``; the claim machinery and the leak guard from
``sa_conformance.plugin``.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from sqlalchemy.orm import scoped_session, sessionmaker
from sqlalchemy.util import ThreadLocalRegistry

from sa_conformance import leakguard
from sa_conformance.orm_models import metadata
from sa_conformance.testing import registry_contents


@pytest.fixture
def db(backend):
    """The backend with the test schema created (once per worker) and every
    table emptied before the test."""
    backend.ensure_schema(metadata)
    backend.clear_tables(metadata)
    return backend


@pytest.fixture
def engine(db):
    return db.engine


@pytest.fixture
def session_factory(engine) -> sessionmaker:
    """A plain ``sessionmaker`` bound to the backend's engine."""
    return sessionmaker(bind=engine)


@pytest.fixture
def make_scoped(db, session_factory) -> Callable[..., Any]:
    """The one way the fixtures build scoped_session registries.

    ``make_scoped(factory=None, scopefunc=None)`` returns a plain
    ``scoped_session`` (over ``session_factory`` unless ``factory`` is
    given); any such registry that still holds a Session when the test ends
    is reported to the leak guard (then emptied).

    ``make_scoped(factory=None, mode=M, **sessionmaker_kw)`` returns a
    :class:`~sa_conformance.scoping_harness.ScopeHarness` of scope mode ``M``
    (its registry plus the threads/greenlets/requests/tasks that are its
    scopes); harnesses are closed at the end (every scope's Session removed,
    workers stopped).  ``make_harness`` is this with the test's ``scope_mode``.
    """
    registries: list[scoped_session] = []
    harnesses: list[Any] = []

    def make(factory: Any = None, scopefunc: Callable[[], Any] | None = None, *, mode: str | None = None,
             **factory_kw: Any) -> Any:
        if mode is not None:
            from sa_conformance.scoping_harness import HARNESSES

            if scopefunc is not None:
                raise TypeError(f"scope mode {mode!r} brings its own scopefunc")
            harness = HARNESSES[mode](db, factory, **factory_kw)
            harnesses.append(harness)
            return harness
        if factory_kw:
            raise TypeError("sessionmaker keywords need a scope mode; pass factory=sessionmaker(...) instead")
        registry = scoped_session(factory or session_factory, scopefunc=scopefunc)
        registries.append(registry)
        return registry

    yield make
    errors: list[BaseException] = []
    for harness in harnesses:
        try:
            harness.close()
        except BaseException as exc:  # close them all; raise the first
            errors.append(exc)
    for registry in registries:
        _release(registry)
    if errors:
        raise errors[0]


def _release(registry: scoped_session) -> None:
    """Report a registry's leftover Sessions to the leak guard, close them
    and empty the registry."""
    leftover = registry_contents(registry)
    if not leftover:
        return
    leakguard.report(
        f"scoped_session registry still holds {len(leftover)} Session(s) for scope(s) "
        f"{sorted(map(repr, leftover))} (call remove())"
    )
    for session in leftover.values():
        session.close()
    reg = registry.registry
    if isinstance(reg, ThreadLocalRegistry):
        reg.clear()
    else:  # a scopefunc registry: a plain dict keyed by scope token
        reg.registry.clear()


@pytest.fixture
def scoped(make_scoped) -> scoped_session:
    """A thread-local scoped_session over ``session_factory``."""
    return make_scoped()
