"""``sa-conformance run``: the packaged claims against the SQLAlchemy installed
in this environment, from any directory.

Runs ``python -m pytest -c <suite>/sa-conformance.ini --rootdir <suite> <suite>``
in a subprocess: the user's own pytest configuration, conftest files,
``PYTEST_ADDOPTS`` and auto-loaded pytest plugins are never read; only the
plugins the suite needs are loaded, by name.  results.json, junit.xml,
summary.md and matrix.html go to ``--results DIR``; the exit status is
:func:`sa_conformance.verdict.decide` over results.json and pytest's status.
Bad input is answered before pytest starts (one line, exit 2), and so is a
given server URL that cannot be used (unreachable, login refused: one line,
exit 3, the password masked).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .paths import CATALOGUE_DIR, SUITE_DIR, SUITE_INI

DEFAULT_RESULTS_DIR = "sa-conformance-reports"
RESULTS_NAME, JUNIT_NAME, SUMMARY_NAME, MATRIX_NAME = "results.json", "junit.xml", "summary.md", "matrix.html"
ENV_MYSQL_URL = "SA_CONFORMANCE_MYSQL_URL"
#: pytest plugins the suite needs, loaded by module name (auto-loading is off)
PLUGINS = ("xdist.plugin", "xdist.looponfail", "pytest_timeout", "_hypothesis_pytestplugin")
#: fixtures-plugin options ``run`` defines itself (the rest are passed through)
OWN_BACKEND_OPTIONS = ("--backend", "--require-backend", "--mysql-url")
#: environment variables of the user's own pytest setup, dropped for the inner run
USER_PYTEST_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")

EXIT_CODES_HELP = """exit status:
  0  every applicable claim conforms (skipped / not-applicable claims are fine)
  1  some claim does not conform: a failed check, an unexpected pass, or a test that errored
     (raised outside its checks, timed out, leaked); claims whose tests only errored are named apart
  2  usage or bad input (unknown claim, family or backend, malformed URL, --results is a file)
  3  the run could not judge: a backend could not be provisioned (required, or its URL unreachable),
     the run was interrupted, or every test on a backend errored (a broken host, not a conformance
     failure)"""


class RunUsageError(Exception):
    """Bad input to ``run``: one line, exit 2."""


def backend_passthrough_options() -> list[tuple[tuple[str, ...], dict]]:
    """The fixtures plugin's command-line options other than those ``run``
    defines itself (e.g. --no-docker, --no-local-server, --postgresql-url)."""
    from sa_fixtures.options import OPTIONS

    return [(o.names, o.kwargs()) for o in OPTIONS if not set(o.names) & set(OWN_BACKEND_OPTIONS)]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from sa_fixtures.backends import BACKENDS, DEFAULT_BACKENDS

    r = sub.add_parser(
        "run", help="run the packaged claims against the installed SQLAlchemy",
        description="Run the conformance suite shipped in this package against the SQLAlchemy installed in the "
        "current environment, from any directory (your own pytest configuration is never read). "
        "Arguments after -- go to pytest.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--backend", metavar="NAMES", default=None,
                   help=f"comma-separated backends, or 'all' (default: {','.join(DEFAULT_BACKENDS)}); "
                   f"known: {', '.join(BACKENDS)}")
    r.add_argument("--mysql-url", metavar="URL", default=None,
                   help=f"MySQL-family server to use (env {ENV_MYSQL_URL}); otherwise a container or a throwaway "
                   "local server is started. The user needs CREATE/DROP DATABASE")
    r.add_argument("--require-backend", metavar="NAMES", default=None,
                   help="comma-separated backends that must be provisioned, or 'all' (else exit 3)")
    r.add_argument("--claim", action="append", default=[], metavar="ID",
                   help="only the tests citing this claim id; a family name selects the family (repeatable)")
    r.add_argument("-n", dest="numprocesses", metavar="N", default=None,
                   help="pytest-xdist worker processes (a number, or 'auto'); default: one process")
    r.add_argument("--hypothesis-profile", metavar="NAME", default=None,
                   help="hypothesis profile: ci (derandomized), dev or thorough")
    r.add_argument("--results", metavar="DIR", default=DEFAULT_RESULTS_DIR,
                   help=f"directory for {RESULTS_NAME}, {JUNIT_NAME}, {SUMMARY_NAME}, {MATRIX_NAME} "
                   f"(default: ./{DEFAULT_RESULTS_DIR}/); earlier files of these names are replaced")
    try:
        passthrough = backend_passthrough_options()
    except Exception as exc:  # never break the other verbs; `run` reports the broken plugin itself
        passthrough = []
        r.epilog = f"{EXIT_CODES_HELP}\n\n(backend options unavailable: {exc.__class__.__name__}: {exc})"
    for names, kw in passthrough:
        dest = "fx_" + kw.get("dest", names[0].lstrip("-").replace("-", "_"))
        extra = {k: kw[k] for k in ("metavar", "choices", "type") if k in kw}
        r.add_argument(*names, dest=dest, action=kw.get("action", "store"), default=None,
                       help=str(kw.get("help", "")).replace("%", "%%"), **extra)
    r.set_defaults(func=cmd_run, takes_pytest_args=True)
    return r


# -- validation ------------------------------------------------------------------
def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _check_backends(value: str | None, what: str) -> list[str]:
    """The backend names (``mysql`` for ``mysql+aiomysql``) of a --backend /
    --require-backend value; RunUsageError naming close matches otherwise."""
    import difflib

    from sa_fixtures import backends

    names = _split(value)
    if names == ["all"]:
        return list(backends.BACKENDS)
    out = []
    for n in names:
        base = n.partition("+")[0]
        if base not in backends.BACKENDS:
            close = difflib.get_close_matches(base, list(backends.BACKENDS), n=1)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise RunUsageError(
                f"unknown backend {base!r} (from {what}); {hint}choose from: {', '.join(backends.BACKENDS)}"
            )
        parse_target = getattr(backends, "parse_target", None)  # backend+driver targets
        if parse_target is not None and "+" in n:
            try:
                parse_target(n)
            except ValueError as exc:
                raise RunUsageError(f"{exc} (from {what})") from None
        out.append(base)
    return out


def _check_numprocesses(value: str | None) -> None:
    if value is None or value in ("auto", "logical"):
        return
    if not value.isdigit():
        raise RunUsageError(f"-n takes a number of worker processes or 'auto', not {value!r}")


def _check_profile(value: str | None) -> None:
    if value is None:
        return
    from .profiles import PROFILES

    if value not in PROFILES:
        raise RunUsageError(f"unknown hypothesis profile {value!r}; choose from: {', '.join(PROFILES)}")


def _check_claims(names: list[str]) -> None:
    if not names:
        return
    from .catalogue import load_catalogue
    from .selection import SelectionError, resolve

    try:
        resolve(load_catalogue(CATALOGUE_DIR), names)
    except SelectionError as exc:
        raise RunUsageError(str(exc)) from None


def _check_mysql_url(url: str | None) -> None:
    if not url or not url.strip():
        return
    from sa_fixtures.provision import ProvisionError
    from sa_fixtures.provision._db import check_explicit_url

    try:
        check_explicit_url("mysql", url.strip())
    except ProvisionError as exc:
        raise RunUsageError(str(exc)) from None


#: seconds the up-front connection to a given server URL may take (the fixtures plugin's own default)
URL_CONNECT_TIMEOUT = 3.0


class CannotJudge(Exception):
    """The run cannot judge (exit 3), found before pytest starts: one line."""


def check_servers_reachable(urls: dict[str, str]) -> None:
    """Connect once to each given server URL ({dialect: url}) before the run:
    an unreachable server or a refused login is one line and exit 3 here, not
    pytest's ``Exit`` output.  Credentials never appear (the message is the
    fixtures plugin's, with the password masked and scrubbed)."""
    from sa_fixtures.provision import ProvisionError
    from sa_fixtures.provision._db import check_explicit_url, probe_explicit

    for dialect, text in urls.items():
        try:
            probe_explicit(dialect, check_explicit_url(dialect, text), URL_CONNECT_TIMEOUT)
        except ProvisionError as exc:
            raise CannotJudge(str(exc)) from None


def given_urls(args: argparse.Namespace, selected: list[str] | None, mysql_url: str | None) -> dict[str, str]:
    """The server URLs the run will use as given ({dialect: url}), for the selected backends."""
    urls = {}
    if mysql_url and mysql_url.strip() and (selected is None or "mysql" in selected):
        urls["mysql"] = mysql_url.strip()
    pg_url = getattr(args, "fx_postgresql_url", None) or os.environ.get("SA_CONFORMANCE_POSTGRESQL_URL")
    if pg_url and pg_url.strip() and selected is not None and "postgresql" in selected:
        urls["postgresql"] = pg_url.strip()
    return urls


def results_path(value: str) -> Path:
    """The results directory's absolute path; RunUsageError when it is a file."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if path.exists() and not path.is_dir():
        raise RunUsageError(f"--results {value}: is a file, not a directory")
    return path


def results_dir(value: str) -> Path:
    """The results directory, created; stale result files of ours removed so
    that whatever is there after the run is this run's."""
    path = results_path(value)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name in (RESULTS_NAME, JUNIT_NAME, SUMMARY_NAME, MATRIX_NAME):
            (path / name).unlink(missing_ok=True)
    except OSError as exc:
        raise RunUsageError(f"--results {value}: {exc.strerror or exc}") from None
    return path


# -- the run --------------------------------------------------------------------
def pytest_command(args: argparse.Namespace, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-c", str(SUITE_INI), "--rootdir", str(SUITE_DIR)]
    for plugin in PLUGINS:
        cmd += ["-p", plugin]
    cmd += ["--results", str(out / RESULTS_NAME), f"--junitxml={out / JUNIT_NAME}"]
    if args.backend:
        cmd += ["--backend", args.backend]
    if args.require_backend:
        cmd += ["--require-backend", args.require_backend]
    for cid in args.claim:
        cmd += ["--claim", cid]
    if args.numprocesses is not None:
        cmd += ["-n", str(args.numprocesses)]
        if str(args.numprocesses) != "0":
            # the property tests run many times longer than the rest: stealing keeps both workers busy to the end
            cmd += ["--dist", "worksteal"]
    if args.hypothesis_profile:
        cmd += [f"--hypothesis-profile={args.hypothesis_profile}"]
    for names, kw in backend_passthrough_options():
        value = getattr(args, "fx_" + kw.get("dest", names[0].lstrip("-").replace("-", "_")), None)
        if value is None or value is False or value == []:
            continue
        if value is True:
            cmd.append(names[0])
        else:
            for item in value if isinstance(value, list) else [value]:  # action="append": one option per value
                cmd += [names[0], str(item)]
    # Tests of the harness itself (reproduction-script generators) are this project's, not the user's run.
    cmd += ["-m", "not selfcheck"]
    cmd += list(getattr(args, "pytest_args", []) or [])  # last: a user's -m / -k / --dist wins
    cmd.append(str(SUITE_DIR))
    return cmd


#: terminal width for pytest when its output is not a terminal (a CI log, a pipe): wide enough that a
#: failing test's short-summary line keeps its message, which starts with the claim ids
LOG_COLUMNS = "250"


def pytest_env(args: argparse.Namespace, out: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in USER_PYTEST_ENV}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONSAFEPATH"] = "1"  # the working directory never shadows an installed module (3.11+)
    if args.mysql_url:  # via the environment: never on a command line (ps, results' "command")
        env[ENV_MYSQL_URL] = args.mysql_url.strip()
    if out is not None and "HYPOTHESIS_STORAGE_DIRECTORY" not in env:
        # hypothesis' example database beside the results, not a .hypothesis/ in the user's directory
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(out / ".hypothesis")
    if "COLUMNS" not in env and not sys.stdout.isatty():
        env["COLUMNS"] = LOG_COLUMNS
    return env


def load_document(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def cmd_run(args: argparse.Namespace) -> int:
    from . import verdict
    from .cli import _err, _err_info

    mysql_url = args.mysql_url or os.environ.get(ENV_MYSQL_URL)
    try:
        selected = _check_backends(args.backend, "--backend") if args.backend else None
        required = _check_backends(args.require_backend, "--require-backend") if args.require_backend else []
        if selected is not None and set(required) - set(selected):
            missing = sorted(set(required) - set(selected))
            raise RunUsageError(f"--require-backend names {', '.join(missing)} but --backend does not select it")
        _check_numprocesses(args.numprocesses)
        _check_profile(args.hypothesis_profile)
        _check_claims(args.claim)
        if selected is None or "mysql" in selected:
            _check_mysql_url(mysql_url)
        results_path(args.results)
    except RunUsageError as exc:
        _err(str(exc))
        return verdict.BAD_INPUT
    try:
        check_servers_reachable(given_urls(args, selected, mysql_url))
    except CannotJudge as exc:
        _err(f"{exc} (exit 3: the run cannot judge)")
        return verdict.CANNOT_JUDGE
    try:
        out = results_dir(args.results)
    except RunUsageError as exc:
        _err(str(exc))
        return verdict.BAD_INPUT
    import sqlalchemy

    _err_info(f"sa-conformance run: SQLAlchemy {sqlalchemy.__version__} ({Path(sqlalchemy.__file__).parent}); "
              f"results in {out}")
    status = run_pytest(pytest_command(args, out), pytest_env(args, out))
    doc = load_document(out / RESULTS_NAME)
    result = verdict.decide(doc, status)
    reasons = "; ".join(result.reasons) or "every applicable claim conforms"
    _err_info(f"sa-conformance run: exit {result.code}: {reasons} (pytest exit {status}; {out})")
    return result.code


#: seconds an interrupted pytest gets to stop its servers and drop its databases
STOP_GRACE = 60.0


def run_pytest(cmd: list[str], env: dict[str, str]) -> int:
    """Run pytest; on Ctrl-C (which pytest, in our process group, receives
    too) wait for it to clean up instead of killing it mid-teardown."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            return proc.wait(timeout=STOP_GRACE)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.terminate()  # the fixtures plugin turns SIGTERM into an orderly stop
            try:
                return proc.wait(timeout=STOP_GRACE / 2)
            except (KeyboardInterrupt, subprocess.TimeoutExpired):
                proc.kill()
                return proc.wait()
