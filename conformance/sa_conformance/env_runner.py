"""Run the packaged suite inside a per-release env and load what it wrote.

Each run gets a fresh invocation id (``SA_CONFORMANCE_INVOCATION``, recorded
as ``run.invocation`` in results.json) and an emptied results directory, and
:func:`load_own_results` refuses -- one line, :class:`RunRefused` -- a file this
invocation did not produce, a file marked ``complete: false`` and a file from
another SQLAlchemy than the env's.  So a diff can never read stale results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .envs import Env
from .paths import PACKAGE_DIR, SUITE_DIR, SUITE_INI

INVOCATION_ENV = "SA_CONFORMANCE_INVOCATION"
RESULTS_NAME = "results.json"


#: RunRefused's second argument when nothing could be judged (exit 3, as `run`'s)
CANNOT_JUDGE = 3


class RunRefused(Exception):
    """Results that must not be diffed, or a run that cannot start (one-line
    message; optional second argument: the exit code, default 2)."""


def refused_code(exc: RunRefused) -> int:
    return exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 2


def answer_refusal(exc: RunRefused) -> int:
    """A verb's answer to a refused run: "could not judge" is one line on stderr
    and exit 3; anything else is bad input (``CliError``: one line, exit 2)."""
    from .cli import CliError, _err

    if refused_code(exc) == CANNOT_JUDGE:
        _err(exc.args[0])
        return CANNOT_JUDGE
    raise CliError(str(exc.args[0] if exc.args else exc)) from None


@dataclass
class RunOptions:
    """The `sa-conformance run` options every env gets, unchanged."""

    backend: str | None = None
    mysql_url: str | None = None
    require_backend: str | None = None  # comma-separated, as `run` takes it
    claims: list[str] = field(default_factory=list)
    numprocesses: str | None = None
    hypothesis_profile: str | None = None
    pytest_args: list[str] = field(default_factory=list)

    def run_args(self) -> list[str]:
        """The options of the env's `run` (the MySQL URL goes through the
        environment, never a command line: see :meth:`run_env`)."""
        out: list[str] = []
        if self.backend:
            out += ["--backend", self.backend]
        if self.require_backend:
            out += ["--require-backend", self.require_backend]
        for c in self.claims:
            out += ["--claim", c]
        if self.numprocesses is not None:
            out += ["-n", str(self.numprocesses)]
        if self.hypothesis_profile:
            out += ["--hypothesis-profile", self.hypothesis_profile]
        return out

    def run_env(self) -> dict[str, str]:
        from .cmd_run import ENV_MYSQL_URL

        return {ENV_MYSQL_URL: self.mysql_url.strip()} if self.mysql_url and self.mysql_url.strip() else {}


def add_run_options(p: argparse.ArgumentParser, *, claims: bool = True) -> None:
    g = p.add_argument_group("run options (passed unchanged to `sa-conformance run` in every env)")
    g.add_argument("--backend", help="backend(s), comma-separated (default: the suite's default)")
    g.add_argument("--mysql-url", help="MySQL-family server URL (or SA_CONFORMANCE_MYSQL_URL)")
    g.add_argument("--require-backend", metavar="NAMES", default=None,
                   help="comma-separated backends that must be provisioned (else the run exits 3)")
    if claims:
        g.add_argument("--claim", dest="claims", action="append", default=[], metavar="ID",
                       help="only this claim or family (repeatable)")
    g.add_argument("-n", dest="numprocesses", default=None, help="xdist workers per run")
    g.add_argument("--hypothesis-profile", choices=("ci", "dev", "thorough"), default=None,
                   help="hypothesis profile of every run (default ci: derandomized, so every release sees the "
                   "same examples and a difference is SQLAlchemy's)")


def options_from(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        backend=args.backend, mysql_url=args.mysql_url, require_backend=args.require_backend,
        claims=list(getattr(args, "claims", []) or []), numprocesses=args.numprocesses,
        hypothesis_profile=args.hypothesis_profile, pytest_args=list(getattr(args, "pytest_args", []) or []),
    )


def check_options(opts: RunOptions) -> None:
    """Reject bad run options here, before any env is created (`run`'s own checks)."""
    try:
        from . import cmd_run
    except ImportError:  # pragma: no cover - `run` not built yet
        return
    try:
        if opts.backend:
            cmd_run._check_backends(opts.backend, "--backend")
        if opts.require_backend:
            cmd_run._check_backends(opts.require_backend, "--require-backend")
        cmd_run._check_numprocesses(opts.numprocesses)
        cmd_run._check_profile(opts.hypothesis_profile)
        if opts.claims:
            cmd_run._check_claims(opts.claims)
        selected = cmd_run._check_backends(opts.backend, "--backend") if opts.backend else None
        mysql_url = opts.mysql_url or os.environ.get(cmd_run.ENV_MYSQL_URL)
        if mysql_url and (selected is None or "mysql" in selected):
            cmd_run._check_mysql_url(mysql_url)
    except cmd_run.RunUsageError as exc:
        raise RunRefused(str(exc)) from None
    if mysql_url and (selected is None or "mysql" in selected):
        try:  # before any env is made: an unreachable server or a refused login cannot judge anything
            cmd_run.check_servers_reachable({"mysql": mysql_url.strip()})
        except cmd_run.CannotJudge as exc:
            raise RunRefused(f"{exc} (exit 3: the run cannot judge)", CANNOT_JUDGE) from None


def new_invocation() -> str:
    return uuid.uuid4().hex


def has_run_verb() -> bool:
    """`python -m sa_conformance run` (the packaged suite) is available in this package."""
    if not (PACKAGE_DIR / "__main__.py").is_file():
        return False
    from .cli import build_parser

    sub = next((a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)), None)
    return bool(sub and "run" in sub.choices)


def _claim_nodes(env: Env, claims: list[str], cwd: Path) -> list[str]:
    """Test node ids citing these claims (or families), collected in the env."""
    dump = cwd / "claims-dump.json"
    cmd = [str(env.python), "-m", "pytest", "-c", str(SUITE_INI), "--rootdir", str(SUITE_DIR), "--collect-only",
           "-q", "--no-results", "--backend", "sqlite-memory", f"--claims-dump={dump}", str(SUITE_DIR)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env.subprocess_env(), timeout=600)
    if proc.returncode != 0 or not dump.exists():
        raise RunRefused(f"collecting the suite in the SQLAlchemy {env.sqlalchemy} env failed (exit {proc.returncode})")
    tests = json.loads(dump.read_text(encoding="utf-8"))
    dump.unlink()
    wanted = set(claims)
    nodes = sorted({t for t, ids in tests.items()
                    if any(i in wanted or i.split(".", 1)[0] in wanted for i in ids)})
    return [str(SUITE_DIR / n.split("/")[-1]) if "::" not in n else str(SUITE_DIR / n.rsplit("/", 1)[-1])
            for n in nodes]


def suite_command(env: Env, results_dir: Path, opts: RunOptions, cwd: Path) -> list[str]:
    if has_run_verb():
        cmd = [str(env.python), "-m", "sa_conformance", "run", "--results", str(results_dir), *opts.run_args()]
        return cmd + (["--", *opts.pytest_args] if opts.pytest_args else [])
    # Prototype until `sa-conformance run` lands: the same pytest invocation it makes.
    run_args = [a for a in opts.run_args()]
    if opts.claims:
        cut = [i for i, a in enumerate(run_args) if a == "--claim"]
        for i in reversed(cut):
            del run_args[i:i + 2]
        targets = _claim_nodes(env, opts.claims, cwd)
        if not targets:
            raise RunRefused(f"no test cites {', '.join(opts.claims)} in the SQLAlchemy {env.sqlalchemy} suite")
    else:
        targets = [str(SUITE_DIR)]
    return [str(env.python), "-m", "pytest", "-c", str(SUITE_INI), "--rootdir", str(SUITE_DIR), "-q",
            "--results", str(results_dir / RESULTS_NAME), *run_args, *opts.pytest_args, *targets]


@dataclass
class RunOutcome:
    env: Env
    invocation: str
    results_path: Path
    returncode: int


def run_in_env(env: Env, results_dir: Path, opts: RunOptions, *, log=None, quiet: bool = False) -> RunOutcome:
    """Run the suite in ``env``, results into an emptied ``results_dir``."""
    if results_dir.exists():
        shutil.rmtree(results_dir)
    results_dir.mkdir(parents=True)
    invocation = new_invocation()
    cmd = suite_command(env, results_dir, opts, results_dir)
    if log:
        from .redact import from_environment

        log("running: " + from_environment()(" ".join(cmd)))
    out = subprocess.DEVNULL if quiet else sys.stderr
    proc = subprocess.run(cmd, cwd=results_dir, stdout=out, stderr=out,
                          env=env.subprocess_env({INVOCATION_ENV: invocation, **opts.run_env()}))
    return RunOutcome(env, invocation, results_dir / RESULTS_NAME, proc.returncode)


def load_own_results(outcome: RunOutcome):
    """The results :class:`~sa_conformance.model.Document` this run wrote, or :class:`RunRefused`."""
    from packaging.version import Version

    from .model import ResultsError
    from .resultsio import load_results

    path, want = outcome.results_path, outcome.env.sqlalchemy
    if not path.is_file():
        raise RunRefused(f"the SQLAlchemy {want} run wrote no results (exit {outcome.returncode}); nothing to diff")
    try:
        doc = load_results(path)
    except ResultsError as exc:
        raise RunRefused(f"the SQLAlchemy {want} run left unreadable results: {exc}") from None
    got = doc.run.invocation
    if got != outcome.invocation:
        raise RunRefused(f"{path} was not produced by this invocation (run.invocation {got!r}); refusing to diff it")
    if not doc.complete:
        raise RunRefused(f"{path} is marked complete: false (the SQLAlchemy {want} run stopped early, "
                         f"exit {outcome.returncode}); refusing to diff it")
    if Version(doc.run.sqlalchemy) != Version(want):
        raise RunRefused(f"{path} is from SQLAlchemy {doc.run.sqlalchemy}, not {want}; refusing to diff it")
    return doc
