"""Self-check: every claim family in the catalogue has at least one
property-based test (``@pytest.mark.property``) citing one of its claims,
and every property test cites claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sa_conformance.paths import SUITE_DIR

pytestmark = pytest.mark.selfcheck


def property_tests(config: pytest.Config, tmp_path: Path) -> dict[str, list[str]]:
    """{property test: [claim ids]}, collected in a subprocess with
    ``-m property`` (so this run's own selection cannot hide anything)."""
    dump = tmp_path / "property-claims.json"
    cmd = [
        sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "property",
        f"--junitxml={tmp_path / 'junit.xml'}", "--backend", "sqlite-memory", f"--claims-dump={dump}",
        str(SUITE_DIR),
    ]
    proc = subprocess.run(cmd, cwd=config.rootpath, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 5), f"collection failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(dump.read_text()) if dump.exists() else {}


def families_without_property(catalogue, tests: dict[str, list[str]]) -> list[str]:
    covered = {catalogue[cid].family for ids in tests.values() for cid in ids if cid in catalogue}
    return sorted(set(catalogue.by_family()) - covered)


def test_every_family_has_a_property_test(pytestconfig, catalogue, tmp_path):
    tests = property_tests(pytestconfig, tmp_path)
    assert tests, "no test carries @pytest.mark.property"
    missing = families_without_property(catalogue, tests)
    assert not missing, (
        "claim families with no property-based test (@pytest.mark.property citing one of their claims): "
        + ", ".join(missing)
    )
    claimless = sorted(t for t, ids in tests.items() if not ids)
    assert not claimless, "property tests citing no claim: " + ", ".join(claimless)


def test_family_check_reports_a_gap(catalogue):
    """The check above can fail: a family whose claims no property cites is named."""
    some = next(iter(catalogue))
    others = [c.id for c in catalogue if c.family != some.family]
    assert families_without_property(catalogue, {"t::p": others}) == [some.family]
