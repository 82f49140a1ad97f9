"""Passwords in URLs never appear in any output: results file, summary,
HTML matrix, JUnit XML (properties and failure text) or the terminal."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sa_conformance.redact import Redactor, password_of
from sa_conformance.testing import make_inner_project

# subprocess-heavy: generous timeout on a loaded machine
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

INI = """
[pytest]
claims_catalogue = claims
addopts = -p sa_fixtures.pytest_plugin -p sa_conformance.plugin -p sa_conformance.results -p no:randomly -p no:cacheprovider
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return make_inner_project(pytester, monkeypatch, INI, claims=("alpha",))


def every_output(result: pytest.RunResult, root: Path) -> dict[str, str]:
    out = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".html", ".xml"):
            out[str(path.relative_to(root))] = path.read_text(errors="replace")
    return out


@pytest.mark.timeout(180)
def test_wrong_password_provisioning_error_is_redacted(inner):
    """--mysql-url with a (wrong) password: the run stops with a usage error
    naming the server, and 'secretpw' is in no output."""
    inner.makepyfile(test_db="""
        import pytest
        @pytest.mark.claim("registry.alpha")
        def test_a(backend):
            pass
        """)
    url = "mysql+pymysql://root:secretpw@127.0.0.1:3306/test"
    result = inner.runpytest_subprocess(
        "--backend", "mysql", "--require-backend", "mysql", "--mysql-url", url,
        "--results=out/results.json", "--junitxml=out/junit.xml",
    )
    assert result.ret != 0
    outputs = every_output(result, inner.path)
    assert "127.0.0.1" in outputs["stderr"] + outputs["stdout"], "the error should name the server"
    leaked = [name for name, text in outputs.items() if "secretpw" in text]
    assert not leaked, f"password appears in: {leaked}"


@pytest.mark.timeout(180)
def test_password_in_failure_output_is_redacted_everywhere(inner):
    """A failing test whose message, captured stdout and skip reason carry
    the configured password (bare and inside a URL) and another URL's
    password: all masked in results, summary, matrix, JUnit and terminal."""
    inner.makepyfile(test_leaky=textwrap.dedent("""
        import pytest
        @pytest.mark.claim("registry.alpha")
        def test_fails(backend):
            print("connecting to mysql+pymysql://root:secretpw@db.example:3306/x")
            assert False, "bad login secretpw for postgresql://app:otherpass99@pg/x"

        @pytest.mark.claim("registry.alpha")
        def test_skips(backend):
            pytest.skip("server mysql://root:secretpw@db.example/x unavailable")
        """))
    result = inner.runpytest_subprocess(
        "--backend", "sqlite-memory", "--mysql-url", "mysql+pymysql://root:secretpw@127.0.0.1:3306/test",
        "--results=out/results.json", "--junitxml=out/junit.xml", "-rA",
    )
    result.assert_outcomes(failed=1, skipped=1)
    outputs = every_output(result, inner.path)
    assert {"out/results.json", "out/summary.md", "out/matrix.html", "out/junit.xml"} <= set(outputs)
    for secret in ("secretpw", "otherpass99"):
        leaked = [name for name, text in outputs.items() if secret in text]
        assert not leaked, f"{secret} appears in: {leaked}"
    assert "bad login *** for postgresql://app:***@pg/x" in outputs["out/results.json"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mysql+pymysql://root:pw@h:3306/db", "mysql+pymysql://root:***@h:3306/db"),
        ("url='postgresql://u:p@ss@host/db' end", "url='postgresql://u:***@host/db' end"),
        ("mysql://root@h/db", "mysql://root@h/db"),
        ("a mysql://u:x@h/d and b pg://v:y@i/e", "a mysql://u:***@h/d and b pg://v:***@i/e"),
    ],
)
def test_redactor_masks_url_passwords(text, expected):
    assert Redactor()(text) == expected


def test_redactor_masks_literal_and_url_encoded_secrets():
    r = Redactor()
    r.add_url("mysql://root:s%40cret@h/db")
    assert password_of("mysql://root:s%40cret@h/db") == "s%40cret"
    assert r("login s@cret and s%40cret") == "login *** and ***"
    assert r.deep({"a": ["s@cret"], "b": 1}) == {"a": ["***"], "b": 1}
