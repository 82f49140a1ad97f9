"""Upgrade verification tools: release resolution, refusal of foreign results,
the history matrix, bisect's verdict on the catalogue -- and one real bisect
across three releases of the registry around a catalogued boundary."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest
from sa_conformance import releases
from sa_conformance.catalogue import load_catalogue
from sa_conformance.cmd_bisect import judge
from sa_conformance.cmd_history import matrix, parse_shard, shard_of
from sa_conformance.env_runner import RunOutcome, RunRefused, load_own_results
from sa_conformance.envs import Env, dependency_pins, env_key
from sa_conformance.model import Document, Record, Run
from sa_conformance.paths import CATALOGUE_DIR
from sa_conformance.resultsio import write_document

pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(900)]

INDEX = {"releases": {v: [{"yanked": v == "2.0.3", "requires_python": ">=3.7"}] for v in
                      ("1.4.54", "2.0.0b1", "2.0.0", "2.0.1", "2.0.3", "2.0.58", "2.1.0", "2.1.9")}}


@pytest.fixture
def fake_index(tmp_path, monkeypatch):
    path = tmp_path / "index.json"
    path.write_text(json.dumps(INDEX))
    monkeypatch.setenv("SA_CONFORMANCE_INDEX_URL", path.as_uri())
    monkeypatch.setenv("SA_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    return path


def test_series_and_releases_resolve(fake_index):
    assert releases.series_releases("2.0") == ["2.0.0", "2.0.1", "2.0.58"]  # no pre-release, no yanked
    assert releases.resolve("2.0") == "2.0.58" and releases.resolve("2.0", newest=False) == "2.0.0"
    assert releases.resolve("2.0.1") == "2.0.1"
    assert releases.releases_between("2.0.1", "2.1") == ["2.0.1", "2.0.58", "2.1.0", "2.1.9"]
    with pytest.raises(releases.ReleaseError, match=r"^unknown SQLAlchemy release or series '2\.0\.99'"):
        releases.resolve("2.0.99")
    with pytest.raises(releases.ReleaseError, match=r"^SQLAlchemy 2\.0\.3 is yanked"):
        releases.resolve("2.0.3")
    with pytest.raises(releases.ReleaseError, match=r"^SQLAlchemy has no final release in series 3\.0"):
        releases.resolve("3.0")


def test_unreachable_registry_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SA_CONFORMANCE_INDEX_URL", "http://127.0.0.1:9/pypi/SQLAlchemy/json")
    monkeypatch.setenv("SA_CONFORMANCE_CACHE", str(tmp_path))
    with pytest.raises(releases.ReleaseError, match=r"^package registry unreachable \(http://127\.0\.0\.1:9/"):
        releases.resolve("2.0")
    proc = subprocess.run([sys.executable, "-m", "sa_conformance", "upgrade", "2.0", "2.1", "--backend", "sqlite-memory"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "SA_CONFORMANCE_INDEX_URL": "http://127.0.0.1:9/x",
                               "SA_CONFORMANCE_CACHE": str(tmp_path)})
    assert proc.returncode == 2 and proc.stderr.startswith("sa-conformance: package registry unreachable")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_env_key_depends_on_release_python_and_pins():
    pins = dependency_pins()
    assert any(p.lower().startswith("pytest==") for p in pins) and not any(p.lower().startswith("sqlalchemy") for p in pins)
    key = env_key("2.0.58", "3.11", pins)
    assert key.startswith("py3.11-sa2.0.58-") and key != env_key("2.0.57", "3.11", pins)
    assert key != env_key("2.0.58", "3.11", pins + ["extra==1"])


def _doc(version: str, invocation: str | None, complete: bool = True) -> Document:
    run = Run(sqlalchemy=version, python="3.11", platform="linux", started="2026-12-01T00:00:00+00:00",
              finished=None, command="pytest", invocation=invocation)
    rec = Record(claim="x.a", backend="sqlite-memory", driver=None, scope_mode="default", outcome="pass")
    return Document(suite_version="0.1.0", complete=complete, exit_status=0, run=run, claims={}, records=(rec,))


@pytest.mark.parametrize("doc_args, message", [
    (("2.0.58", "someone-else"), r"was not produced by this invocation \(run\.invocation 'someone-else'\)"),
    (("2.0.58", None), r"was not produced by this invocation \(run\.invocation None\)"),
    (("2.0.58", "me", False), r"is marked complete: false"),
    (("2.1.9", "me"), r"is from SQLAlchemy 2\.1\.9, not 2\.0\.58"),
])
def test_results_not_from_this_invocation_are_refused(tmp_path, doc_args, message):
    path = tmp_path / "results.json"
    write_document(path, _doc(*doc_args))
    outcome = RunOutcome(Env(tmp_path, "2.0.58", "3.11"), "me", path, 1)
    with pytest.raises(RunRefused, match=message):
        load_own_results(outcome)


def test_missing_results_are_refused(tmp_path):
    outcome = RunOutcome(Env(tmp_path, "2.0.58", "3.11"), "me", tmp_path / "results.json", 4)
    with pytest.raises(RunRefused, match=r"^the SQLAlchemy 2\.0\.58 run wrote no results \(exit 4\)"):
        load_own_results(outcome)


def test_history_matrix_flips_and_disagreements():
    claims = {"x.new": {"since": "2.0.2", "until": None}, "x.old": {"since": None, "until": "2.0.2"}}

    def doc(v, outcomes):
        run = Run(sqlalchemy=v, python="3.11", platform="p", started="2026-12-01T00:00:00+00:00", finished=None,
                  command="c")
        recs = [Record(claim=c, backend="sqlite-memory", driver=None, scope_mode="default", outcome=o)
                for c, o in outcomes.items()]
        return Document(suite_version="0", complete=True, exit_status=0, run=run, claims=claims, records=recs)

    docs = {"2.0.1": doc("2.0.1", {"x.new": "fail", "x.old": "pass"}),
            "2.0.2": doc("2.0.2", {"x.new": "pass", "x.old": "pass"}),  # x.old still holds: its until is wrong
            "2.0.3": doc("2.0.3", {"x.new": "pass", "x.old": "fail"})}
    m = matrix(docs)
    assert m["claims"]["x.new"] == {"2.0.1": "fails", "2.0.2": "holds", "2.0.3": "holds"}
    assert m["flips"] == {"x.new": ["2.0.2"], "x.old": ["2.0.3"]}
    assert m["disagreements"] == {"x.old": ["2.0.2"]}
    assert parse_shard("2/3") == (2, 3) and shard_of(list("abcdefg"), 2, 3) == ["b", "e"]
    for bad in ("0/2", "3/2", "x"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_bisect_judgement_against_the_catalogue():
    claim = load_catalogue(CATALOGUE_DIR)["transactions.core-statement-autoflush"]
    rels = ["2.0.57", "2.0.58", "2.1.0"]
    assert judge(claim, rels, "fails", "2.1.0") == (True, "agrees with since = 2.1.0")
    ok, line = judge(claim, rels, "fails", "2.0.58")
    assert not ok and line == "DISAGREES: the verdict changes at 2.0.58, the catalogue says since = 2.1.0"
    ok, line = judge(claim, rels, "fails", None)
    assert not ok and "since = 2.1.0 lies inside" in line


def test_bisect_bad_input_is_one_line(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "sa_conformance", "bisect", *args], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)

    unknown = run("transactions.core-statement-autoflsh")
    assert unknown.returncode == 2 and "did you mean transactions.core-statement-autoflush" in unknown.stderr
    empty = run("transactions.core-statement-autoflush", "--from", "2.1.9", "--to", "2.1.0")
    assert empty.returncode == 2 and "no SQLAlchemy release between 2.1.9 and 2.1.0" in empty.stderr
    nowhere = run("transactions.core-statement-autoflush", "--from", "1.4.50", "--to", "1.4.54")
    assert nowhere.returncode == 2 and "is not applicable anywhere in 1.4.50..1.4.54" in nowhere.stderr
    for proc in (unknown, empty, nowhere):
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_bisect_for_real_across_a_few_releases(tmp_path):
    """Installs the releases from 2.0.57 to 2.1.0 from the registry (cached
    envs: 2.0.57, 2.0.58, any later 2.0 patch release, 2.1.0) and finds
    #9809's boundary at 2.1.0, agreeing with the catalogue."""
    try:
        between = releases.releases_between("2.0.57", "2.1.0")
    except releases.ReleaseError as exc:
        pytest.skip(f"registry unreachable: {exc}")
    assert between[0] == "2.0.57" and between[-1] == "2.1.0" and len(between) >= 3, between
    proc = subprocess.run(
        [sys.executable, "-m", "sa_conformance", "bisect", "transactions.core-statement-autoflush",
         "--from", "2.0.57", "--to", "2.1.0"], capture_output=True, text=True, timeout=850, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"^transactions\.core-statement-autoflush: first release with the new verdict: 2\.1\.0 "
                      r"\(fails on (\S+) and before, holds from 2\.1\.0; (\d+) releases probed\)$",
                      proc.stdout, re.M)
    assert found, proc.stdout
    # the release just before the flip is the newest 2.0 release in the range; a binary search
    # probes both ends and at most log2(len) releases between them
    assert found.group(1) == between[-2], (found.group(1), between)
    assert 2 <= int(found.group(2)) <= 2 + math.ceil(math.log2(len(between))), (found.group(2), between)
    assert "transactions.core-statement-autoflush: agrees with since = 2.1.0" in proc.stdout


@pytest.mark.parametrize("uv_error, expected", [
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because the current Python version (3.11.2) does not "
     "satisfy Python>=3.12 and sqlalchemy==9.9.9 depends on Python>=3.12, we can conclude that sqlalchemy==9.9.9 "
     "cannot be used.", r"^Python 3\.11 cannot install SQLAlchemy==9\.9\.9: .*does not satisfy Python>=3\.12"),
    ("error: Failed to fetch: `https://pypi.org/simple/sqlalchemy/`\n  Caused by: error sending request",
     r"^package registry unreachable while creating the env for SQLAlchemy 9\.9\.9: "),
])
def test_env_creation_failures_are_one_line(tmp_path, monkeypatch, uv_error, expected):
    """A fake uv that creates the venv but fails the install the way uv does."""
    from sa_conformance import envs

    fake = tmp_path / "uv"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = venv ]; then exec %s -m venv --without-pip \"$5\"; fi\n"
                    "cat >&2 <<'MSG'\n%s\nMSG\nexit 1\n" % (sys.executable, uv_error))
    fake.chmod(0o755)
    monkeypatch.setattr(envs, "_uv", lambda: str(fake))
    monkeypatch.setenv("SA_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(envs.EnvError, match=expected) as info:
        envs.ensure_env("9.9.9")
    assert "\n" not in str(info.value)
    assert not list((tmp_path / "cache" / "envs").glob("py*"))  # the half-made env is removed
