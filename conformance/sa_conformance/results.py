"""The results file: one record per (claim, backend, scope mode).

Loaded as a pytest plugin with ``-p sa_conformance.results`` (pyproject
addopts).  It

* turns matching ``conformance/sa_conformance/expectations.toml`` entries into
  ``xfail(strict=True)`` markers;
* on every process (xdist worker or not) attaches what only the test process
  knows -- the claim ids, backend, scope mode, not-applicable reason, leak
  flag and backend metadata -- to the test reports' ``user_properties`` (the
  teardown report's ones land in JUnit XML as ``<property>`` elements);
* on the controlling process aggregates the reports into records and writes
  ``results.json`` atomically: at session start, every couple of seconds,
  at the end and at unconfigure, so an interrupted or crashed run still
  leaves a valid file (``"complete": false``);
* writes ``summary.md`` beside it (and appends it to ``$GITHUB_STEP_SUMMARY``).

Also the library side: :func:`load_results` (validated against
``results.schema.json``; one-line :class:`ResultsError` on bad input).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Iterable

import pytest

from . import __version__ as SUITE_VERSION
from .redact import URL_ENV, Redactor

SUITE_NAME = "sa-session-conformance"
FORMAT = "sa-conformance-results"
FORMAT_VERSION = 1
from .paths import SCHEMA_FILE as SCHEMA_PATH
ENV_RESULTS_DIR = "SA_CONFORMANCE_RESULTS_DIR"
DEFAULT_DIR = "reports"
RESULTS_NAME = "results.json"
SUMMARY_NAME = "summary.md"
MATRIX_NAME = "matrix.html"
WRITE_INTERVAL = 2.0  # seconds between periodic (partial) writes

#: outcomes, worst first: the aggregate of several items is the worst one
PRIORITY = ("fail", "error", "unexpected-pass", "expected-fail", "pass", "skip", "not-applicable")
OUTCOMES = PRIORITY + ("not-run",)
BAD = ("fail", "error", "unexpected-pass")
NOT_RUN_BACKEND = "*"
PROP = "sa_conformance"
MESSAGE_LINES = 12
MESSAGE_CHARS = 2000


class ResultsError(Exception):
    """A results file is missing, unreadable or invalid (one-line message)."""


def rank(outcome: str) -> int:
    """Lower is worse."""
    try:
        return PRIORITY.index(outcome)
    except ValueError:
        return len(PRIORITY)


def worst(outcomes: Iterable[str]) -> str | None:
    outs = list(outcomes)
    return min(outs, key=rank) if outs else None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- reading -------------------------------------------------------------------
_schema_cache: dict | None = None


def schema() -> dict:
    global _schema_cache
    if _schema_cache is None:
        _schema_cache = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _schema_cache


def validate(data: Any, where: str = "results") -> None:
    """Raise ResultsError (one line) unless ``data`` matches the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        msg = error.message if len(error.message) < 160 else error.message[:157] + "..."
        raise ResultsError(f"{where}: not a valid results file: at {path}: {msg}")


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate a results file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{p}: no such results file") from None
    except IsADirectoryError:
        raise ResultsError(f"{p}: is a directory, not a results file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{p}: cannot read: {exc.__class__.__name__}") from None
    if not text.strip():
        raise ResultsError(f"{p}: empty file, not a results file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}: not JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ResultsError(f"{p}: not an sa-conformance results file (no \"format\": \"{FORMAT}\")")
    if data.get("format_version") != FORMAT_VERSION:
        raise ResultsError(
            f"{p}: results format version {data.get('format_version')!r} is not supported (expected {FORMAT_VERSION})"
        )
    validate(data, str(p))
    return data


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory + os.replace, so a reader
    (or a crash) never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- turning reports into outcomes ---------------------------------------------
_E_LINE = re.compile(r"^E {1,3}(.*)$")
_SCRIPT_MARK = re.compile(r"^-{2,}\s*(standalone )?reproduc\w*( script)?\s*-{2,}\s*$", re.I)


def _longrepr_text(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if lr is None:
        return ""
    if isinstance(lr, (tuple, list)) and len(lr) == 3:
        return str(lr[2])
    try:
        return report.longreprtext
    except Exception:
        return str(lr)


def skip_reason(report: pytest.TestReport) -> str:
    lr = report.longrepr
    text = str(lr[2]) if isinstance(lr, (tuple, list)) and len(lr) == 3 else _longrepr_text(report)
    return re.sub(r"^Skipped: ", "", text.strip())


def failure_message(report: pytest.TestReport) -> str:
    """The first lines of the failure: the ``E``-lines of the traceback (the
    exception and its notes), else the crash line, else the text's tail."""
    text = _longrepr_text(report)
    e_lines = [m.group(1).rstrip() for line in text.splitlines() if (m := _E_LINE.match(line))]
    if e_lines:
        for n, line in enumerate(e_lines):  # the reproduction is reported separately
            if _SCRIPT_MARK.match(line.strip()):
                e_lines = e_lines[:n]
                break
        lines = e_lines[:1] + textwrap.dedent("\n".join(e_lines[1:])).splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
    else:
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", None)
        lines = crash.splitlines() if crash else [l for l in text.strip().splitlines() if l.strip()][-MESSAGE_LINES:]
    msg = "\n".join(lines[:MESSAGE_LINES]).strip()
    if len(lines) > MESSAGE_LINES:
        msg += "\n…"
    return msg[:MESSAGE_CHARS]


_REPRO_START = re.compile(r"^(Falsifying (explicit )?example|Failing test case|Trying example)")
REPRO_CHARS = 16000


def reproduction(text: str) -> str | None:
    """Reproduction instructions in failure output, if any:

    * a ``--- standalone reproduction script ---`` section (the state
      machine's generated script: everything after the marker in the same
      assertion message);
    * hypothesis's "Falsifying example" block (incl. stateful steps) and its
      ``@reproduce_failure(...)`` decorator line;
    * a line starting with "Reproduce:"/"To reproduce".
    """
    raw = text.splitlines()
    tagged = [(bool(_E_LINE.match(l)), (_E_LINE.match(l).group(1) if _E_LINE.match(l) else l).rstrip()) for l in raw]
    out: list[str] = []
    i = 0
    while i < len(tagged):
        is_e, line = tagged[i]
        stripped = line.strip()
        if _SCRIPT_MARK.match(stripped):
            block = []
            i += 1
            while i < len(tagged) and (tagged[i][0] == is_e or not tagged[i][1].strip()):
                if not is_e and tagged[i][1].startswith(("Traceback", "_____")):
                    break
                block.append(tagged[i][1])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            script = textwrap.dedent("\n".join(block))
            if script and script not in "\n".join(out):
                out.append(script)
            continue
        if _REPRO_START.match(stripped):
            block = [stripped]
            i += 1
            while i < len(tagged) and tagged[i][1].strip() and not _REPRO_START.match(tagged[i][1].strip()):
                if tagged[i][1].lstrip().startswith(("Traceback", "You can reproduce", "@reproduce_failure")):
                    break
                block.append(tagged[i][1])
                i += 1
            text_block = "\n".join(block)
            if text_block not in "\n".join(out):
                out.append(text_block)
            continue
        if "reproduce_failure(" in stripped or stripped.lower().startswith(("reproduce:", "to reproduce")):
            if stripped not in "\n".join(out):
                out.append(stripped)
        i += 1
    return "\n".join(out)[:REPRO_CHARS] if out else None


class ItemState:
    """The phases of one test item seen so far (controller side)."""

    __slots__ = ("nodeid", "meta", "phases", "leak")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.meta: dict = {}
        self.phases: dict[str, pytest.TestReport] = {}
        self.leak = False

    def outcome(self, redact: Redactor) -> dict:
        """{outcome, reason?, message?, repro?, duration}."""
        setup, call, teardown = (self.phases.get(w) for w in ("setup", "call", "teardown"))
        na = self.meta.get("not_applicable")
        results: list[dict] = []
        if setup is not None:
            if setup.skipped and getattr(setup, "wasxfail", None) is None:
                if na:
                    results.append({"outcome": "not-applicable", "reason": na})
                else:
                    results.append({"outcome": "skip", "reason": skip_reason(setup)})
            elif setup.skipped:
                results.append({"outcome": "expected-fail", "reason": setup.wasxfail, "_rep": setup})
            elif setup.failed:
                results.append({"outcome": "error", "_rep": setup, "message": "setup: "})
        if call is not None:
            wasxfail = getattr(call, "wasxfail", None)
            if call.passed:
                results.append({"outcome": "unexpected-pass" if wasxfail is not None else "pass", "reason": wasxfail})
            elif call.failed:
                text = _longrepr_text(call)
                if text.startswith("[XPASS(strict)]"):
                    results.append(
                        {"outcome": "unexpected-pass", "reason": text[len("[XPASS(strict)] "):],
                         "message": "passed, but expectations.toml lists it as a known deviation: " + text}
                    )
                else:
                    results.append({"outcome": "fail", "_rep": call})
            elif call.skipped:
                if wasxfail is not None:
                    results.append({"outcome": "expected-fail", "reason": wasxfail, "_rep": call})
                else:
                    results.append({"outcome": "skip", "reason": skip_reason(call)})
        if teardown is not None and teardown.failed:
            if self.leak:
                results.append({"outcome": "fail", "_rep": teardown, "leak": True})
            else:
                results.append({"outcome": "error", "_rep": teardown, "message": "teardown: "})
        if not results:
            results.append({"outcome": "error", "message": "no test report received (worker crashed?)"})
        chosen = min(results, key=lambda r: rank(r["outcome"]))
        out: dict[str, Any] = {"outcome": chosen["outcome"]}
        if chosen.get("reason"):
            out["reason"] = redact(chosen["reason"])
        rep = chosen.get("_rep")
        if rep is not None:
            msg = failure_message(rep)
            if chosen.get("leak"):
                idx = msg.find("leak:")
                msg = msg[idx:] if idx >= 0 else "leak: " + msg
            msg = chosen.get("message", "") + msg
            out["message"] = redact(msg)
            repro = reproduction(_longrepr_text(rep))
            if repro:
                out["repro"] = redact(repro)
        elif chosen.get("message"):
            out["message"] = redact(chosen["message"])
        out["duration"] = round(sum(r.duration for r in self.phases.values()), 4)
        return out


class Aggregator:
    """Controller-side: test reports in, claim records out."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.items: dict[str, ItemState] = {}
        self.records: dict[tuple[str, str, str], dict] = {}
        self.test_outcomes: dict[str, int] = {}
        self.backends: dict[str, dict] = {}
        self.done = 0

    def add_report(self, report: pytest.TestReport) -> bool:
        """Feed one phase report; True when it completed an item."""
        state = self.items.get(report.nodeid)
        if state is None:
            state = self.items[report.nodeid] = ItemState(report.nodeid)
        for name, value in report.user_properties:
            if name == PROP:
                try:
                    data = json.loads(value)
                except (TypeError, ValueError):
                    continue
                state.meta.update(data.get("item", {}))
                for bname, info in data.get("backends", {}).items():
                    self.add_backend(bname, info)
            elif name == "leak" and value == "true":
                state.leak = True
        state.phases[report.when] = report
        if report.when == "teardown":
            self.finish(state)
            return True
        return False

    def add_backend(self, name: str, info: dict) -> None:
        if name not in self.backends:
            self.backends[name] = self.redact.deep(info)

    def finish(self, state: ItemState) -> None:
        self.items.pop(state.nodeid, None)
        result = state.outcome(self.redact)
        self.test_outcomes[result["outcome"]] = self.test_outcomes.get(result["outcome"], 0) + 1
        self.done += 1
        meta = state.meta
        for claim in meta.get("claims", ()):
            key = (claim, meta.get("backend") or "none", meta.get("scope_mode") or "default")
            rec = self.records.get(key)
            if rec is None:
                rec = self.records[key] = {
                    "claim": key[0], "backend": key[1], "scope_mode": key[2], "outcome": result["outcome"],
                    "duration": 0.0, "tests": [], "counts": {},
                }
            rec["duration"] = round(rec["duration"] + result["duration"], 4)
            rec["tests"].append(state.nodeid)
            rec["counts"][result["outcome"]] = rec["counts"].get(result["outcome"], 0) + 1
            if rank(result["outcome"]) < rank(rec["outcome"]) or "detail_from" not in rec:
                rec["outcome"] = result["outcome"]
                rec["detail_from"] = state.nodeid
                for k in ("reason", "message", "repro"):
                    if k in result:
                        rec[k] = result[k]
                    else:
                        rec.pop(k, None)

    def flush_pending(self) -> None:
        """Finish items whose teardown never arrived (interrupt, crash)."""
        for state in list(self.items.values()):
            if state.phases:
                self.finish(state)
        self.items.clear()


# -- the document ----------------------------------------------------------------
def build_document(
    *,
    run: dict,
    catalogue: Any,
    records: dict[tuple[str, str, str], dict],
    test_outcomes: dict[str, int],
    complete: bool,
    exit_status: int | None,
) -> dict:
    claims = {c.id: c.to_json() for c in catalogue} if catalogue is not None else {}
    results = [dict(r) for _, r in sorted(records.items())]
    seen = {r["claim"] for r in results}
    for cid in claims:
        if cid not in seen:
            results.append({
                "claim": cid, "backend": NOT_RUN_BACKEND, "scope_mode": "default", "outcome": "not-run",
                "duration": 0.0, "tests": [], "counts": {},
                "reason": "no test citing this claim was collected and run",
            })
    for rec in results:
        if rec["claim"] not in claims:  # cited id unknown to the catalogue
            claims[rec["claim"]] = {
                "id": rec["claim"], "family": rec["claim"].split(".", 1)[0], "claim": "(not in the catalogue)",
                "source": "", "section": "", "seeds": [], "since": None, "until": None, "note": None,
            }
    totals: dict[str, dict[str, int]] = {}
    for rec in results:
        t = totals.setdefault(rec["backend"], {})
        t[rec["outcome"]] = t.get(rec["outcome"], 0) + 1
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suite": {"name": SUITE_NAME, "version": SUITE_VERSION},
        "complete": complete,
        "exit_status": exit_status,
        "run": run,
        "claims": claims,
        "results": results,
        "totals": totals,
        "tests": {"total": sum(test_outcomes.values()), "outcomes": dict(test_outcomes)},
    }


# -- the pytest plugin ----------------------------------------------------------
RESULTS_KEY = pytest.StashKey["ResultsRecorder"]()
DESCRIBED_KEY = pytest.StashKey[dict]()
EXPECT_KEY = pytest.StashKey[list]()
ITEM_EXPECT_KEY = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "expectations_file", "known deviations (TOML), relative to the ini file (default: the packaged one)", default=""
    )
    group = parser.getgroup("sa-results", "SQLAlchemy conformance: results")
    group.addoption(
        "--results", dest="sa_results", default=None, metavar="PATH",
        help=f"write the results file here (default: ${ENV_RESULTS_DIR}/{RESULTS_NAME}, else "
        f"{DEFAULT_DIR}/{RESULTS_NAME}); summary.md is written beside it",
    )
    group.addoption("--no-results", dest="sa_no_results", action="store_true", help="write no results file")
    group.addoption(
        "--expectations", dest="sa_expectations", default=None, metavar="PATH",
        help="known-deviations file (default: the packaged sa_conformance/sa_conformance/expectations.toml)",
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def results_path(config: pytest.Config) -> Path:
    explicit = config.getoption("sa_results")
    if explicit:
        p = Path(explicit)
        return p if p.is_absolute() else Path(config.invocation_params.dir) / p
    env_dir = os.environ.get(ENV_RESULTS_DIR)
    if env_dir:
        return Path(env_dir) / RESULTS_NAME
    return config.rootpath / DEFAULT_DIR / RESULTS_NAME


REDACTOR_KEY = pytest.StashKey[Redactor]()


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


def _catalogue(config: pytest.Config):
    from .plugin import CATALOGUE_KEY

    return config.stash.get(CATALOGUE_KEY, None)


def _expectations_path(config: pytest.Config) -> Path:
    raw = config.getoption("sa_expectations") or config.getini("expectations_file")
    if not raw:
        from .paths import EXPECTATIONS_FILE

        return EXPECTATIONS_FILE
    p = Path(raw)
    if p.is_absolute():
        return p
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / p


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from .expectations import ExpectationsError, load_expectations

    cat = _catalogue(config)
    try:
        config.stash[EXPECT_KEY] = load_expectations(
            _expectations_path(config), known_claims=[c.id for c in cat] if cat is not None else None
        )
    except ExpectationsError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[DESCRIBED_KEY] = {}
    if _is_worker(config) or config.option.collectonly or config.option.help or config.getoption("sa_no_results"):
        return
    recorder = ResultsRecorder(config)
    config.stash[RESULTS_KEY] = recorder
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
        backend, scope_mode = _item_params(item)
        found = matching(expectations, item.stash.get(CLAIMS_KEY, ()), backend, SA_VERSION, scope_mode)
        if found:
            item.stash[ITEM_EXPECT_KEY] = [e.to_json() for e in found]
            item.add_marker(pytest.mark.xfail(reason="; ".join(e.text for e in found), strict=True))


def _item_params(item: pytest.Item) -> tuple[str, str]:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    backend = params.get("backend")
    return (str(backend) if backend is not None else "none", str(params.get("scope_mode", "default")))


def _describe_new_backends(config: pytest.Config) -> dict[str, dict]:
    described = config.stash.get(DESCRIBED_KEY, None)
    if described is None:
        return {}
    try:
        from sa_fixtures.pytest_plugin import opened_backends
    except Exception:  # the fixtures plugin is not installed
        return {}
    new: dict[str, dict] = {}
    for backend in opened_backends(config):
        if backend.name in described:
            continue
        try:
            info = backend.describe()
        except Exception as exc:  # metadata must never break a run
            info = {"backend": backend.name, "metadata_error": str(exc).splitlines()[0][:200]}
        described[backend.name] = new[backend.name] = info
    return new


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report: pytest.TestReport = yield
    from .leakguard import LeakError
    from .plugin import CLAIMS_KEY, NOT_APPLICABLE_KEY

    backend, scope_mode = _item_params(item)
    claims = list(item.stash.get(CLAIMS_KEY, ()))
    redact = make_redactor(item.config)
    if call.when == "setup":
        payload: dict[str, Any] = {
            "item": {
                "claims": claims,
                "backend": backend,
                "scope_mode": scope_mode,
                "not_applicable": item.stash.get(NOT_APPLICABLE_KEY, None),
            }
        }
        if ITEM_EXPECT_KEY in item.stash:
            payload["item"]["expectations"] = item.stash[ITEM_EXPECT_KEY]
        new = _describe_new_backends(item.config)
        if new:
            payload["backends"] = redact.deep(new)
        report.user_properties.append((PROP, json.dumps(payload)))
    elif call.when == "teardown":
        # These land in JUnit XML as <property> elements.
        for cid in claims:
            report.user_properties.append(("claim", cid))
        report.user_properties.append(("backend", backend))
        report.user_properties.append(("scope_mode", scope_mode))
        if call.excinfo is not None and call.excinfo.errisinstance(LeakError):
            report.user_properties.append(("leak", "true"))
    _redact_report(report, redact)
    return report


def _redact_report(report: pytest.TestReport, redact: Redactor) -> None:
    """Mask credentials in what the terminal and JUnit show for this report."""
    if report.longrepr is not None:
        text = _longrepr_text(report)
        clean = redact(text)
        if clean != text:
            if isinstance(report.longrepr, (tuple, list)) and len(report.longrepr) == 3:
                report.longrepr = (report.longrepr[0], report.longrepr[1], redact(report.longrepr[2]))
            else:
                report.longrepr = clean
    if report.sections:
        report.sections = [(title, redact(content)) for title, content in report.sections]


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):
        _describe_new_backends(config)
        config.workeroutput["sa_conformance_backends"] = json.dumps(
            make_redactor(config).deep(config.stash.get(DESCRIBED_KEY, {}))
        )


class ResultsRecorder:
    """Controller-side plugin object (registered by pytest_configure)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.path = results_path(config)
        self.redact = make_redactor(config)
        self.agg = Aggregator(self.redact)
        self.started = now_iso()
        self.finished: str | None = None
        self.last_write = 0.0
        self.final_written = False
        self.interrupted = False
        try:
            self.interval = float(os.environ.get("SA_CONFORMANCE_RESULTS_INTERVAL", WRITE_INTERVAL))
        except ValueError:
            self.interval = WRITE_INTERVAL

    # metadata
    def run_meta(self) -> dict:
        import sqlalchemy
        from hypothesis import settings

        config = self.config
        cat = _catalogue(config)
        profile = settings._current_profile
        current = settings()
        try:
            from sa_fixtures.pytest_plugin import SELECTED_KEY, SERVERS_KEY

            selected = list(config.stash.get(SELECTED_KEY, ()))
            servers = config.stash.get(SERVERS_KEY, {})
        except Exception:
            selected, servers = [], {}
        backends = dict(self.agg.backends)
        if not _is_worker(config):
            for name, info in _describe_new_backends(config).items():
                self.agg.add_backend(name, info)
            backends = dict(self.agg.backends)
        for name in selected:
            if name not in backends and name in servers and "unavailable" in servers[name]:
                backends[name] = {"backend": name, "unavailable": servers[name]["unavailable"]}
        prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "pytest"
        invocation = ["python", "-m", "pytest"] if prog == "__main__.py" else [prog]
        invocation += [str(a) for a in config.invocation_params.args]
        numprocesses = getattr(config.option, "numprocesses", None)
        return self.redact.deep({
            "sqlalchemy": sqlalchemy.__version__,
            "python": sys.version.split()[0],
            "python_implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "started": self.started,
            "finished": self.finished,
            "command": shlex.join(invocation),
            "cwd": str(config.invocation_params.dir),
            "catalogue": str(cat.path) if cat is not None else None,
            "expectations": [e.to_json() for e in config.stash.get(EXPECT_KEY, [])],
            "xdist_workers": numprocesses if isinstance(numprocesses, int) else 0,
            "hypothesis": {
                "profile": profile,
                "seed": str(config.getoption("hypothesis_seed", None))
                if config.getoption("hypothesis_seed", None) is not None else None,
                "derandomize": bool(current.derandomize),
                "max_examples": current.max_examples,
                "database": None if current.database is None else type(current.database).__name__,
            },
            "backends_selected": selected,
            "backends": backends,
        })

    def document(self, complete: bool, exit_status: int | None) -> dict:
        return build_document(
            run=self.run_meta(),
            catalogue=_catalogue(self.config),
            records=self.agg.records,
            test_outcomes=self.agg.test_outcomes,
            complete=complete,
            exit_status=exit_status,
        )

    def write(self, complete: bool = False, exit_status: int | None = None) -> dict | None:
        try:
            doc = self.document(complete, exit_status)
            write_atomic(self.path, json.dumps(doc, indent=1, sort_keys=False) + "\n")
        except Exception as exc:  # never let reporting break the run
            sys.stderr.write(f"sa-conformance: could not write results to {self.path}: {self.redact(str(exc))}\n")
            return None
        self.last_write = time.monotonic()
        return doc

    # hooks
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.write(complete=False)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.agg.add_report(report) and time.monotonic() - self.last_write >= self.interval:
            self.write(complete=False)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        raw = getattr(node, "workeroutput", {}).get("sa_conformance_backends")
        if raw:
            try:
                for name, info in json.loads(raw).items():
                    self.agg.add_backend(name, info)
            except ValueError:
                pass

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.agg.flush_pending()
        self.finished = now_iso()
        status = int(exitstatus)
        complete = (
            not self.interrupted
            and status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)
            and not session.shouldstop
            and not session.shouldfail
        )
        doc = self.write(complete=complete, exit_status=status)
        self.final_written = doc is not None
        if doc is None:
            return
        from .report import html_matrix, markdown_summary

        try:
            summary = markdown_summary([doc], self.redact)
            write_atomic(self.path.with_name(SUMMARY_NAME), summary)
            write_atomic(self.path.with_name(MATRIX_NAME), html_matrix([doc], self.redact))
            gh = os.environ.get("GITHUB_STEP_SUMMARY")
            if gh:
                with open(gh, "a", encoding="utf-8") as fh:
                    fh.write(summary + "\n")
        except Exception as exc:
            sys.stderr.write(f"sa-conformance: could not write the summary/matrix: {self.redact(str(exc))}\n")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.final_written:
            terminalreporter.write_sep(
                "-", f"sa-conformance: {self.path} (+ {SUMMARY_NAME}, {MATRIX_NAME} beside it)"
            )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if not self.final_written:
            self.agg.flush_pending()
            self.write(complete=False)
