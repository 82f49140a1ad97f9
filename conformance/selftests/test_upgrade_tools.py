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
    # a yanked release is a fine range bound; the range never installs it
    assert releases.releases_between("2.0.1", "2.0.3") == ["2.0.1"]
    assert releases.releases_between("2.0.3", "2.0.58") == ["2.0.58"]
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
    family = run("remove")
    assert family.returncode == 2 and "'remove' is a claim family; bisect takes one claim id, e.g. remove." in family.stderr
    for proc in (unknown, empty, nowhere, family):
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
    (("error: Request failed after 3 retries in 9.0s\n  cause: Failed to fetch: `http://127.0.0.1:9/simple/pytest/`\n"
      "  cause: tcp connect error\n  cause: Connection refused (os error 111)"),
     (r"^package registry unreachable while creating the env for SQLAlchemy 9\.9\.9: error: Request failed after 3 "
      r"retries in 9\.0s cause: Connection refused \(os error 111\)$")),
], ids=["python-too-old", "registry-unreachable", "registry-unreachable-uv-0.9"])
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


FAKE_UV = r'''#!{python}
"""uv stand-in: `venv` makes a venv; `pip install` logs its argv and installs a tiny SQLAlchemy 9.9.9 with a RECORD."""
import base64, hashlib, json, os, subprocess, sys
args = sys.argv[1:]
if args[0] == "venv":
    subprocess.run([{python!r}, "-m", "venv", "--without-pip", args[-1]], check=True)
    sys.exit(0)
with open({log!r}, "a") as fh:
    fh.write(json.dumps(args) + "\n")
python = args[args.index("--python") + 1]
site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                      capture_output=True, text=True, check=True).stdout.strip()
pkg, info = os.path.join(site, "sqlalchemy"), os.path.join(site, "sqlalchemy-9.9.9.dist-info")
os.makedirs(pkg, exist_ok=True); os.makedirs(info, exist_ok=True)
body = {{"sqlalchemy/__init__.py": b"__version__ = '9.9.9'\n", "sqlalchemy/orm.py": b"def remove(): return 'closes'\n"}}
rows = []
for name, data in body.items():
    with open(os.path.join(site, name), "wb") as fh:
        fh.write(data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows.append(f"{{name}},sha256={{digest}},{{len(data)}}")
with open(os.path.join(info, "RECORD"), "w") as fh:
    fh.write("\n".join(rows + ["sqlalchemy-9.9.9.dist-info/RECORD,,"]) + "\n")
'''


def test_an_env_whose_sqlalchemy_was_edited_is_recreated_without_uvs_cache(tmp_path, monkeypatch):
    """uv hard-links installed files to its cache: an edit to any linked copy (someone patching their
    own venv's SQLAlchemy) changes every env of that release. A cached env whose SQLAlchemy differs
    from its RECORD is never used: it is recreated from the registry, bypassing uv's cache."""
    from sa_conformance import envs

    log = tmp_path / "uv-calls.jsonl"
    fake = tmp_path / "uv"
    fake.write_text(FAKE_UV.format(python=sys.executable, log=str(log)))
    fake.chmod(0o755)
    monkeypatch.setattr(envs, "_uv", lambda: str(fake))
    monkeypatch.setenv("SA_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    messages: list[str] = []

    env = envs.ensure_env("9.9.9", log=messages.append)
    assert envs.modified_files(env, "9.9.9") == []
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1 and "--no-cache" not in calls[0]

    assert envs.ensure_env("9.9.9") == env  # an intact cached env is reused: no install
    assert len(log.read_text().splitlines()) == 1

    edited = next(env.path.glob("lib*/python*/site-packages/sqlalchemy/orm.py"))
    edited.write_text("def remove(): return 'forgets'\n")
    assert envs.modified_files(env, "9.9.9") == ["sqlalchemy/orm.py"]
    messages.clear()
    assert envs.ensure_env("9.9.9", log=messages.append) == env
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 2 and "--no-cache" in calls[1], calls
    assert envs.modified_files(env, "9.9.9") == []
    assert any("its files differ from the release (orm.py;" in m and "recreating it without uv's cache" in m
               for m in messages), messages


def test_history_merge_reads_shard_directories_and_releases_run_in_parallel(tmp_path, monkeypatch):
    """A CI matrix downloads each shard into its own directory: --merge reads DIR/<shard>/<release>/ too.
    With --jobs N, N releases run at once; the results come back in release order either way."""
    import threading
    import time

    from sa_conformance import cmd_history
    from sa_conformance.env_runner import RunOptions

    for shard, v in (("history-1", "2.0.1"), ("history-2", "2.0.2"), ("history-1", "2.0.3")):
        write_document(tmp_path / "merged" / shard / v / "results.json", _doc(v, "me"))
    assert list(cmd_history.load_dir(tmp_path / "merged")) == ["2.0.1", "2.0.2", "2.0.3"]

    running, peak, lock = [0], [0], threading.Lock()

    def fake_probe(release, opts, *, root, python=None, reuse=True):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        (root / release).mkdir(parents=True, exist_ok=True)
        return _doc(release, "me")

    monkeypatch.setattr("sa_conformance.probe.probe_release", fake_probe)
    monkeypatch.setattr(cmd_history, "_stamp", lambda opts: {"suite": "x"})
    docs = cmd_history.run_series(["2.0.1", "2.0.2", "2.0.3", "2.0.4"], tmp_path / "par", RunOptions(), jobs=2)
    assert list(docs) == ["2.0.1", "2.0.2", "2.0.3", "2.0.4"] and peak[0] == 2
    assert cmd_history.parse_jobs("auto", RunOptions(numprocesses="2")) == 1
    assert cmd_history.parse_jobs("3", RunOptions()) == 3
    with pytest.raises(ValueError, match="--jobs"):
        cmd_history.parse_jobs("0", RunOptions())


def test_history_and_bisect_observe_errors_as_not_judged():
    """An error (a timeout, a leak after the checks held) judges no claim: it is no 'fails' observation,
    so it never makes a flip in history or a boundary in bisect."""
    from sa_conformance.probe import observe

    run = Run(sqlalchemy="2.0.1", python="3.11", platform="p", started="2026-12-01T00:00:00+00:00", finished=None,
              command="c")
    recs = [Record(claim=c, backend="sqlite-memory", driver=None, scope_mode=m, outcome=o)
            for c, m, o in (("x.err", "default", "error"), ("x.mixed", "default", "error"),
                            ("x.mixed", "scopefunc", "fail"), ("x.ok", "default", "pass"), ("x.ok", "scopefunc", "error"))]
    doc = Document(suite_version="0", complete=True, exit_status=1, run=run, claims={}, records=recs)
    assert observe(doc) == {"x.err": "skip", "x.mixed": "fails", "x.ok": "holds"}
