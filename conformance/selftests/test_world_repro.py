"""Self-checks of the world machine's failure output: the reproduction
script of a recorded walk is standalone, passes when SQLAlchemy behaves as
the model says, and names the first differing step (and claim) otherwise.

Every script generator writes its database from the backend's declaration
(``sa_conformance.repro_engine``), so these run on every ``--backend``: a
script replays a walk recorded on that backend, on the database it declares
for reproductions (a server's own test database: the schema is put back
afterwards)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from sa_fixtures.redaction import MASK

from sa_conformance.attribution import claim_of, repro_of
from sa_conformance.orm_models import metadata
from sa_conformance.repro_engine import ReproEngine
from sa_conformance.world import ops
from sa_conformance.world.scope_rules import ScopeRules

pytestmark = pytest.mark.selfcheck
WALK = settings(max_examples=3, stateful_step_count=12, database=None, derandomize=True, phases=(Phase.generate,),
                deadline=None)


def recorded(machine, attr: str) -> list:
    """The longest of a few walks of ``machine`` (its ``attr`` at teardown)."""
    walks: list = []

    class Recording(machine):
        def teardown(self):
            walks.append(list(getattr(self, attr)))
            super().teardown()

    run_state_machine_as_test(Recording, settings=WALK)
    return max(walks, key=len)


def recorded_walk(db) -> tuple[list, int]:
    """The steps of a scope-rules world walk and the ids its table had used."""
    walks: list = []

    class Recording(ScopeRules):
        backend = db

        def teardown(self):
            walks.append((list(self.steps), self.ids_used))
            super().teardown()

    run_state_machine_as_test(Recording, settings=WALK)
    return max(walks, key=lambda w: len(w[0]))


def suite_module(name: str):
    """A claim-test module (they live in a directory without ``__init__``)."""
    return importlib.import_module(f"sa_conformance.suite.{name}")


@pytest.fixture
def repro_engine(db):
    """What ``db`` declares for reproduction scripts; the schema is put back
    afterwards (a server's script runs on the run's own test database)."""
    engine = ReproEngine.of(db)
    if MASK in engine.url:
        pytest.skip("the declared reproduction URL has a redacted password: the script cannot connect as is")
    yield engine
    metadata.create_all(db.engine)


def run_script(tmp_path, text):
    path = tmp_path / "repro.py"
    path.write_text(text)
    return subprocess.run([sys.executable, "-I", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_world_repro_script_replays_a_walk(db, repro_engine, tmp_path):
    from sa_conformance.world.repro import render_script

    steps, used = recorded_walk(db)
    assert len(steps) > 5
    script = render_script(steps, engine=repro_engine, ids_used=used)
    assert "sa_conformance" not in script and "sa_fixtures" not in script
    proc = run_script(tmp_path, script)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "OK: every step behaved as documented" in proc.stdout
    code, exp = steps[-1]
    wrong = dict(exp, states=["never"] * len(exp["states"]))
    proc = run_script(tmp_path, render_script(steps[:-1] + [(code, wrong)], engine=repro_engine, ids_used=used))
    assert proc.returncode != 0 and f"step {len(steps)}: " in proc.stderr, proc.stderr[-2000:]


def test_state_machine_repro_script_replays_a_walk(db, repro_engine, tmp_path):
    """The Session state machine's script (``state_repro``), committed rows
    read mid-transaction included where the backend has independent connections."""
    from sa_conformance.state_repro import render_script

    steps = recorded(suite_module("test_states_machine").build_machine(db), "steps")
    assert len(steps) > 5
    script = render_script(steps, engine=repro_engine)
    assert "sa_conformance" not in script and "sa_fixtures" not in script
    proc = run_script(tmp_path, script)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "OK: every step behaved as documented" in proc.stdout


def test_thread_world_repro_script_replays_its_rounds(db, repro_engine, tmp_path):
    """The thread world's script runs its rounds on real threads, on the declared database."""
    mod = suite_module("test_world_threads")
    rounds = recorded(mod.make_machine(db), "rounds")
    assert rounds
    proc = run_script(tmp_path, mod.repro(rounds, db))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"round {len(rounds)}" in proc.stdout


@pytest.mark.parametrize("in_savepoint", [False, True], ids=["plain", "in-savepoint"])
def test_join_repro_script_reproduces_the_walk(db, repro_engine, tmp_path, in_savepoint):
    """The join-mode property's script (default join_transaction_mode, on a
    Connection in a plain transaction or inside a SAVEPOINT) ends with the
    rows the model documents, on the database the backend declares."""
    if in_savepoint and not db.has("savepoints"):
        pytest.skip("needs savepoints")
    mod = suite_module("test_world_join_properties")
    model, steps = mod.Joined(None, in_savepoint), []
    for n, op in enumerate(["add", "flush", "commit", "add", "flush", "rollback", "add", "commit"]):
        if model.over:  # (the property stops the walk there too)
            break
        steps.append((n, op))
        if op == "add":
            model.add(f"j{n}")
        else:
            getattr(model, op)()
    model.end(True)
    proc = run_script(tmp_path, mod.repro(repro_engine, None, in_savepoint, steps, True))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"rows: {sorted(model.committed)!r}" in proc.stdout, proc.stdout[-2000:]


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
