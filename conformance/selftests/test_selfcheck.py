"""Self-checks of the suite itself: the catalogue and the tests agree, and the
import names cannot be shadowed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sa_conformance.paths import SUITE_DIR

from sa_conformance.catalogue import coverage_problems

pytestmark = pytest.mark.selfcheck


def collected_claims(config: pytest.Config, tmp_path: Path) -> dict[str, list[str]]:
    """Collect the whole suite in a subprocess (so -k/-m/node-id filtering of
    this run cannot hide anything) and return {test: [claim ids]}."""
    dump = tmp_path / "claims.json"
    cmd = [
        sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
        f"--junitxml={tmp_path / 'junit.xml'}", "--backend", "sqlite-memory", f"--claims-dump={dump}",
        str(SUITE_DIR),
    ]
    proc = subprocess.run(cmd, cwd=config.rootpath, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"collection failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(dump.read_text())


def test_every_claim_has_a_test_and_every_test_a_known_claim(pytestconfig, catalogue, tmp_path):
    tests = collected_claims(pytestconfig, tmp_path)
    assert tests, "collection found no claim tests"
    problems = coverage_problems(catalogue, tests)
    assert not problems, "catalogue/test mismatch:\n  " + "\n  ".join(problems)


def test_coverage_check_rejects_gaps(catalogue):
    """The check above can fail: an uncovered claim, an unknown id and a
    claim-less test are each reported."""
    some = next(iter(catalogue)).id
    problems = coverage_problems(catalogue, {"t::a": ["no-such.claim"], "t::b": []})
    assert any("unknown claim 'no-such.claim'" in p for p in problems)
    assert any("t::b: cites no claim" in p for p in problems)
    assert any(p.startswith(f"{some}: no test checks it") for p in problems)


def test_import_names_do_not_shadow_pypi_packages():
    """Our packages are sa_conformance / sa_fixtures; nothing of ours is
    importable as `conformance` or `fixtures`."""
    import sa_conformance
    import sa_fixtures

    repo = Path(__file__).resolve().parents[2]
    assert Path(sa_conformance.__file__).resolve().is_relative_to(repo / "conformance")
    assert Path(sa_fixtures.__file__).resolve().is_relative_to(repo / "fixtures")
    for name in ("conformance", "fixtures"):
        mod = sys.modules.get(name)
        if mod is not None:
            origin = getattr(mod, "__file__", None) or str(getattr(mod, "__path__", ""))
            assert str(repo) not in str(origin), f"{name!r} resolves into this repo: {origin}"


def test_ci_scripts_import_only_names_that_exist(pytestconfig):
    """`.ci/run` and its helpers embed Python (`python - <<'PY'`): every `from sa_* import ...` there must
    resolve, or CI fails only at its very end (a renamed or moved helper)."""
    import importlib
    import re

    root = pytestconfig.rootpath
    scripts = sorted((root / ".ci").glob("*")) + [root / ".github" / "workflows" / "conformance.yml"]
    checked = 0
    for script in (p for p in scripts if p.is_file()):
        for module, names in re.findall(r"^\s*from (sa_(?:conformance|fixtures)[\w.]*) import ([\w, ]+)$",
                                        script.read_text(), flags=re.M):
            mod = importlib.import_module(module)
            missing = [n.strip() for n in names.split(",") if n.strip() and not hasattr(mod, n.strip())]
            assert not missing, f"{script.name}: {module} has no {', '.join(missing)}"
            checked += 1
    assert checked, "no embedded import found in .ci/ (the pattern no longer matches the scripts?)"
