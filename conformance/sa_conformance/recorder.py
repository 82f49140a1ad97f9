"""Controller side of the results plugin: reports in, files out.

:class:`Recorder` (registered by :mod:`sa_conformance.results` on the
controlling process only) feeds every phase report to a
:class:`~sa_conformance.collect.Collector`, counts tests the way pytest's own
summary line does (``pytest_report_teststatus``), and writes the
:class:`~sa_conformance.model.Document` atomically at session start, every
couple of seconds, at the end and at unconfigure -- so an interrupted or
crashed run still leaves a valid file marked ``"complete": false``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from . import __version__ as SUITE_VERSION
from .collect import Collector
from .model import Document, Outcome, Record, Run, TestCounts
from .redact import URL_ENV, Redactor
from .resultsio import write_atomic, write_document

ENV_RESULTS_DIR = "SA_CONFORMANCE_RESULTS_DIR"
DEFAULT_DIR = "reports"
RESULTS_NAME = "results.json"
SUMMARY_NAME = "summary.md"
MATRIX_NAME = "matrix.html"
WRITE_INTERVAL = 2.0  # seconds between periodic (partial) writes, at least
PERIODIC_COST_FACTOR = 20.0  # ... and at least this many times the last write's cost
REDACTOR_KEY = pytest.StashKey[Redactor]()
DESCRIBED_KEY = pytest.StashKey[dict]()
#: pytest's summary categories -> the words its summary line prints
_CATEGORY = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped",
             "xfailed": "xfailed", "xpassed": "xpassed"}


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def make_redactor(config: pytest.Config) -> Redactor:
    cached = config.stash.get(REDACTOR_KEY, None)
    if cached is not None:
        return cached
    r = config.stash[REDACTOR_KEY] = Redactor()
    for opt in ("sa_mysql_url", "sa_postgresql_url"):
        try:
            r.add_url(config.getoption(opt))
        except ValueError:
            pass
    for name in URL_ENV:
        r.add_url(os.environ.get(name))
    args = list(config.invocation_params.args)
    for i, a in enumerate(args):
        if a.endswith("-url") and i + 1 < len(args):
            r.add_url(args[i + 1])
        elif "-url=" in a:
            r.add_url(a.split("=", 1)[1])
    return r


def describe_new_backends(config: pytest.Config, all_of_them: bool = False) -> dict[str, dict]:
    """``describe()`` of backends opened since the last call (or all)."""
    described = config.stash.setdefault(DESCRIBED_KEY, {})
    try:
        from sa_fixtures.pytest_plugin import opened_backends
    except Exception:  # the fixtures plugin is not installed
        return dict(described) if all_of_them else {}
    new: dict[str, dict] = {}
    for backend in opened_backends(config):
        if backend.name in described:
            continue
        try:
            info = backend.describe()
        except Exception as exc:  # metadata must never break a run
            info = {"backend": backend.name, "metadata_error": str(exc).splitlines()[0][:200]}
        described[backend.name] = new[backend.name] = info
    return dict(described) if all_of_them else new


def server_options(config: pytest.Config) -> dict[str, str]:
    """Backend -> the server option this run was given (``--mysql-url URL``),
    so a rerun command reaches the same server; the URL is redacted later."""
    try:
        from sa_fixtures.backends import SERVER_BACKENDS
    except ImportError:  # the fixtures plugin is not installed
        return {}
    out: dict[str, str] = {}
    for name, kind in SERVER_BACKENDS.items():
        url = config.getoption(f"sa_{kind}_url", None)
        if url:
            out[name] = f"--{kind}-url {shlex.quote(str(url))}"
    return out


def results_path(config: pytest.Config) -> Path:
    explicit = config.getoption("sa_results")
    if explicit:
        p = Path(explicit)
        return p if p.is_absolute() else Path(config.invocation_params.dir) / p
    env_dir = os.environ.get(ENV_RESULTS_DIR)
    if env_dir:
        return Path(env_dir) / RESULTS_NAME
    return config.rootpath / DEFAULT_DIR / RESULTS_NAME


def not_run_records(catalogue: Any, records: dict, selected: frozenset[str] | None = None) -> list[Record]:
    """One ``not-run`` record per catalogue claim no test judged; with a
    ``--claim`` selection, only for the selected claims (the others were not
    asked for, so they are not counted at all)."""
    seen = {key[0] for key in records}
    return [
        Record(claim=c.id, backend=None, driver=None, scope_mode="default", outcome=Outcome.NOT_RUN,
               reason="no test citing this claim was collected and run")
        for c in (catalogue or ()) if c.id not in seen and (selected is None or c.id in selected)
    ]


def embedded_claims(catalogue: Any, records: list[Record]) -> dict[str, dict]:
    claims = {c.id: c.to_json() for c in catalogue} if catalogue is not None else {}
    for rec in records:
        if rec.claim not in claims:  # cited id unknown to the catalogue
            claims[rec.claim] = {
                "id": rec.claim, "family": rec.claim.split(".", 1)[0], "claim": "(not in the catalogue)",
                "source": "", "section": "", "seeds": [], "since": None, "until": None, "note": None,
            }
    return claims


class Recorder:
    """Controller-side plugin object."""

    def __init__(self, config: pytest.Config, catalogue: Any, expectations: list) -> None:
        self.config = config
        self.catalogue = catalogue
        self.expectations = expectations
        self.path = results_path(config)
        self.redact = make_redactor(config)
        self.collector = Collector(self.redact)
        self.test_counts: dict[str, int] = {}
        self.test_ids: set[str] = set()
        self.started = now_iso()
        self.finished: str | None = None
        self.last_write = 0.0
        self.final: Document | None = None
        self.interrupted = False
        self.unwritten_failure = False
        try:
            self.interval = float(os.environ.get("SA_CONFORMANCE_RESULTS_INTERVAL", WRITE_INTERVAL))
        except ValueError:
            self.interval = WRITE_INTERVAL

    # -- the document
    def run_info(self) -> Run:
        import sqlalchemy
        from hypothesis import settings

        config = self.config
        current = settings()
        try:
            from sa_fixtures.pytest_plugin import SELECTED_KEY, SERVERS_KEY

            selected = list(config.stash.get(SELECTED_KEY, ()))
            servers = config.stash.get(SERVERS_KEY, {})
        except Exception:
            selected, servers = [], {}
        for name, info in describe_new_backends(config).items():
            self.collector.add_backend(name, info)
        backends = dict(self.collector.backends)
        for name in selected:
            if name not in backends and "unavailable" in servers.get(name, {}):
                backends[name] = {"backend": name, "unavailable": servers[name]["unavailable"]}
        prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "pytest"
        invocation = ["python", "-m", "pytest"] if prog == "__main__.py" else [prog]
        invocation += [str(a) for a in config.invocation_params.args]
        numprocesses = getattr(config.option, "numprocesses", None)
        seed = config.getoption("hypothesis_seed", None)
        return Run.from_dict(self.redact.deep({
            "sqlalchemy": sqlalchemy.__version__,
            "python": sys.version.split()[0],
            "python_implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "started": self.started,
            "finished": self.finished,
            "command": shlex.join(invocation),
            "cwd": str(config.invocation_params.dir),
            "catalogue": str(self.catalogue.path) if self.catalogue is not None else None,
            "invocation": os.environ.get("SA_CONFORMANCE_INVOCATION"),
            "expectations": [e.to_json() for e in self.expectations],
            "xdist_workers": numprocesses if isinstance(numprocesses, int) else 0,
            "hypothesis": {
                "profile": settings._current_profile,
                "seed": str(seed) if seed is not None else None,
                "derandomize": bool(current.derandomize),
                "max_examples": current.max_examples,
                "database": None if current.database is None else type(current.database).__name__,
            },
            "backends_selected": selected,
            "backends": backends,
            "server_options": server_options(config),
        }))

    def document(self, complete: bool, exit_status: int | None) -> Document:
        records = list(self.collector.records.values())
        from .plugin import SELECTION_KEY

        selected = self.config.stash.get(SELECTION_KEY, None)
        records += not_run_records(self.catalogue, self.collector.records, selected)
        return Document(
            suite_version=SUITE_VERSION, complete=complete, exit_status=exit_status, run=self.run_info(),
            claims=embedded_claims(self.catalogue, records), records=tuple(records),
            tests=TestCounts(self.test_counts, tests=len(self.test_ids)),
        )

    def write(self, complete: bool = False, exit_status: int | None = None) -> Document | None:
        began = time.monotonic()
        try:
            doc = self.document(complete, exit_status)
            write_document(self.path, doc)
        except Exception as exc:  # never let reporting break the run
            sys.stderr.write(f"sa-conformance: could not write results to {self.path}: {self.redact(str(exc))}\n")
            return None
        self.last_write = time.monotonic()
        # A write (build + validate + dump) grows with the records; keep the periodic
        # writes under ~5 % of the controller's time (on 2 cores it competes with the workers).
        # (An interval set in SA_CONFORMANCE_RESULTS_INTERVAL is kept as given.)
        if "SA_CONFORMANCE_RESULTS_INTERVAL" not in os.environ:
            self.interval = max(self.interval, PERIODIC_COST_FACTOR * (self.last_write - began))
        return doc

    # -- hooks
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.write(complete=False)

    @pytest.hookimpl(trylast=True)  # after pytest's terminal and JUnit: an interrupt in a write loses no count
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        if category in _CATEGORY:
            self.test_ids.add(report.nodeid)
            name = _CATEGORY[category]
            self.test_counts[name] = self.test_counts.get(name, 0) + 1
        self.unwritten_failure = self.unwritten_failure or report.failed
        if self.collector.add_report(report) and (
            self.unwritten_failure or time.monotonic() - self.last_write >= self.interval
        ):
            # a failure is written at once: a crash right after it never loses it
            if self.write(complete=False) is not None:
                self.unwritten_failure = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        import json

        raw = getattr(node, "workeroutput", {}).get("sa_conformance_backends")
        if raw:
            try:
                for name, info in json.loads(raw).items():
                    self.collector.add_backend(name, info)
            except ValueError:
                pass

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.collector.flush_pending()
        self.finished = now_iso()
        status = int(exitstatus)
        complete = (
            not self.interrupted
            and status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)
            and not session.shouldstop
            and not session.shouldfail
        )
        self.final = self.write(complete=complete, exit_status=status)
        if self.final is None:
            return
        from .report import html_matrix, markdown_summary

        try:
            summary = markdown_summary([self.final], self.redact)
            write_atomic(self.path.with_name(SUMMARY_NAME), summary)
            write_atomic(self.path.with_name(MATRIX_NAME), html_matrix([self.final], self.redact))
            gh = os.environ.get("GITHUB_STEP_SUMMARY")
            if gh:
                with open(gh, "a", encoding="utf-8") as fh:
                    fh.write(summary + "\n")
        except Exception as exc:
            sys.stderr.write(f"sa-conformance: could not write the summary/matrix: {self.redact(str(exc))}\n")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        doc = self.final
        if doc is None:
            return
        tr = terminalreporter
        for nodeid, leak in self.collector.leaks_after_failure:
            tr.write_line(f"{nodeid} also leaked: {leak.splitlines()[0]}", yellow=True)
        tr.write_sep("-", f"sa-conformance: {self.path} (+ {SUMMARY_NAME}, {MATRIX_NAME} beside it)")
        bad = any(r.outcome.bad for r in doc.records)
        tr.write_line(doc.claims_line(), red=bad, green=not bad, bold=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.final is None:
            self.collector.flush_pending()
            self.write(complete=False)
