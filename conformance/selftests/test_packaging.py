"""The package carries the whole suite, and installing it changes nobody's pytest.

* The wheel built from this checkout holds every file of both packages (the
  claims catalogue, the claim tests and their pytest settings, expectations,
  schema, templates, container recipes) and none of the harness's self-tests;
  the sdist holds the self-tests too.  It declares no ``pytest11`` entry point.
* A stranger's project in a venv where this package is installed (editable
  here) sees no option, fixture or hook of ours: ``pytest --help`` lists no
  ``--backend``/``--claim``/``--results``, and a test asking for our
  ``backend`` fixture gets "fixture 'backend' not found".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from sa_conformance.paths import PACKAGE_DIR, repo_root

# builds a wheel and runs pytest subprocesses: bounded by their own timeouts, not the 60 s default
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(600)]

ROOT = repo_root()
needs_checkout = pytest.mark.skipif(ROOT is None, reason="needs the source checkout (editable install)")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SA_CONFORMANCE_"))}
    env.pop("PYTHONPATH", None)
    return env


def _source_files(root: Path) -> list[str]:
    """Files git knows (tracked or new, not ignored), relative to ``root``."""
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True, text=True, check=True,
    ).stdout
    return sorted(p for p in out.split("\0") if p and (root / p).is_file())


def _package_files(files: list[str]) -> set[str]:
    """Source paths below the two packages, as they appear in a wheel."""
    shipped = set()
    for rel in files:
        for src in ("conformance/sa_conformance/", "fixtures/sa_fixtures/"):
            if rel.startswith(src):
                shipped.add(src.split("/", 1)[1] + rel[len(src):])
    return shipped


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Wheel and sdist built (with uv) from a copy of the checkout's files,
    so the build never writes into the working tree."""
    if ROOT is None:
        pytest.skip("needs the source checkout")
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists() and not shutil.which("uv"):
        pytest.skip("uv is not installed")
    tmp = tmp_path_factory.mktemp("build")
    src, dist = tmp / "src", tmp / "dist"
    files = _source_files(ROOT)
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    proc = subprocess.run(
        [uv, "build", "--sdist", "--wheel", "--out-dir", str(dist), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"uv build failed: {proc.stderr[-2000:]}"
    return {"wheel": next(dist.glob("*.whl")), "sdist": next(dist.glob("*.tar.gz")), "files": files}


@needs_checkout
def test_wheel_holds_every_file_of_both_packages(built: dict) -> None:
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    expected = {p for p in _package_files(built["files"]) if not p.endswith((".pyc", ".pyo"))}
    missing = sorted(expected - names)
    assert not missing, f"the wheel lacks {len(missing)} package file(s): {missing[:20]}"
    # the suite's own essentials, named (a glob typo above could hide them)
    for must in ("sa_conformance/suite/sa-conformance.ini", "sa_conformance/expectations.toml",
                 "sa_conformance/results.schema.json", "sa_conformance/claims/_catalogue.toml",
                 "sa_conformance/templates/matrix.html.j2", "sa_conformance/__main__.py"):
        assert must in names, f"the wheel lacks {must}"
    assert any(n.startswith("sa_conformance/suite/test_") for n in names), "the wheel holds no claim test"
    strays = sorted(n for n in names if n.startswith(("selftests/", "tests_provision/", "conformance/"))
                    or n.endswith("conftest.py"))
    assert not strays, f"the wheel ships harness self-tests or conftest files: {strays[:10]}"


@needs_checkout
def test_wheel_declares_no_pytest_plugin_entry_point(built: dict) -> None:
    wheel = zipfile.ZipFile(built["wheel"])
    entry = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(entry).decode()
    assert "[pytest11]" not in text, f"a pytest11 entry point would load our plugins into every pytest run:\n{text}"
    assert "sa-conformance = sa_conformance.cli:main" in text
    metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert any(
        line.startswith("Requires-Dist: cryptography") and "extra == \"mysql\"" in line for line in metadata.splitlines()
    ), "the mysql extra must pull in cryptography (MySQL 8.4 caching_sha2_password logins)"
    assert any(line.startswith("Requires-Dist: uv") and "extra" not in line for line in metadata.splitlines()), (
        "upgrade/bisect/history create their envs with uv: a plain install must bring it")


@needs_checkout
def test_sdist_holds_the_suite_and_the_self_tests(built: dict) -> None:
    with tarfile.open(built["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    files = built["files"]
    expected = {f for f in files if f.startswith(("conformance/", "fixtures/"))} | {"pyproject.toml", "tox.ini", "README.md"}
    missing = sorted(expected - names)
    assert not missing, f"the sdist lacks {len(missing)} file(s): {missing[:20]}"


STRANGER_TEST = '''
def test_uses_our_fixture(backend):
    pass

def test_plain():
    assert True
'''


def test_installing_the_package_changes_no_strangers_pytest_run(tmp_path: Path) -> None:
    """The package is importable here (editable or wheel), yet a project of
    somebody else's gets none of our options, fixtures or hooks."""
    assert (PACKAGE_DIR / "plugin.py").is_file()  # i.e. we really are installed in this interpreter
    project = tmp_path / "their_project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = \"-p no:cacheprovider\"\n")
    (project / "test_theirs.py").write_text(STRANGER_TEST)
    env = _clean_env()
    helped = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr[-1000:]
    for option in ("--backend", "--claim", "--results", "--require-backend", "--mysql-url", "--claims-dump"):
        assert option not in helped.stdout, f"{option} leaked into a stranger's pytest --help"
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "test_theirs.py"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=120)
    out = ran.stdout + ran.stderr
    assert "fixture 'backend' not found" in out, out[-2000:]
    assert "1 passed, 1 error" in out, out[-2000:]
    for ours in ("sa-conformance", "catalogue", "backends:", "leak"):
        assert ours not in out, f"our plugin's output ({ours!r}) appeared in a stranger's run:\n{out[-2000:]}"
    assert not (project / "reports").exists() and not (project / "sa-conformance-reports").exists()
