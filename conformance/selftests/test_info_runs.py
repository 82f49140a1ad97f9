"""`pytest --markers`, `--help`, `--version` and `--fixtures` print and exit:
they provision no database server.  Proof: the same command with an
unreachable required MySQL URL fails in provisioning when it runs tests, and
succeeds when it only prints."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

UNREACHABLE = ["--backend", "mysql", "--require-backend", "mysql", "--mysql-url", "mysql+pymysql://u@127.0.0.1:1/x"]


def run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-p", "sa_fixtures.pytest_plugin", "-p", "sa_conformance.plugin",
           "-p", "sa_conformance.results", "-p", "no:cacheprovider", *args, *UNREACHABLE]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("flag", ["--markers", "--help", "--version", "--fixtures"])
def test_informational_runs_start_no_server(tmp_path, flag):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = run(tmp_path, flag)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "cannot connect" not in proc.stdout + proc.stderr
    assert not (tmp_path / "reports").exists(), "an informational run wrote results"


def test_a_real_run_does_provision(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    proc = run(tmp_path, "--no-results")
    assert proc.returncode != 0
    assert "mysql: cannot connect to mysql+pymysql://u@127.0.0.1:1/x" in proc.stdout + proc.stderr
