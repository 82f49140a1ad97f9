"""The leak guard can fail: each kind of leak turns an otherwise passing test
into an error at teardown that names what leaked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sa_conformance.paths import CATALOGUE_DIR

pytestmark = pytest.mark.selfcheck

REPO = Path(__file__).resolve().parents[2]

LEAKY_TESTS = '''
import threading, time
import pytest
from sqlalchemy import text

@pytest.mark.claim("registry.same-session-in-scope")
def test_leaks_connection(session_factory):
    s = session_factory()
    s.execute(text("SELECT 1"))          # never closed

@pytest.mark.claim("registry.same-session-in-scope")
def test_leaks_thread(backend):
    stop = threading.Event()
    threading.Thread(target=stop.wait, args=(30,), name="leaky-worker", daemon=True).start()

@pytest.mark.claim("registry.same-session-in-scope")
def test_leaks_registry_entry(scoped):
    scoped()                              # never removed

@pytest.mark.claim("registry.same-session-in-scope")
def test_clean(scoped):
    scoped()
    scoped.remove()
'''


@pytest.fixture
def inner(pytester: pytest.Pytester):
    pytester.makefile(
        ".toml",
        pyproject=f'[tool.pytest.ini_options]\nclaims_catalogue = "{CATALOGUE_DIR}"\n',
    )
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    return pytester


def test_guard_names_each_leak_and_spares_clean_tests(inner: pytest.Pytester):
    result = inner.runpytest_subprocess(
        "-p", "sa_fixtures.pytest_plugin", "-p", "sa_conformance.plugin", "-p", "sa_conformance.session_fixtures",
        "--backend", "sqlite-file", "-p", "no:cacheprovider", "-q",
    )
    out = result.stdout.str()
    result.assert_outcomes(passed=4, errors=3)
    assert "pool connections still checked out: sqlite-file: 1 connection(s)" in out
    assert "still alive after the test: thread 'leaky-worker'" in out
    assert "scoped_session registry still holds 1 Session(s)" in out
    assert "ERROR at teardown of test_clean" not in out
