"""pytest plugin ``-p sa_conformance.results``: hooks only.

* known deviations (``expectations.toml``) become ``xfail(strict=True)``;
* on every test process (xdist worker or not) each phase report gets the
  structured facts of :mod:`sa_conformance.collect` (claims, backend,
  driver, scope mode, the exception's claim / reproduction / leak type, the
  claims whose ``with claim()`` blocks completed) and the teardown report the
  JUnit properties ``claim``/``backend``/``driver``/``scope_mode``/``kind``;
* a leak found at teardown of a test whose call already failed is recorded
  as data, not as a second error (one JUnit ``<testcase>`` per test);
* on the controller :class:`sa_conformance.recorder.Recorder` writes
  ``results.json`` (atomically, periodically, ``complete: false`` until the
  end), ``summary.md`` and ``matrix.html``, and prints the claims line.

The model (:mod:`sa_conformance.model`), I/O (:mod:`.resultsio`) and
rendering (:mod:`.report`) know nothing of pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import collect
from .recorder import (
    DEFAULT_DIR,
    ENV_RESULTS_DIR,
    RESULTS_NAME,
    Recorder,
    describe_new_backends,
    make_redactor,
)

EXPECT_KEY = pytest.StashKey[list]()
ITEM_EXPECT_KEY = pytest.StashKey[list]()
CALL_FAILED_KEY = pytest.StashKey[bool]()
RECORDER_KEY = pytest.StashKey[Recorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "expectations_file", "known deviations (TOML), relative to the ini file (default: the packaged one)", default=""
    )
    group = parser.getgroup("sa-results", "SQLAlchemy conformance: results")
    group.addoption(
        "--results", dest="sa_results", default=None, metavar="PATH",
        help=f"write the results file here (default: ${ENV_RESULTS_DIR}/{RESULTS_NAME}, else "
        f"{DEFAULT_DIR}/{RESULTS_NAME}); summary.md and matrix.html are written beside it",
    )
    group.addoption("--no-results", dest="sa_no_results", action="store_true", help="write no results file")
    group.addoption(
        "--expectations", dest="sa_expectations", default=None, metavar="PATH",
        help="known-deviations file (default: the packaged sa_conformance/expectations.toml)",
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _catalogue(config: pytest.Config):
    from .plugin import CATALOGUE_KEY

    return config.stash.get(CATALOGUE_KEY, None)


def _expectations_path(config: pytest.Config) -> Path | None:
    """The known-deviations file; None (no deviations) for a catalogue other than
    the packaged one when no file is named: the packaged deviations are about the
    packaged claims."""
    raw = config.getoption("sa_expectations") or config.getini("expectations_file")
    if not raw:
        from .paths import CATALOGUE_DIR, EXPECTATIONS_FILE
        from .plugin import catalogue_path

        if catalogue_path(config).resolve() != CATALOGUE_DIR.resolve():
            return None
        return EXPECTATIONS_FILE
    p = Path(raw)
    if p.is_absolute():
        return p
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / p


_INFO_ONLY = ("collectonly", "help", "markers", "showfixtures", "show_fixtures_per_test", "version")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from .expectations import ExpectationsError, load_expectations

    cat = _catalogue(config)
    try:
        path = _expectations_path(config)
        config.stash[EXPECT_KEY] = [] if path is None else load_expectations(
            path, known_claims=[c.id for c in cat] if cat is not None else None
        )
    except ExpectationsError as exc:
        raise pytest.UsageError(str(exc)) from None
    if _is_worker(config) or config.getoption("sa_no_results") or any(
        getattr(config.option, o, False) for o in _INFO_ONLY
    ):
        return
    recorder = Recorder(config, cat, config.stash[EXPECT_KEY])
    config.stash[RECORDER_KEY] = recorder
    config.pluginmanager.register(recorder, "sa_conformance_results_recorder")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Known deviations become strict xfails (after the claim plugin has
    stored each item's claim ids)."""
    from .expectations import matching
    from .plugin import CLAIMS_KEY, SA_VERSION

    expectations = config.stash.get(EXPECT_KEY, [])
    if not expectations:
        return
    for item in items:
        backend, _ = collect.item_target(item)
        found = matching(
            expectations, item.stash.get(CLAIMS_KEY, ()), backend or "none", SA_VERSION, collect.scope_mode_of(item)
        )
        if found:
            item.stash[ITEM_EXPECT_KEY] = [e.to_json() for e in found]
            item.add_marker(pytest.mark.xfail(reason="; ".join(e.text for e in found), strict=True))


def _xfail_reason(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xfail")
    return (mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")) if mark else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report: pytest.TestReport = yield
    from .leakguard import LeakError
    from .plugin import CHECKED_KEY, CLAIMS_KEY, NOT_APPLICABLE_KEY

    claims = list(item.stash.get(CLAIMS_KEY, ()))
    redact = make_redactor(item.config)
    exc = call.excinfo.value if call.excinfo is not None else None
    if call.when == "setup":
        facts = collect.item_facts(item, claims, item.stash.get(NOT_APPLICABLE_KEY, None))
        if ITEM_EXPECT_KEY in item.stash:
            facts["expectations"] = item.stash[ITEM_EXPECT_KEY]
        collect.attach(report, "item", facts)
        new = describe_new_backends(item.config)
        if new:
            collect.attach(report, "backends", redact.deep(new))
    phase = collect.phase_facts(
        call.when, report, exc, checked=item.stash.get(CHECKED_KEY, ()) if call.when == "call" else (),
        xfail_reason=_xfail_reason(item), leak_type=LeakError,
    )
    if call.when in ("setup", "call") and report.failed:
        item.stash[CALL_FAILED_KEY] = True
    if call.when == "teardown":
        if isinstance(exc, LeakError) and item.stash.get(CALL_FAILED_KEY, False):
            # The test already failed (or errored at setup): the leak is data on
            # this report, not a second error (JUnit would show a second <testcase>).
            phase = dict(phase, outcome="passed", leak_after_failure=phase["exc"]["message"])
            report.outcome = "passed"
            report.longrepr = None
        _junit_properties(item, report, claims, leak=isinstance(exc, LeakError))
    collect.attach(report, "phase", redact.deep(phase))
    _redact_report(report, redact)
    return report


def _junit_properties(item: pytest.Item, report: pytest.TestReport, claims: list[str], leak: bool) -> None:
    """The teardown report's user_properties become the <testcase>'s <property> elements."""
    backend, driver = collect.item_target(item)
    for cid in claims:
        report.user_properties.append(("claim", cid))
    if backend is not None:
        report.user_properties.append(("backend", backend))
        if driver:
            report.user_properties.append(("driver", driver))
    report.user_properties.append(("scope_mode", collect.scope_mode_of(item)))
    report.user_properties.append(("kind", "property" if item.get_closest_marker("property") else "example"))
    if leak:
        report.user_properties.append(("leak", "true"))


def _redact_report(report: pytest.TestReport, redact) -> None:
    """Mask credentials in what the terminal and JUnit show for this report."""
    lr = report.longrepr
    if lr is not None:
        if isinstance(lr, tuple) and len(lr) == 3:
            report.longrepr = (lr[0], lr[1], redact(lr[2]))
        else:
            text = report.longreprtext
            clean = redact(text)
            if clean != text:
                report.longrepr = clean
    if report.sections:
        report.sections = [(title, redact(content)) for title, content in report.sections]


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):
        import json

        config.workeroutput["sa_conformance_backends"] = json.dumps(
            make_redactor(config).deep(describe_new_backends(config, all_of_them=True))
        )
