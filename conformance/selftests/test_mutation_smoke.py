"""Mutation smoke: the suite turns red when SQLAlchemy's session behaviour
regresses.

Each mutation of ``sa_conformance.mutations`` is applied in a *subprocess*
pytest run (``-p sa_conformance.mutations`` + ``SA_CONFORMANCE_MUTATION``) over
the test modules of the claims it must break; the claims whose tests failed
or errored are read from ``--claims-dump`` (test -> claim ids) and the JUnit
XML (outcomes), and every claim the mutation names must be among them.  The
mutation never touches this process.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sqlalchemy
from sa_conformance import mutations
from sa_conformance.mutations import MUTATIONS, Mutation

pytestmark = pytest.mark.selfcheck

REPO = Path(__file__).resolve().parents[2]
from sa_conformance.paths import SUITE_DIR as TESTS  # noqa: E402
#: bounds for one mutated inner run (a mutation may make a test hang: the
#: inner per-test timeout cuts it, the outer timeout bounds the whole run)
INNER_TEST_TIMEOUT = 20
INNER_RUN_TIMEOUT = 55
#: seconds a mutated mysql run's statement waits for a row lock
INNER_LOCK_WAIT = 3


def family_module_globs(claims: tuple[str, ...]) -> list[str]:
    families = sorted({c.split(".", 1)[0].replace("-", "_") for c in claims})
    return [f"test_{f}*.py" for f in families]


def _cites(node: ast.AST, claims: set[str]) -> bool:
    """True if ``node`` (a decorator list entry / pytestmark value) names one of ``claims``."""
    return any(isinstance(c, ast.Constant) and c.value in claims for c in ast.walk(node))


def _tests_citing(path: Path, claims: set[str]) -> list[str]:
    """Node ids (``file::func`` / ``file::Class``) in ``path`` whose claim marks
    name one of ``claims``; the whole file if its ``pytestmark`` does."""
    rel = str(path.relative_to(REPO))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in tree.body:
        is_mark = isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
        if is_mark and _cites(node.value, claims):
            return [rel]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = [node, *(n for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
            cited = any(_cites(d, claims) for n in inner for d in n.decorator_list)
            if cited and node.name.startswith(("test", "Test")):
                found.append(f"{rel}::{node.name}")
    return found


def selection_for(mutation: Mutation, backend_name: str) -> list[str]:
    """The tests citing the mutation's claims (claims are tested in their
    family modules, so only those are read), plus any extra modules."""
    claims = set(mutation.claims) | (set(mutation.mysql_claims) if backend_name == "mysql" else set())
    found: list[str] = []
    for claim in sorted(claims):
        paths = [p for g in family_module_globs((claim,)) for p in sorted(TESTS.glob(g))]
        citing = [n for p in paths for n in _tests_citing(p, {claim})]
        if not citing:  # cited in a way the AST scan cannot see (e.g. via a constant): whole modules
            citing = [str(p.relative_to(REPO)) for p in paths]
        found += [n for n in citing if n not in found]
    for pattern in mutation.modules:
        for path in sorted(TESTS.glob(pattern)):
            rel = str(path.relative_to(REPO))
            if rel not in found and path.name != Path(__file__).name:
                found.append(rel)
    return found


def red_claims(dump: Path, junit: Path) -> tuple[dict[str, list[str]], int]:
    """claim id -> failing test ids, and the number of test cases run."""
    tests = json.loads(dump.read_text())
    # "conformance/sa_conformance/suite/test_x.py::Cls::test_f" -> ("conformance.tests.test_x.Cls", "test_f")
    by_junit: dict[tuple[str, str], list[str]] = {}
    for test_id, claims in tests.items():
        parts = test_id.split("::")
        classname = ".".join([parts[0].removesuffix(".py").replace("/", "."), *parts[1:-1]])
        by_junit[(classname, parts[-1])] = claims
    red: dict[str, list[str]] = {}
    cases = 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        cases += 1
        if case.find("failure") is None and case.find("error") is None:
            continue
        name = case.get("name", "")
        for cid in by_junit.get((case.get("classname", ""), name.split("[", 1)[0]), []):
            red.setdefault(cid, []).append(f"{case.get('classname')}::{name}")
    return red, cases


def run_mutated(
    mutation: Mutation, tmp: Path, backend_name: str, extra: list[str] = ()
) -> tuple[dict[str, list[str]], int, str]:
    modules = selection_for(mutation, backend_name)
    assert modules, f"{mutation.name}: no test in {family_module_globs(mutation.claims)} cites {mutation.claims}"
    dump, junit = tmp / "claims.json", tmp / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env[mutations.ENV] = mutation.name
    env["SA_CONFORMANCE_RESULTS_DIR"] = str(tmp / "results")
    argv = [
        sys.executable, "-m", "pytest", "-p", "sa_conformance.mutations", "-p", "no:cacheprovider",
        "-p", "no:randomly", "-p", "no:xdist", "-m", "not selfcheck", "-o", "console_output_style=classic",
        f"--timeout={INNER_TEST_TIMEOUT}", f"--claims-dump={dump}", f"--junitxml={junit}",
        "--backend", backend_name, *extra, *modules,
    ]
    with subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=INNER_RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            pytest.fail(f"mutated run did not finish within {INNER_RUN_TIMEOUT}s:\n{stdout[-1500:]}", pytrace=False)
        finally:
            if "--mysql-url" in extra:
                _drop_inner_database(extra[extra.index("--mysql-url") + 1], proc.pid)
    proc.stdout, proc.stderr = stdout, stderr  # type: ignore[misc]
    assert proc.returncode in (0, 1), f"inner run crashed (exit {proc.returncode}):\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
    # The header proves the mutation was applied (an inert run would "catch" nothing for the wrong reason).
    assert f"MUTATION ACTIVE: {mutation.name}" in proc.stdout, proc.stdout[:1500]
    red, cases = red_claims(dump, junit)
    return red, cases, proc.stdout


def _cases() -> list:
    params = []
    for m in MUTATIONS.values():
        marks = [pytest.mark.xfail(reason=f"NOT CAUGHT by the suite: {m.gap}", strict=True)] if m.gap else []
        params.append(pytest.param(m.name, "sqlite-memory", id=f"{m.name}-sqlite-memory", marks=marks))
        if m.mysql:
            params.append(pytest.param(m.name, "mysql", id=f"{m.name}-mysql", marks=marks))
    return params


@pytest.mark.parametrize(("name", "backend_name"), _cases())
def test_mutation_turns_its_claims_red(name: str, backend_name: str, tmp_path: Path, pytestconfig, catalogue):
    """Each deliberate regression makes the tests of the claims it names fail."""
    mutation = MUTATIONS[name]
    named = mutation.claims + (mutation.mysql_claims if backend_name == "mysql" else ())
    unknown = catalogue.unknown(named)
    assert not unknown, f"{name}: names claims not in the catalogue: {unknown}"
    # A claim outside the running SQLAlchemy's range is not tested here, so cannot turn red.
    expected = tuple(c for c in named if catalogue[c].applies_to(sqlalchemy.__version__))
    if not expected and not mutation.gap:
        pytest.skip(f"not applicable: none of {named} holds for SQLAlchemy {sqlalchemy.__version__}")
    extra = _mysql_args(pytestconfig) if backend_name == "mysql" else []
    red, cases, out = run_mutated(mutation, tmp_path, backend_name, extra)
    assert cases > 0, f"{name}: the inner run ran no test:\n{out[-1500:]}"
    if mutation.gap:
        # Not caught yet (strict xfail): this assertion failing is the expected outcome.
        assert red, f"{name}: no claim turned red"
        return
    missed = [c for c in expected if c not in red]
    assert not missed, (
        f"mutation {name!r} ({mutation.description}) was NOT caught by claim(s) {missed}; "
        f"red claims: {sorted(red)}"
    )


def _drop_inner_database(url: str, pid: int) -> None:
    """The mutated run's own database (``saconf_<pid>_main``): its drop at the
    end of that run may have given up on locks its leaked sessions held, which
    died with the process; drop it now so nothing is left on the server."""
    from sa_fixtures import provision

    server = provision.Server("mysql", url, "url", "", "")
    provision.drop_database(server, f"saconf_{pid}_main")


def _mysql_args(config: pytest.Config) -> list[str]:
    from sa_fixtures.pytest_plugin import SELECTED_KEY, SERVERS_KEY

    if "mysql" not in config.stash.get(SELECTED_KEY, ()):
        pytest.skip("mysql backend not selected (--backend)")
    info = config.stash.get(SERVERS_KEY, {}).get("mysql") or {}
    if "url" not in info:
        pytest.skip(f"mysql unavailable: {info.get('unavailable', 'not provisioned')}")
    # Reuse this run's server: the inner run makes its own database.  A mutation may leave a
    # transaction open that holds row/metadata locks; the next write (or the final DROP
    # DATABASE) would wait innodb_lock_wait_timeout / lock_wait_timeout: bound both.
    url = sqlalchemy.engine.make_url(info["url"]).update_query_dict(
        {"init_command": f"SET SESSION innodb_lock_wait_timeout={INNER_LOCK_WAIT}, lock_wait_timeout={INNER_LOCK_WAIT}"}
    )
    return ["--mysql-url", url.render_as_string(hide_password=False)]


def test_mutations_are_inert_unless_requested(pytestconfig):
    """Importing the mutation catalogue patches nothing in this process."""
    from sqlalchemy.orm import Session, scoped_session
    from sqlalchemy.util import ScopedRegistry, ThreadLocalRegistry

    assert os.environ.get(mutations.ENV) is None
    assert not mutations._ACTIVE
    for owner in (Session, scoped_session, ScopedRegistry, ThreadLocalRegistry):
        for attr in vars(owner).values():
            assert getattr(attr, "__module__", None) != mutations.__name__, f"{owner.__name__} is patched"
