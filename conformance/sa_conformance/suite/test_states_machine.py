"""A hypothesis state machine drives a real Session through random sequences
of documented operations and, after every step, compares it with the pure
Python reference model in ``sa_conformance.state_model``.

On a mismatch the assertion message (and hypothesis' ``note()``) carries a
standalone reproduction script built by ``sa_conformance.state_repro``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test
from sqlalchemy import inspect
from sqlalchemy.orm import Session, object_session

from sa_conformance.orm_models import Item, metadata
from sa_conformance.state_model import Model
from sa_conformance.attribution import attach_repro, attribute
from sa_conformance.repro_engine import ReproEngine
from sa_conformance.state_repro import render_script
from sa_conformance.world.machine import budget

pick = st.integers(min_value=0, max_value=10**6)


def build_machine(backend):
    """The machine class for one backend (hypothesis builds a fresh instance
    per example)."""
    independent = backend.has("independent_connections")
    # A pooled second engine: each read is a fresh transaction on a connection
    # the Session never uses (NullPool would pay a connect per step).
    observer = backend.observer  # the shared engine where connections are not independent

    def committed_rows() -> list[tuple]:
        with observer.connect() as conn:
            return sorted(tuple(r) for r in conn.exec_driver_sql("SELECT id, name FROM items"))
    # the script's database: the backend's declared URL (no password), engine keywords and setup
    repro_engine = ReproEngine.of(backend)

    class SessionStateMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            backend.clear_tables(metadata)
            self.session = Session(bind=backend.engine)
            self.model = Model()
            self.objs: list[Item] = []
            self.steps: list[tuple[str, dict]] = []
            self.counter = 0

        def teardown(self) -> None:
            self.session.close()

        # -- helpers ---------------------------------------------------------
        def fresh_name(self) -> str:
            self.counter += 1
            return f"n{self.counter}"

        def choose(self, can, i: int):
            candidates = [o for o in self.model.objs if can(o)]
            return candidates[i % len(candidates)]

        def pending_ids(self, pending) -> dict[int, int]:
            out = {}
            for o in pending:
                key = inspect(self.objs[o.idx]).key
                out[o.idx] = key[1][0] if key else None
            return out

        def expected(self) -> dict:
            m = self.model
            exp = {
                "states": [o.status for o in m.objs],
                "new": sorted(o.idx for o in m.new()),
                "dirty": sorted(o.idx for o in m.dirty_set()),
                "deleted": sorted(o.idx for o in m.deleted_set()),
                "identity_map": sorted(o.idx for o in m.objs if o.status == "persistent"),
                "unloaded": sorted(o.idx for o in m.objs if not o.loaded),
                "in_transaction": m.in_txn,
            }
            if independent or not m.in_txn:
                exp["rows"] = sorted(m.committed.values())
            return exp

        def indexes(self, collection) -> list:
            out = []
            for x in collection:
                found = [i for i, o in enumerate(self.objs) if o is x]
                out.append(found[0] if found else "untracked")
            return sorted(out, key=lambda v: (isinstance(v, str), v if isinstance(v, int) else -1))

        def observe(self, exp: dict) -> dict:
            s = self.session
            got = {
                "states": [
                    "+".join(n for n in ("transient", "pending", "persistent", "deleted", "detached")
                             if getattr(inspect(o), n)) or "none"
                    for o in self.objs
                ],
                "new": self.indexes(s.new),
                "dirty": self.indexes(s.dirty),
                "deleted": self.indexes(s.deleted),
                "identity_map": self.indexes(s.identity_map.values()),
                "unloaded": [i for i, o in enumerate(self.objs) if "name" not in inspect(o).dict],
                "in_transaction": s.in_transaction(),
            }
            if "rows" in exp:
                self.rows = committed_rows()
                got["rows"] = sorted(r[1] for r in self.rows)
            return got

        def step(self, code: str) -> None:
            exp = self.expected()
            self.steps.append((code, exp))
            got = self.observe(exp)
            problems = [f"  {k}: model {exp[k]!r}, SQLAlchemy {got[k]!r}" for k in exp if got[k] != exp[k]]
            # Stronger checks the portable script leaves out: object_session()
            # agrees with the state, identity keys carry the model's ids and
            # the committed rows carry the model's (id, name) pairs.
            for o in self.model.objs:
                attached = object_session(self.objs[o.idx]) is self.session
                if attached != (o.status in ("pending", "persistent", "deleted")):
                    problems.append(f"  object_session(objs[{o.idx}]) is session: {attached} (state {o.status})")
            keys = sorted(k[1][0] for k in self.session.identity_map.keys())
            want = sorted(self.model.identity_keys())
            if keys != want:
                problems.append(f"  identity_map keys: model {want!r}, SQLAlchemy {keys!r}")
            if "rows" in exp:
                rows = self.rows
                if rows != sorted(self.model.committed.items()):
                    problems.append(f"  committed rows: model {sorted(self.model.committed.items())!r}, db {rows!r}")
            if problems:
                script = render_script(
                    self.steps,
                    engine=repro_engine,
                    title="SQLAlchemy Session state machine: documented behaviour not observed",
                    details=[f"backend: {backend.name}", f"first difference at step {len(self.steps)}: {code}"],
                )
                note(script)
                exc = AssertionError(f"after step {len(self.steps)} ({code}):\n" + "\n".join(problems))
                raise attribute(attach_repro(exc, script), CLAIM)

        # -- rules -------------------------------------------------------------
        @initialize(committed=st.integers(0, 2), pending=st.integers(0, 2))
        def start(self, committed, pending):
            """Begin each walk with some persistent and some pending objects, so
            short walks already reach the interesting transitions."""
            for _ in range(committed):
                self.new_object()
                self._add(self.model.objs[-1])
            if committed:
                self.commit()
            for _ in range(pending):
                self.new_object()
                self._add(self.model.objs[-1])

        def busy(self) -> bool:
            return self.model.in_txn or bool(self.model.attached())

        @rule()
        def new_object(self):
            name = self.fresh_name()
            self.objs.append(Item(name=name))
            self.model.new_object(name)
            self.step(f"objs.append(Item(name={name!r}))")

        @precondition(lambda self: any(self.model.can_add(o) for o in self.model.objs))
        @rule(i=pick)
        def add(self, i):
            self._add(self.choose(self.model.can_add, i))

        def _add(self, o):
            self.session.add(self.objs[o.idx])
            self.model.add(o)
            self.step(f"session.add(objs[{o.idx}])")

        @precondition(lambda self: self.busy())
        @rule()
        def flush(self):
            pending = self.model.new()
            self.session.flush()
            self.model.flush(self.pending_ids(pending))
            self.step("session.flush()")

        @precondition(lambda self: self.busy())
        @rule()
        def commit(self):
            pending = self.model.new()
            self.session.commit()
            self.model.commit(self.pending_ids(pending))
            self.step("session.commit()")

        @precondition(lambda self: self.busy())
        @rule()
        def rollback(self):
            self.session.rollback()
            self.model.rollback()
            self.step("session.rollback()")

        @precondition(lambda self: any(self.model.can_delete(o) for o in self.model.objs))
        @rule(i=pick)
        def delete(self, i):
            o = self.choose(self.model.can_delete, i)
            self.session.delete(self.objs[o.idx])
            self.model.delete(o)
            self.step(f"session.delete(objs[{o.idx}])")

        @precondition(lambda self: any(self.model.can_expunge(o) for o in self.model.objs))
        @rule(i=pick)
        def expunge(self, i):
            o = self.choose(self.model.can_expunge, i)
            self.session.expunge(self.objs[o.idx])
            self.model.expunge(o)
            self.step(f"session.expunge(objs[{o.idx}])")

        @precondition(lambda self: self.busy() and self.model.can_expunge_all())
        @rule()
        def expunge_all(self):
            self.session.expunge_all()
            self.model.expunge_all()
            self.step("session.expunge_all()")

        @precondition(lambda self: self.busy() and self.model.can_close())
        @rule()
        def close(self):
            self.session.close()
            self.model.close()
            self.step("session.close()")

        @precondition(lambda self: any(self.model.can_merge(o) for o in self.model.objs))
        @rule(i=pick)
        def merge(self, i):
            o = self.choose(self.model.can_merge, i)
            src = self.objs[o.idx]
            pending = self.model.new()
            got = self.session.merge(src)
            before = len(self.model.objs)
            m = self.model.merge(o, before, self.pending_ids(pending))
            if m.idx == before:  # the model says: a new instance
                self.objs.append(got)
                code = (
                    f"m = session.merge(objs[{o.idx}])\n"
                    "assert all(m is not o for o in objs), 'merge() returned an instance it already had'\n"
                    "objs.append(m)"
                )
                ok = all(got is not x for x in self.objs[:-1])
            else:
                code = f"assert session.merge(objs[{o.idx}]) is objs[{m.idx}], 'merge() returned the wrong instance'"
                ok = got is self.objs[m.idx]
            if not ok:
                self.steps.append((code, {}))
                script = render_script(self.steps, engine=repro_engine, details=[f"backend: {backend.name}"])
                note(script)
                exc = AssertionError(f"step {len(self.steps)}: merge(objs[{o.idx}]) returned the wrong instance")
                raise attribute(attach_repro(exc, script), CLAIM)
            self.step(code)

        @precondition(lambda self: any(self.model.can_expire(o) for o in self.model.objs))
        @rule(i=pick)
        def expire(self, i):
            o = self.choose(self.model.can_expire, i)
            self.session.expire(self.objs[o.idx])
            self.model.expire(o)
            self.step(f"session.expire(objs[{o.idx}])")

        @precondition(lambda self: any(self.model.can_refresh(o) for o in self.model.objs))
        @rule(i=pick)
        def refresh(self, i):
            o = self.choose(self.model.can_refresh, i)
            self.session.refresh(self.objs[o.idx])
            self.model.refresh(o)
            self.step(f"session.refresh(objs[{o.idx}])")

        @precondition(lambda self: any(self.model.can_rename(o) for o in self.model.objs))
        @rule(i=pick)
        def rename(self, i):
            o = self.choose(self.model.can_rename, i)
            name = self.fresh_name()
            self.objs[o.idx].name = name
            self.model.rename(o, name)
            self.step(f"objs[{o.idx}].name = {name!r}")

    return SessionStateMachine


CLAIM = "states.model-random-walk"


@pytest.mark.property
@pytest.mark.claim(CLAIM)
def test_session_matches_reference_model_after_every_step(db):
    """Any sequence of add/flush/commit/rollback/delete/expunge/expunge_all/
    close/merge/expire/refresh/attribute-set leaves every object's state, the
    Session's new/dirty/deleted/identity map and the committed rows as the
    State Management documentation describes."""
    run_state_machine_as_test(build_machine(db), settings=budget(10, 15))


# -- the reproduction generator itself -------------------------------------------
SMALL_WALK = [
    ("objs.append(Item(name='a'))", {"states": ["transient"], "new": [], "in_transaction": False, "rows": []}),
    ("session.add(objs[0])", {"states": ["pending"], "new": [0], "identity_map": [], "in_transaction": True}),
    ("session.commit()", {"states": ["persistent"], "new": [], "identity_map": [0], "unloaded": [0],
                          "in_transaction": False, "rows": ["a"]}),
    ("session.delete(objs[0])", {"states": ["persistent"], "deleted": [0], "in_transaction": True}),
    ("session.commit()", {"states": ["detached"], "deleted": [], "identity_map": [], "rows": []}),
]


@pytest.mark.selfcheck
def test_repro_script_is_standalone_and_runs(tmp_path):
    """The generated script imports nothing from this project, runs in a
    fresh interpreter and passes when SQLAlchemy behaves as documented."""
    script = render_script(SMALL_WALK)
    assert "sa_conformance" not in script and "sa_fixtures" not in script
    path = tmp_path / "repro.py"
    path.write_text(script)
    proc = subprocess.run([sys.executable, "-I", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: every step behaved as documented" in proc.stdout


@pytest.mark.selfcheck
def test_repro_script_reports_the_first_differing_step(tmp_path):
    """A wrong expectation makes the script fail, naming the step."""
    walk = list(SMALL_WALK)
    walk[2] = (walk[2][0], dict(walk[2][1], states=["detached"]))
    path = tmp_path / "repro.py"
    path.write_text(render_script(walk))
    proc = subprocess.run([sys.executable, "-I", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "step 3: session.commit()" in proc.stderr
    assert "states: documented ['detached'], observed ['persistent']" in proc.stderr


@pytest.mark.selfcheck
def test_repro_script_redacts_server_password():
    script = render_script(SMALL_WALK, engine=ReproEngine("mysql+pymysql://root:s3cret@db.example:3306/test"))
    assert "s3cret" not in script and "***" in script and "fill it in" in script
