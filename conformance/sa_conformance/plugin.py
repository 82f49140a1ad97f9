"""pytest plugin: claims as the unit, version applicability, hypothesis
profiles and the leak guard.

Loaded with ``-p sa_conformance.plugin`` (see pyproject.toml).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy
from hypothesis import settings

from . import attribution, leakguard, selection
from .catalogue import Catalogue, CatalogueError, load_catalogue
from .paths import CATALOGUE_DIR
from .profiles import ENV_PROFILE, PROFILES, SHRINK_SECONDS, bound_shrinking, default_profile, property_timeout

CATALOGUE_KEY = pytest.StashKey[Catalogue]()
#: claim ids an item cites (set on every collected item with a claim mark)
CLAIMS_KEY = pytest.StashKey[tuple]()
#: claims whose ``with claim(ID):`` blocks completed during the call phase
CHECKED_KEY = pytest.StashKey[tuple]()
#: reason an item is not applicable to the running SQLAlchemy (absent: applicable)
NOT_APPLICABLE_KEY = pytest.StashKey[str]()
#: claim ids chosen with --claim (None: every claim)
SELECTION_KEY = pytest.StashKey[object]()

#: set (by `sa-conformance bisect`/`history`): run claims outside their since/until
#: too, so the verdict shows where the behaviour really changes
ENV_IGNORE_RANGES = "SA_CONFORMANCE_IGNORE_RANGES"
SA_VERSION = sqlalchemy.__version__

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("claims_catalogue",
                  "claims catalogue directory, relative to the ini file (default: the packaged sa_conformance/claims)")
    group = parser.getgroup("sa-conformance", "SQLAlchemy conformance: claims")
    group.addoption(
        "--claims-dump",
        dest="sa_claims_dump",
        default=None,
        metavar="PATH",
        help="after collection, write {test: [claim ids]} as JSON to PATH (used by the self-check)",
    )
    group.addoption(
        "--claim",
        dest="sa_claims",
        action="append",
        default=[],
        metavar="ID",
        help="run only the tests citing this claim id; a family name selects the family (repeatable)",
    )


def catalogue_path(config: pytest.Config) -> Path:
    """The packaged catalogue, unless the ini option ``claims_catalogue``
    (relative to the ini file) names another one."""
    raw = config.getini("claims_catalogue")
    if not raw:
        return CATALOGUE_DIR
    base = config.inipath.parent if config.inipath else config.rootpath
    return (base / raw).resolve()


@pytest.hookimpl(tryfirst=True)  # before hypothesis' own plugin loads --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    given = config.getoption("hypothesis_profile", None)
    if given and given not in settings._profiles:
        raise pytest.UsageError(
            f"unknown hypothesis profile {given!r} (from --hypothesis-profile); choose from: {', '.join(PROFILES)}"
        )
    config.addinivalue_line(
        "markers", "claim(*ids): the catalogue claim ids this test checks (sa_conformance/claims/<family>.toml)"
    )
    config.addinivalue_line("markers", "selfcheck: a test of the suite itself; cites no claim")
    config.addinivalue_line(
        "markers", "property: a hypothesis property-based test; `pytest -m property` runs them alone"
    )
    try:
        config.stash[CATALOGUE_KEY] = load_catalogue(catalogue_path(config))
    except CatalogueError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        config.stash[SELECTION_KEY] = (
            selection.resolve(config.stash[CATALOGUE_KEY], config.getoption("sa_claims"))
            if config.getoption("sa_claims", None) else None
        )
    except selection.SelectionError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not config.getoption("hypothesis_profile", None):
        profile = default_profile()
        if profile not in PROFILES:
            raise pytest.UsageError(
                f"unknown hypothesis profile {profile!r} (from {ENV_PROFILE}); choose from: {', '.join(PROFILES)}"
            )
        settings.load_profile(profile)


def pytest_sessionstart(session: pytest.Session) -> None:
    # after hypothesis' plugin has loaded any --hypothesis-profile
    bound_shrinking(str(settings._current_profile))


def pytest_unconfigure(config: pytest.Config) -> None:
    bound_shrinking("")  # hypothesis' default again (in-process pytester runs)


def pytest_report_header(config: pytest.Config) -> list[str]:
    cat = config.stash.get(CATALOGUE_KEY, None)
    profile = str(settings._current_profile)
    cap = SHRINK_SECONDS.get(profile)
    shrink = f" (shrinking capped at {cap} s per failing test)" if cap else ""
    return [
        f"SQLAlchemy {SA_VERSION}; hypothesis profile {profile}{shrink}; "
        f"catalogue {len(cat) if cat else 0} claims"
    ]


def item_claims(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("claim"):
        ids.extend(mark.args)
    return tuple(dict.fromkeys(ids))


def gated_claims(item: pytest.Item) -> frozenset[str]:
    """Claims a test checks only where they apply (``claim(..., gated=(ID, ...))``):
    outside their range the test still runs, without them, instead of being
    not applicable as a whole.  The test itself must then not exercise them
    (e.g. a property drawing no step for an API the release lacks)."""
    return frozenset(i for mark in item.iter_markers("claim") for i in mark.kwargs.get("gated", ()))


def test_id(item: pytest.Item) -> str:
    """Node id without the parametrisation suffix."""
    return item.nodeid.split("[", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cat = config.stash[CATALOGUE_KEY]
    _select_claims(config, items)
    prop_timeout = property_timeout(str(settings._current_profile))
    for item in items:
        if prop_timeout and item.get_closest_marker("property") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(prop_timeout))
        ids = item_claims(item)
        item.stash[CLAIMS_KEY] = ids
        unknown = cat.unknown(ids)
        if unknown:
            # Fails at setup with a clear message; the self-check also lists it.
            item.add_marker(pytest.mark.usefixtures("_sa_unknown_claim"))
            continue
        outside = [cat[i] for i in ids if not cat[i].applies_to(SA_VERSION)]
        gated = gated_claims(item)
        if outside and gated and not os.environ.get(ENV_IGNORE_RANGES):
            dropped = {c.id for c in outside if c.id in gated}
            item.stash[CLAIMS_KEY] = ids = tuple(i for i in ids if i not in dropped)
            outside = [c for c in outside if c.id not in dropped]
        if outside and not os.environ.get(ENV_IGNORE_RANGES):
            reason = "not applicable: " + "; ".join(
                f"{c.id} holds for SQLAlchemy {c.range_text}" for c in outside
            ) + f" (running {SA_VERSION})"
            item.stash[NOT_APPLICABLE_KEY] = reason
            item.add_marker(pytest.mark.skip(reason=reason))


def _select_claims(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--claim: keep the items citing a selected claim, deselect the rest
    (pytest reports the count)."""
    chosen = config.stash.get(SELECTION_KEY, None)
    if chosen is None:
        return
    keep, drop = [], []
    for item in items:
        (keep if chosen.intersection(item_claims(item)) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing test's line in the short summary names its claim(s): the one
    its failure is attributed to (``with claim(ID):``), else all it cites."""
    report: pytest.TestReport = yield
    ids = item.stash.get(CLAIMS_KEY, ())
    crash = getattr(report.longrepr, "reprcrash", None) if report.failed else None
    if ids and crash is not None and not str(crash.message).startswith("[claim"):
        blamed = attribution.claim_of(call.excinfo.value) if call.excinfo is not None else None
        named = (blamed,) if blamed in ids else ids
        crash.message = f"[claim{'s' if len(named) > 1 else ''} {', '.join(named)}] {crash.message}"
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("sa_claims_dump")
    if not path:
        return
    tests: dict[str, list[str]] = {}
    for item in session.items:
        if item.get_closest_marker("selfcheck"):
            continue
        tests.setdefault(test_id(item), [])
        for cid in item.stash.get(CLAIMS_KEY, ()):
            if cid not in tests[test_id(item)]:
                tests[test_id(item)].append(cid)
    Path(path).write_text(json.dumps(tests, indent=1, sort_keys=True), encoding="utf-8")


@pytest.fixture
def _sa_unknown_claim(request: pytest.FixtureRequest) -> None:
    cat = request.config.stash[CATALOGUE_KEY]
    unknown = cat.unknown(request.node.stash.get(CLAIMS_KEY, ()))
    pytest.fail(f"cites unknown claim id(s) {', '.join(unknown)}; add them to {cat.path}/<family>.toml", pytrace=False)


@pytest.fixture(scope="session")
def catalogue(pytestconfig: pytest.Config) -> Catalogue:
    return pytestconfig.stash[CATALOGUE_KEY]


# -- leak guard --------------------------------------------------------------
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    leakguard.begin_test()
    attribution.begin_test(item.stash.get(CLAIMS_KEY, ()))
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    finally:
        item.stash[CHECKED_KEY] = attribution.end_test()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    try:
        result = yield
    finally:
        leaks = leakguard.end_test()
    if leaks:
        raise leakguard.LeakError("leak: " + " | ".join(leaks))
    return result
