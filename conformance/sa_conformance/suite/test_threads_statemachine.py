"""Property-based: the registry against a reference model of "scope -> Session",
driven on long-lived real worker threads (and request tokens)."""

import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy.exc import InvalidRequestError

from sa_fixtures.backends import BACKENDS

from sa_conformance.attribution import attach_repro, attribute
from sa_conformance.orm_models import metadata
from sa_conformance.scoping_harness import HARNESSES, scope_mode  # noqa: F401  (fixture)
from sa_conformance.scoping_model import ScopeModel, reproduction_script
from sa_conformance.world.machine import budget

N_SCOPES = 3
scopes = st.integers(min_value=0, max_value=N_SCOPES - 1)
MODES = ("thread-local", "scopefunc")
#: the claims most observations contradict (each failure names exactly one)
SCOPE_MAP = "threads.registry-is-a-scope-map"
SAME_IN_SCOPE = "registry.same-session-in-scope"


def make_machine(backend, mode):
    can_flush = backend.has("concurrent_writers")
    url, engine_kw = backend.repro_source()  # declared per backend: URL (no password), engine keywords
    setup = backend.spec.repro_engine_setup  # ... and the engine's setup (the pysqlite explicit BEGIN)

    class RegistryMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            backend.clear_tables(metadata)
            self.h = HARNESSES[mode](backend)
            self.model = ScopeModel()
            self.by_gen = {}  # model generation -> the Session object handed out
            self.scope_of = {}  # model generation -> the scope it was handed out in
            self.names = 0

        # -- helpers ---------------------------------------------------------------
        def fail(self, message, claim_id=None):
            """Stop at the first observation that differs from the model, naming
            the claim it contradicts and carrying the standalone script."""
            script = reproduction_script(self.model.steps, mode, url, engine_kw, setup)
            note(script)
            exc = attach_repro(AssertionError(message), script)
            raise attribute(exc, claim_id) if claim_id else exc

        def bind(self, expect, session, k):
            kind, gen = expect
            if kind == "new":
                old = [g for g, s in self.by_gen.items() if s is session]
                if old:  # its own removed Session again, or another scope's
                    same = self.scope_of.get(old[0]) == k
                    self.fail(f"scope {k} got an old Session back where a new one was expected ({expect})",
                              "remove.next-call-new-session" if same else "registry.distinct-sessions-across-scopes")
                self.by_gen[gen] = session
                self.scope_of[gen] = k
            elif kind == "existing" and session is not self.by_gen[gen]:
                self.fail(f"registry returned a different Session within one scope ({expect})", SAME_IN_SCOPE)

        def implicit(self, k, expect):
            """After a proxied use, the scope must hold the expected Session."""
            session = self.h.current(k)
            if session is None:
                self.fail(f"scope {k}: proxy use did not leave a Session in the scope", SCOPE_MAP)
            self.bind(expect, session, k)

        def guarded(self, k, fn):
            try:
                return fn()
            except AssertionError:
                raise
            except Exception as exc:
                self.fail(f"scope {k}: unexpected {type(exc).__name__}: {exc}")

        # -- rules -------------------------------------------------------------------
        @rule(k=scopes)
        def call(self, k):
            expect = self.model.call(k)
            note(f"call({k}) -> {expect}")
            self.bind(expect, self.guarded(k, lambda: self.h.call(k)), k)

        @rule(k=scopes, tag=st.integers(min_value=0, max_value=99))
        def call_with_kwargs(self, k, tag):
            info = {"tag": tag}
            expect = self.model.call_kwargs(k, info)
            note(f"call_kwargs({k}, info={info}) -> {expect}")
            if expect[0] == "raises":
                try:
                    self.h.call(k, info=info)
                except InvalidRequestError as exc:
                    if "Scoped session is already present; no new arguments may be specified." not in str(exc):
                        self.fail(f"wrong message: {exc}", "reargs.present-raises")
                    return
                self.fail(f"scope {k}: arguments while a Session is present did not raise", "reargs.present-raises")
            session = self.guarded(k, lambda: self.h.call(k, info=info))
            self.bind(expect, session, k)
            if session.info != info:
                self.fail(f"scope {k}: first-call kwargs did not reach the factory (info={session.info})",
                          "reargs.first-call-kwargs-reach-factory")

        @rule(k=scopes)
        def remove(self, k):
            expect = self.model.remove(k)
            note(f"remove({k}) -> {expect}")
            old = self.by_gen.get(expect[1])
            self.guarded(k, lambda: self.h.remove(k))
            if old is not None and old.in_transaction():
                self.fail(f"scope {k}: remove() did not close the Session", "remove.closes-session")

        @rule(k=scopes)
        def add_user(self, k):
            self.names += 1
            name = f"u{self.names}"
            expect = self.model.add(k, name)
            note(f"add({k}, {name!r}) -> {expect}")
            self.guarded(k, lambda: self.h.add_user(k, name))
            self.implicit(k, expect)

        @rule(k=scopes)
        def commit(self, k):
            expect = self.model.commit(k)
            note(f"commit({k}) -> {expect}")
            self.guarded(k, lambda: self.h.commit(k))
            self.implicit(k, expect)

        @rule(k=scopes)
        def rollback(self, k):
            expect = self.model.rollback(k)
            note(f"rollback({k}) -> {expect}")
            self.guarded(k, lambda: self.h.rollback(k))
            self.implicit(k, expect)

        @precondition(lambda self: can_flush)
        @rule(k=scopes)
        def flush(self, k):
            expect = self.model.flush(k)
            note(f"flush({k}) -> {expect}")
            self.guarded(k, lambda: self.h.flush(k))
            self.implicit(k, expect)

        # -- checks ------------------------------------------------------------------
        @invariant()
        def registry_matches_model(self):
            held = []
            for k in range(N_SCOPES):
                if not self.model.steps and k not in self.model.sessions:
                    continue
                present = self.h.has(k)
                if present != self.model.present(k):
                    self.fail(f"scope {k}: has() is {present}, the model says {self.model.present(k)}",
                              "registry.has-reflects-presence")
                if present:
                    session = self.h.current(k)
                    if session is not self.by_gen[self.model.generation(k)]:
                        self.fail(f"scope {k}: the registered Session changed without remove()", SAME_IN_SCOPE)
                    held.append(session)
            for i in range(len(held)):
                for j in range(i + 1, len(held)):
                    if held[i] is held[j]:
                        self.fail("two scopes share one Session", "registry.distinct-sessions-across-scopes")
            rows = self.h.rows()
            if rows != self.model.rows():
                self.fail(f"database rows {rows} != committed per the model {self.model.rows()}",
                          "threads.independent-transactions")

        def teardown(self):
            self.h.close()

    return RegistryMachine


@pytest.mark.property
@pytest.mark.parametrize("scope_mode", MODES, indirect=True)
@pytest.mark.claim(
    "threads.registry-is-a-scope-map",
    "threads.independent-transactions",
    "registry.same-session-in-scope",
    "registry.distinct-sessions-across-scopes",
    "reargs.present-raises",
    "reargs.first-call-kwargs-reach-factory",
    "remove.next-call-new-session",
    "remove.closes-session",
    "registry.has-reflects-presence",
)
def test_registry_behaves_as_a_scope_map(db, scope_mode):
    """"a single Session is maintained for all who call upon the scoped_session
    registry, but only within the scope of a single thread" -- checked against
    a reference model over random step sequences on real threads."""
    run_state_machine_as_test(make_machine(db, scope_mode), settings=budget(10, 15))


def test_reproduction_script_runs(tmp_path):
    """Self-check of the failure output: a generated script is valid Python
    and replays a sequence against a real SQLite file."""
    import subprocess
    import sys

    model = ScopeModel()
    model.call(0)
    model.call_kwargs(1, {"tag": 1})
    model.call_kwargs(0, {"tag": 2})
    model.add(1, "u1")
    model.commit(1)
    model.add(2, "u2")
    model.remove(2)
    model.remove(0)
    model.call(0)
    for mode in MODES:
        script = reproduction_script(model.steps, mode, f"sqlite:///{tmp_path / 'r.db'}",
                                     ', connect_args={"check_same_thread": False}', BACKENDS["sqlite-file"].repro_engine_setup)
        path = tmp_path / f"repro_{mode}.py"
        path.write_text(script)
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "all steps behaved as documented" in proc.stdout


test_reproduction_script_runs = pytest.mark.selfcheck(test_reproduction_script_runs)
