"""Mutation smoke: the suite turns red when SQLAlchemy's session behaviour
regresses.

Each mutation of ``sa_conformance.mutations`` is applied in a *subprocess*
pytest run (``-p sa_conformance.mutations`` + ``SA_CONFORMANCE_MUTATION``) over
the test modules of the claims it must break; the claims whose tests failed
or errored are read from the run's ``results.json`` (claim verdicts, each
attributed to the claim whose check failed), and every claim the mutation
names must be among them.  The mutation never touches this process.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
from sa_conformance import mutation_patches as patches
from sa_conformance import mutations
from sa_conformance.mutations import MUTATIONS, Mutation
from sa_conformance.paths import SUITE_DIR as TESTS
from sa_conformance.resultsio import load_results
from sa_fixtures.backends import BACKENDS

pytestmark = pytest.mark.selfcheck

REPO = Path(__file__).resolve().parents[2]
#: bounds for one mutated inner run (a mutation may make a test hang: the
#: inner per-test timeout cuts it, the outer timeout bounds the whole run)
INNER_TEST_TIMEOUT = 20
INNER_RUN_TIMEOUT = 55
#: seconds a mutated run's statement on a server waits for a row lock
INNER_LOCK_WAIT = 3
#: per server kind: URL query that bounds those waits (a mutation may leave a
#: transaction open whose locks the next write, or the final DROP DATABASE, would wait on)
LOCK_WAIT_QUERY = {
    "mysql": {"init_command": f"SET SESSION innodb_lock_wait_timeout={INNER_LOCK_WAIT}, "
                              f"lock_wait_timeout={INNER_LOCK_WAIT}"},
}


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
    claims = set(mutation.claims_for(backend_name))
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


def red_claims(results: Path) -> tuple[dict[str, list[str]], int]:
    """claim id -> the tests behind its failing verdicts (fail, error or
    unexpected pass: the claim that failed its check, not every claim of a
    failing test), and the number of tests run -- from the run's results.json."""
    doc = load_results(results)
    red: dict[str, list[str]] = {}
    for rec in doc.records:
        if rec.outcome.bad:
            red.setdefault(rec.claim, []).append(rec.detail_from or "?")
    return red, doc.tests.total


def run_mutated(
    mutation: Mutation, tmp: Path, backend_name: str, extra: list[str] = ()
) -> tuple[dict[str, list[str]], int, str]:
    modules = selection_for(mutation, backend_name)
    assert modules, f"{mutation.name}: no test in {family_module_globs(mutation.claims)} cites {mutation.claims}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env[mutations.ENV] = mutation.name
    argv = [
        sys.executable, "-m", "pytest", "-p", "sa_conformance.mutations", "-p", "no:cacheprovider",
        "-p", "no:randomly", "-p", "no:xdist", "-m", "not selfcheck", "-o", "console_output_style=classic",
        f"--timeout={INNER_TEST_TIMEOUT}", f"--results={tmp / 'results.json'}",
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
            if extra:  # [--<kind>-url, URL] of a server backend
                _drop_inner_database(BACKENDS[backend_name].provisioner, extra[1], proc.pid)
    proc.stdout, proc.stderr = stdout, stderr  # type: ignore[misc]
    assert proc.returncode in (0, 1), f"inner run crashed (exit {proc.returncode}):\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
    # The header proves the mutation was applied (an inert run would "catch" nothing for the wrong reason).
    assert f"MUTATION ACTIVE: {mutation.name}" in proc.stdout, proc.stdout[:1500]
    red, cases = red_claims(tmp / "results.json")
    return red, cases, proc.stdout


def _cases() -> list:
    params = []
    for m in MUTATIONS.values():
        marks = [pytest.mark.xfail(reason=f"NOT CAUGHT by the suite: {m.gap}", strict=True)] if m.gap else []
        params += [pytest.param(m.name, b, id=f"{m.name}-{b}", marks=marks) for b in m.backends]
    return params


@pytest.mark.parametrize(("name", "backend_name"), _cases())
def test_mutation_turns_its_claims_red(name: str, backend_name: str, tmp_path: Path, pytestconfig, catalogue):
    """Each deliberate regression makes the tests of the claims it names fail."""
    mutation = MUTATIONS[name]
    named = mutation.claims_for(backend_name)
    unknown = catalogue.unknown(named)
    assert not unknown, f"{name}: names claims not in the catalogue: {unknown}"
    # A claim outside the running SQLAlchemy's range is not tested here, so cannot turn red.
    expected = tuple(c for c in named if catalogue[c].applies_to(sqlalchemy.__version__))
    if not expected and not mutation.gap:
        pytest.skip(f"not applicable: none of {named} holds for SQLAlchemy {sqlalchemy.__version__}")
    extra = _server_args(pytestconfig, backend_name)
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


def _drop_inner_database(kind: str, url: str, pid: int) -> None:
    """The mutated run's own database (``saconf_<pid>_main``): its drop at the
    end of that run may have given up on locks its leaked sessions held, which
    died with the process; drop it now so nothing is left on the server."""
    from sa_fixtures import provision

    server = provision.Server(kind, url, "url", "", "")
    provision.drop_database(server, f"saconf_{pid}_main")


def _server_args(config: pytest.Config, backend_name: str) -> list[str]:
    """``[--<kind>-url, URL]`` reusing this run's server for a server backend
    (the inner run makes its own database); nothing for an embedded one."""
    from sa_fixtures.pytest_plugin import SELECTED_KEY, SERVERS_KEY

    kind = BACKENDS[backend_name].provisioner
    if kind is None:
        return []
    if backend_name not in config.stash.get(SELECTED_KEY, ()):
        pytest.skip(f"{backend_name} backend not selected (--backend)")
    info = config.stash.get(SERVERS_KEY, {}).get(backend_name) or {}
    if "url" not in info:
        pytest.skip(f"{backend_name} unavailable: {info.get('unavailable', 'not provisioned')}")
    url = sqlalchemy.engine.make_url(info["url"]).update_query_dict(LOCK_WAIT_QUERY.get(kind, {}))
    return [f"--{kind}-url", url.render_as_string(hide_password=False)]


def test_mutations_are_inert_unless_requested(pytestconfig):
    """Importing the mutation catalogue patches nothing in this process."""
    from sqlalchemy.orm import Session, scoped_session
    from sqlalchemy.util import ScopedRegistry, ThreadLocalRegistry

    assert os.environ.get(mutations.ENV) is None
    assert not mutations._ACTIVE
    for owner in (Session, scoped_session, ScopedRegistry, ThreadLocalRegistry):
        for attr in vars(owner).values():
            assert getattr(attr, "__module__", None) not in (mutations.__name__, patches.__name__), (
                f"{owner.__name__} is patched"
            )
