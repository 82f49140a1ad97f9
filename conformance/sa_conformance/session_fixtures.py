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
from sa_conformance.models import metadata
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
def make_scoped(session_factory) -> Callable[..., scoped_session]:
    """Build scoped_session registries; any registry that still holds a
    Session when the test ends is reported to the leak guard (then emptied)."""
    made: list[scoped_session] = []

    def make(factory: Any = None, scopefunc: Callable[[], Any] | None = None) -> scoped_session:
        registry = scoped_session(factory or session_factory, scopefunc=scopefunc)
        made.append(registry)
        return registry

    yield make
    for registry in made:
        leftover = registry_contents(registry)
        if leftover:
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
