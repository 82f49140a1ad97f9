"""Fault injection: the suite fails clearly, in bounded time, and leaves
nothing behind when the world misbehaves.

(a) the throwaway MySQL-family server dies in the middle of a run;
(b) a test deadlocks its threads;
(c) a run crashed and left its temp dir (and a server) behind.

Each scenario is an inner pytest run (``pytester.runpytest_subprocess``)
using the suite's own plugins and conftest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sa_conformance.paths import CATALOGUE_DIR
from sa_fixtures.provision import find_local_mysqld
from sa_fixtures.provision._process import pid_alive

pytestmark = pytest.mark.selfcheck

REPO = Path(__file__).resolve().parents[2]
PLUGINS = ("-p", "sa_fixtures.pytest_plugin", "-p", "sa_conformance.plugin", "-p", "sa_conformance.session_fixtures",
           "-p", "no:cacheprovider")
#: wall-clock bound for any inner run here (a hang would blow it)
INNER_BOUND = 90


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("COLUMNS", "400")  # untruncated short test summary lines
    # the inner runs choose their own servers: a URL or backend list set for the outer run must not leak in
    for var in ("SA_CONFORMANCE_MYSQL_URL", "SA_CONFORMANCE_POSTGRESQL_URL", "SA_CONFORMANCE_MYSQL_PROVISIONER",
                "SA_CONFORMANCE_BACKENDS", "SA_CONFORMANCE_REQUIRE"):
        monkeypatch.delenv(var, raising=False)
    pytester.makefile(
        ".toml",
        pyproject=f'[tool.pytest.ini_options]\nclaims_catalogue = "{CATALOGUE_DIR}"\n'
        'timeout_method = "signal"\n',
    )
    return pytester


def _processes_mentioning(needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().decode(errors="replace")
        except OSError:
            continue
        if needle in cmd and pid_alive(int(entry)):
            found.append(int(entry))
    return found


# -- (a) the server dies mid-run -------------------------------------------------------
SERVER_KILLED = '''
import json, os, signal, time
import pytest
from sqlalchemy import text
from sa_fixtures.pytest_plugin import SERVERS_KEY

INFO = os.environ["FAULT_INFO"]


def _server_pid(port):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\\0")
            except OSError:
                continue
            if f"--port={port}".encode() in cmd and any(b"mysqld" in c or b"mariadbd" in c for c in cmd[:1]):
                return int(entry), [c.decode() for c in cmd]
    raise AssertionError(f"no server process listening on port {port}")


def test_1_before_the_kill(session_factory):
    with session_factory() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1


def test_2_kill_the_server(backend, pytestconfig):
    url = pytestconfig.stash[SERVERS_KEY]["mysql"]["url"]
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    pid, cmd = _server_pid(port)
    datadir = next(a.split("=", 1)[1] for a in cmd if a.startswith("--datadir="))
    with open(INFO, "w") as fh:
        json.dump({"pid": pid, "tmpdir": os.path.dirname(datadir), "port": port}, fh)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}") and \\
            open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX":
        time.sleep(0.05)


def test_3_after_the_kill_uses_the_db(session_factory):
    with session_factory() as s:
        s.execute(text("SELECT 1"))


def test_4_after_the_kill_opens_a_session(db):
    pass


def test_5_not_using_the_server():
    assert True
'''


@pytest.mark.skipif(find_local_mysqld()[0] is None, reason="no local mariadbd/mysqld binary")
@pytest.mark.timeout(3 * INNER_BOUND)  # two inner runs, each bounded; on a loaded machine they exceed 60 s
def test_server_killed_mid_run_fails_fast_and_leaves_nothing(
    inner: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A killed server makes the later mysql tests fail with a one-line
    connection error (no hang); the run ends, its temp dir and process are
    gone, and the next run provisions a fresh server and passes."""
    info_path = tmp_path / "server.json"
    inner.makepyfile(test_server_killed=SERVER_KILLED)
    args = (*PLUGINS, "--backend", "mysql", "--require-backend", "mysql", "--mysql-provisioner", "local-binary",
            "--no-docker", "-p", "no:randomly")
    started = time.monotonic()
    monkeypatch.setenv("FAULT_INFO", str(info_path))
    result = inner.runpytest_subprocess(*args, "-rfE", "--timeout=30", timeout=INNER_BOUND)
    elapsed = time.monotonic() - started
    out = result.stdout.str()
    info = json.loads(info_path.read_text())

    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 3, out[-3000:]  # before, the kill itself, the server-free test
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 2, out[-3000:]
    # Each affected test is named with a one-line connection error, not a timeout.
    for name in ("test_3_after_the_kill_uses_the_db", "test_4_after_the_kill_opens_a_session"):
        line = next((ln for ln in out.splitlines() if name in ln and ln.startswith(("FAILED", "ERROR"))), None)
        assert line is not None, out[-3000:]
        assert "Timeout" not in line and ("is gone" in line or "Lost connection" in line or "Can't connect" in line
                                          or "gone away" in line or "2013" in line or "2003" in line), line
    assert "Timeout" not in out
    assert elapsed < 60, f"the run took {elapsed:.0f}s after the server died"

    # Nothing left behind: the server process, its temp dir (data dir, socket).
    assert not pid_alive(info["pid"])
    assert not os.path.exists(info["tmpdir"]), f"left behind: {info['tmpdir']}"
    assert not _processes_mentioning(info["tmpdir"])

    # The next run starts clean (a fresh server) and passes.
    again = inner.runpytest_subprocess(*args, "-k", "test_1 or test_5", timeout=INNER_BOUND)
    again.assert_outcomes(passed=2)
    assert not [p for p in _processes_mentioning("sa-conformance-mysql-") if p == info["pid"]]


# -- (b) a test deadlocks its threads --------------------------------------------------------
DEADLOCK = '''
import threading
import pytest


def test_a_passes_before():
    assert True


@pytest.mark.timeout(3)
def test_b_deadlocks_two_threads():
    first, second = threading.Lock(), threading.Lock()
    both_hold_one = threading.Barrier(2)

    def worker(a, b):
        with a:
            both_hold_one.wait()
            with b:                      # each waits for the lock the other holds
                pass

    threads = [
        threading.Thread(target=worker, args=(first, second), name="deadlocked-1", daemon=True),
        threading.Thread(target=worker, args=(second, first), name="deadlocked-2", daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()                         # never returns: pytest-timeout must stop it


@pytest.mark.timeout(3)
def test_c_waits_on_an_event_never_set():
    threading.Event().wait()


def test_d_passes_after(session_factory):
    with session_factory() as s:
        assert s.connection() is not None
'''


def test_deadlocked_threads_are_stopped_by_the_timeout_and_reported(inner: pytest.Pytester):
    """pytest-timeout (signal method) stops each deadlocked test; only those
    tests fail, the leak guard names the stuck threads, and the run ends."""
    inner.makepyfile(test_deadlock=DEADLOCK)
    started = time.monotonic()
    result = inner.runpytest_subprocess(*PLUGINS, "--backend", "sqlite-memory", "-p", "no:randomly", "-rfE",
                                        timeout=INNER_BOUND)
    elapsed = time.monotonic() - started
    out = result.stdout.str()
    result.assert_outcomes(passed=2, failed=2, errors=1)
    assert "FAILED test_deadlock.py::test_b_deadlocks_two_threads - Failed: Timeout" in out
    assert "FAILED test_deadlock.py::test_c_waits_on_an_event_never_set - Failed: Timeout" in out
    # The leak guard names the stuck threads (at teardown of the deadlocking test) ...
    assert ("ERROR test_deadlock.py::test_b_deadlocks_two_threads - sa_conformance.leakguard.LeakError: "
            "leak: still alive after the test: thread 'deadlocked-1' (daemon), thread 'deadlocked-2' (daemon)") in out
    # ... and only there: the later tests are clean.
    assert "test_a_passes_before" not in out.split("short test summary")[-1]
    assert "test_d_passes_after" not in out.split("short test summary")[-1]
    assert elapsed < 40, f"inner run took {elapsed:.0f}s"


# -- (c) a crashed run's leftovers ----------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_run_removes_a_crashed_runs_leftovers(inner: pytest.Pytester):
    """A temp dir of a dead run, and a server process still running from it,
    are removed at the next run's start; a live run's dir is left alone."""
    tmp = tempfile.gettempdir()
    stale = tempfile.mkdtemp(prefix=f"sa-conformance-mysql-{_dead_pid()}-", dir=tmp)
    os.makedirs(os.path.join(stale, "data"))
    Path(stale, "data", "ibdata1").write_bytes(b"x" * 1024)
    # An orphaned "server" still running from the dead run's data dir.
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", f"--datadir={stale}/data"],
        start_new_session=True,
    )
    live = tempfile.mkdtemp(prefix=f"sa-conformance-mysql-{os.getpid()}-", dir=tmp)
    try:
        inner.makepyfile(test_trivial="def test_ok():\n    assert True\n")
        result = inner.runpytest_subprocess(*PLUGINS, "--backend", "sqlite-memory", timeout=INNER_BOUND)
        result.assert_outcomes(passed=1)
        assert orphan.wait(10) == -9, "the orphaned server was not killed"
        assert not os.path.exists(stale), f"stale dir not removed: {stale}"
        assert os.path.isdir(live), "a live run's dir was removed"
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
        for path in (stale, live):
            subprocess.run(["rm", "-rf", path], check=False)
