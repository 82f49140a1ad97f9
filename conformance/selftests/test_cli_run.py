"""``sa-conformance run``: exit codes 0/1/2/3, bad input as one line, and the
user's own pytest setup never read; ``pytest --claim`` in the repository.

The inner runs use claim subsets on sqlite-memory (``--claim remove``), a
mutation (``sa_conformance.mutations``) for a non-conforming SQLAlchemy, and
a required MySQL-family backend with every provisioning path switched off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sqlalchemy

from sa_conformance import verdict
from sa_conformance.paths import SUITE_DIR, SUITE_INI

# inner runs of the suite: bounded by their own subprocess timeouts, not the 60 s default
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(600)]

RUN = [sys.executable, "-m", "sa_conformance", "run"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SA_CONFORMANCE_")}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(RUN + args, cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def hostile_dir(tmp_path: Path) -> Path:
    """A user's project whose pytest configuration would break any run that read it."""
    (tmp_path / "conftest.py").write_text("raise SystemExit('the user conftest.py was read')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --option-only-the-user-has\n")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '--another-user-option'\n")
    return tmp_path


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-2000:]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{proc.stderr[-2000:]}"
    assert lines[0].startswith("sa-conformance: "), lines[0]
    return lines[0]


# -- exit 0 / 1 / 3 -----------------------------------------------------------------
def test_run_exits_0_when_every_selected_claim_conforms_and_ignores_the_users_pytest_setup(hostile_dir: Path) -> None:
    out = hostile_dir / "sa-conformance-reports"
    out.mkdir()
    (out / "results.json").write_text("stale file of an earlier run\n")
    # ci profile: derandomized and bounded (the property tests citing remove.* must not make this flaky)
    proc = _run(["--backend", "sqlite-memory", "--claim", "remove.closes-session", "--claim", "remove.noop-when-empty",
                 "--hypothesis-profile", "ci"],
                hostile_dir,
                PYTEST_ADDOPTS="--option-from-the-users-environment")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "the user conftest.py was read" not in proc.stdout + proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"] is True and doc["exit_status"] == 0
    assert doc["run"]["sqlalchemy"] == sqlalchemy.__version__
    assert doc["run"]["backends_selected"] == ["sqlite-memory"]
    judged = {r["claim"] for r in doc["results"] if r["outcome"] == "pass"}
    assert {"remove.closes-session", "remove.noop-when-empty"} <= judged, sorted(judged)
    # claims nobody asked for are not counted as "not run" (they were not selected)
    not_run = {r["claim"] for r in doc["results"] if r["outcome"] == "not-run"}
    assert not_run <= {"remove.closes-session", "remove.noop-when-empty"}, sorted(not_run)[:5]
    # only tests citing a selected claim ran (they may cite further claims)
    cases = list(ET.parse(out / "junit.xml").getroot().iter("testcase"))
    assert cases
    for case in cases:
        cited = {p.get("value") for p in case.iter("property") if p.get("name") == "claim"}
        assert cited & {"remove.closes-session", "remove.noop-when-empty"}, (case.get("name"), cited)
    for name in ("junit.xml", "summary.md", "matrix.html"):
        assert (out / name).is_file(), f"{name} missing from {out}"
    assert "deselected" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("sa-conformance run: exit 0")


def test_run_exits_1_when_a_claim_does_not_conform_and_names_it(tmp_path: Path) -> None:
    proc = _run(["--backend", "sqlite-memory", "--claim", "remove.closes-session", "--results", "out",
                 "--", "-p", "sa_conformance.mutations"], tmp_path,
                SA_CONFORMANCE_MUTATION="remove-does-not-close", CI="true")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("sa-conformance run: exit 1:") and "claim(s) do not conform: " in last, last
    failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    assert failed and all(" - [claim" in ln for ln in failed), "\n".join(failed)
    mine = [ln for ln in failed if "test_remove.py::" in ln]
    assert mine and all("[claim remove.closes-session]" in ln for ln in mine), "\n".join(failed)
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["outcome"] for r in doc["results"] if r["claim"] == "remove.closes-session"} & {"fail", "error"}


@pytest.mark.parametrize(
    "args, expected",
    [
        pytest.param(["--backend", "sqlite-memory,mysql", "--require-backend", "mysql", "--no-docker",
                      "--no-local-server"], "mysql is required but cannot be provisioned", id="required-unavailable"),
    ],
)
def test_run_exits_3_when_a_backend_cannot_be_provisioned(tmp_path: Path, args: list[str], expected: str) -> None:
    proc = _run(args, tmp_path)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    # what runs, the provisioning error (one line), the verdict
    assert len(lines) == 3 and expected in lines[1], proc.stderr
    assert lines[0].startswith("sa-conformance run: SQLAlchemy "), lines[0]
    assert lines[-1].startswith("sa-conformance run: exit 3"), lines[-1]


@pytest.mark.parametrize("url, expected", [
    ("mysql+pymysql://root:s3cret-pw@127.0.0.1:1/test", "mysql: cannot connect to mysql+pymysql://root:***@127.0.0.1:1/test"),
    ("mysql+pymysql://nobody-here:s3cret-pw@{mysql_host}/test", "Access denied for user 'nobody-here'"),
], ids=["unreachable", "wrong-password"])
def test_run_given_url_that_cannot_be_used_is_one_line_and_exit_3(tmp_path: Path, url: str, expected: str) -> None:
    """A server URL that is given but cannot be used is found before pytest starts: one line, exit 3,
    the password never shown."""
    if "{mysql_host}" in url:
        from sqlalchemy.engine import make_url

        given = os.environ.get("SA_CONFORMANCE_MYSQL_URL")
        if not given:
            pytest.skip("needs a reachable MySQL-family server (SA_CONFORMANCE_MYSQL_URL)")
        parsed = make_url(given)
        url = url.format(mysql_host=f"{parsed.host}:{parsed.port or 3306}")
    proc = _run(["--backend", "sqlite-memory,mysql", "--claim", "remove", "--mysql-url", url], tmp_path, timeout=60)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = _one_line_error(proc)
    assert expected in line and line.endswith("(exit 3: the run cannot judge)"), line
    assert "s3cret-pw" not in proc.stdout + proc.stderr
    assert not proc.stdout.strip(), proc.stdout[-2000:]  # pytest never started


# -- exit 2: bad input, one line, no pytest started ---------------------------------------
@pytest.mark.parametrize(
    "args, expected",
    [
        (["--claim", "remov"], "unknown claim id or family 'remov' (from --claim); did you mean remove?"),
        (["--claim", "registry.same-sesion-in-scope"], "did you mean registry.same-session-in-scope"),
        (["--backend", "sqlite-memroy"], "unknown backend 'sqlite-memroy' (from --backend); did you mean sqlite-memory?"),
        (["--results", "a-file"], "--results a-file: is a file, not a directory"),
        (["--mysql-url", "postgresql://u@h/db"], "mysql: URL postgresql://u@h/db is for 'postgresql', not mysql"),
        (["--backend", "sqlite-memory", "--require-backend", "mysql"], "--require-backend names mysql but --backend"),
        (["-n", "two"], "-n takes a number of worker processes or 'auto', not 'two'"),
        (["--hypothesis-profile", "fast"], "unknown hypothesis profile 'fast'; choose from: ci, dev, thorough"),
    ],
    ids=["claim", "claim-id", "backend", "results-file", "url-dialect", "require-unselected", "numprocesses", "profile"],
)
def test_run_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    proc = _run(args, tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in _one_line_error(proc)
    assert not (tmp_path / "sa-conformance-reports").exists(), "bad input must not start a run"


def test_run_help_documents_the_exit_codes_and_the_backend_options(tmp_path: Path) -> None:
    proc = _run(["--help"], tmp_path, timeout=60)
    assert proc.returncode == 0
    for text in ("--claim ID", "--results DIR", "--no-docker", "--no-local-server", "-n N",
                 "0  every applicable claim conforms", "1  some claim does not conform",
                 "2  usage or bad input", "3  the run could not judge"):
        assert text in proc.stdout, f"{text!r} missing from `sa-conformance run --help`"


# -- in the repository: pytest --claim ----------------------------------------------
def _suite_pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-c", str(SUITE_INI), "--rootdir", str(SUITE_DIR), "--no-results", *args,
           str(SUITE_DIR)]
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)


def test_pytest_claim_unknown_names_close_matches(tmp_path: Path) -> None:
    proc = _suite_pytest(["--backend", "sqlite-memory", "--collect-only", "-q", "--claim", "sessionmakr"], tmp_path)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-1000:] + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        "ERROR: unknown claim id or family 'sessionmakr' (from --claim); did you mean sessionmaker"
    ), lines[0]
    assert lines[0].endswith("(list them: sa-conformance claims)"), lines[0]


def test_pytest_claim_selects_a_family_and_a_claim_and_reports_deselection(tmp_path: Path) -> None:
    proc = _suite_pytest(["--backend", "sqlite-memory", "--collect-only", "-q",
                          "--claim", "remove", "--claim", "savepoint.begin-nested-emits-savepoint"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    collected = [ln for ln in proc.stdout.splitlines() if "::" in ln]
    assert collected and "deselected" in proc.stdout
    modules = {ln.split("::")[0].rsplit("/", 1)[-1] for ln in collected}
    assert "test_remove.py" in modules and "test_expire.py" not in modules, sorted(modules)


# -- verdict.py (pure) ---------------------------------------------------------------------
def _doc(records: list[tuple[str, str, str]], complete: bool = True, status: int = 0) -> dict:
    return {
        "complete": complete,
        "exit_status": status,
        "results": [{"claim": c, "backend": b, "scope_mode": "none", "outcome": o, "duration": 0.0, "tests": []}
                    for c, b, o in records],
    }


@pytest.mark.parametrize(
    "doc, status, code, why",
    [
        (_doc([("a.x", "sqlite-memory", "pass"), ("a.y", "mysql", "skip"), ("a.z", "*", "not-run")]), None, 0, ""),
        (_doc([("a.x", "sqlite-memory", "pass"), ("a.z", None, "not-run"), ("a.w", None, "error")], status=1), None, 1,
         ("1 claim(s) not judged: their tests errored outside a check or left a connection or Session behind: a.w "
          "(no check failed)")),
        (_doc([("a.x", "sqlite-memory", "pass"), ("a.y", "sqlite-memory", "fail")], status=1), None, 1, "a.y"),
        (_doc([("a.x", "sqlite-memory", "pass"), ("a.y", "sqlite-memory", "unexpected-pass")], status=1), None, 1,
         "a.y"),
        (_doc([("a.x", "sqlite-memory", "pass"), ("a.x", "mysql", "error"), ("a.y", "mysql", "error")], status=1),
         None, 3, "every test on backend mysql errored"),
        (_doc([("a.x", "mysql", "pass"), ("a.y", "mysql", "error")], status=1), None, 1, "a.y (no check failed)"),
        (_doc([("a.x", "mysql", "fail"), ("a.y", "mysql", "error")], status=1), None, 1,
         "1 claim(s) do not conform: a.x"),
        (_doc([("a.x", "sqlite-memory", "pass")], complete=False, status=2), None, 3, "interrupted"),
        (_doc([("a.x", "sqlite-memory", "pass")], complete=False, status=0), None, 3, "incomplete"),
        (None, 3, 3, "provisioned"),
        (None, 4, 2, "usage"),
        (None, 5, 2, "matched no test"),
        (None, 1, 3, "no results"),
    ],
)
def test_verdict(doc: dict | None, status: int | None, code: int, why: str) -> None:
    result = verdict.decide(doc, status)
    assert result.code == code, result
    assert verdict.exit_code(doc, status) == code
    assert why in " ".join(result.reasons), result.reasons


def test_verdict_names_failed_checks_apart_from_claims_whose_tests_only_errored() -> None:
    """A broken cleanup call (remove() that does not close) leaks in every test that cleans up with it:
    the claims whose checks failed are named first, the merely errored ones apart; errors alone are exit 1
    too (a SQLAlchemy that raises, hangs or leaks does not conform), named as not judged."""
    doc = _doc([("remove.closes-session", "sqlite-memory", "fail"), ("remove.closes-session", "mysql", "error"),
                ("proxy.scalars", "sqlite-memory", "error"), ("proxy.scalars", "mysql", "pass"),
                ("states.five", "sqlite-memory", "pass")], status=1)
    result = verdict.decide(doc)
    assert result.code == 1
    assert result.reasons == (
        "1 claim(s) do not conform: remove.closes-session",
        ("1 more claim(s) not judged: their tests errored outside a check or left a connection or Session "
         "behind: proxy.scalars"),
    ), result.reasons
    only_errors = verdict.decide(_doc([("proxy.scalars", "sqlite-memory", "error"),
                                       ("states.five", "sqlite-memory", "pass")], status=1))
    assert only_errors.code == 1 and only_errors.reasons == (
        "1 claim(s) not judged: their tests errored outside a check or left a connection or Session behind: "
        "proxy.scalars (no check failed)",), only_errors
