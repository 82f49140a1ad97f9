"""Self-checks of the world machine's failure output: the reproduction
script of a recorded walk is standalone, passes when SQLAlchemy behaves as
the model says, and names the first differing step (and claim) otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from sa_conformance.attribution import claim_of, repro_of
from sa_conformance.world import ops
from sa_conformance.world.scope_rules import ScopeRules

pytestmark = pytest.mark.selfcheck


def recorded_walk(db) -> list:
    walks: list = []

    class Recording(ScopeRules):
        backend = db

        def teardown(self):
            walks.append(list(self.steps))
            super().teardown()

    run_state_machine_as_test(Recording, settings=settings(max_examples=3, stateful_step_count=12, database=None,
                                                           derandomize=True, phases=(Phase.generate,), deadline=None))
    return max(walks, key=len)


def run_script(tmp_path, text):
    path = tmp_path / "repro.py"
    path.write_text(text)
    return subprocess.run([sys.executable, "-I", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_world_repro_script_replays_a_walk(sqlite_memory_db, tmp_path):
    from sa_conformance.world.repro import render_script

    steps = recorded_walk(sqlite_memory_db)
    assert len(steps) > 5
    script = render_script(steps)
    assert "sa_conformance" not in script and "sa_fixtures" not in script
    proc = run_script(tmp_path, script)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "OK: every step behaved as documented" in proc.stdout
    code, exp = steps[-1]
    wrong = dict(exp, states=["never"] * len(exp["states"]))
    proc = run_script(tmp_path, render_script(steps[:-1] + [(code, wrong)]))
    assert proc.returncode != 0 and f"step {len(steps)}: " in proc.stderr, proc.stderr[-2000:]


def test_a_contradiction_names_its_claim_and_carries_the_script(sqlite_memory_db, monkeypatch):
    """A model that contradicts SQLAlchemy (commit predicted not to persist)
    fails the walk with the claim of the step and a reproduction script."""
    original = ops.commit

    def wrong_commit(w, s, ids):
        saved = dict(w.committed)
        out = original(w, s, ids)
        w.committed = saved
        return out
    monkeypatch.setattr(ops, "commit", wrong_commit)
    with pytest.raises(AssertionError) as info:
        recorded_walk(sqlite_memory_db)
    assert claim_of(info.value) == "transactions.commit-persists"
    assert "check(" in repro_of(info.value)


@pytest.fixture
def sqlite_memory_db(db):
    if db.has("independent_connections"):
        pytest.skip("self-check runs on the single-connection backend only")
    return db
