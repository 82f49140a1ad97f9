"""Property: several real threads, each driving its own scope of one
thread-local scoped_session at the same time (every round releases all
threads through one barrier), against the shared database.  After every
round: each thread keeps its own Session (a new one only after its
remove()), no Session is shared, each thread sees its own flushed work and
none of the others' uncommitted work, and the rows an independent connection
sees are exactly what the threads committed."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import object_session, scoped_session, sessionmaker

from sa_conformance.attribution import attach_repro, attribute
from sa_conformance.models import Item, metadata
from sa_conformance.world.crew import CREW_SOURCE, Crew
from sa_conformance.world.machine import budget

N = 2
OPS = ("add", "flush", "commit", "rollback", "remove", "query", "noop")
THREAD_CLAIMS = (
    "threads.registry-is-a-scope-map", "threads.independent-transactions",
    "transactions.uncommitted-invisible-other-thread", "registry.distinct-sessions-across-threads",
    "registry.same-session-in-scope", "remove.other-scope-untouched",
)


class Scope:
    """The model of one thread's scope."""

    def __init__(self) -> None:
        self.pending: list[str] = []  # added, not flushed
        self.flushed: list[str] = []  # flushed, not committed
        self.connected = False
        self.read_in_txn = False  # a SELECT ran in this transaction (snapshot taken)
        self.stale = False  # another thread committed while this one was connected

    def end(self) -> None:
        self.pending, self.flushed = [], []
        self.connected = self.read_in_txn = self.stale = False


def make_machine(backend):
    write_lock = backend.has("database_write_lock")
    observer = backend.observer

    class ThreadWorld(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            backend.clear_tables(metadata)
            self.crew = Crew(N)
            self.reg = scoped_session(sessionmaker(bind=backend.engine))
            self.scopes = [Scope() for _ in range(N)]
            self.committed: list[str] = []
            self.sessions = [None] * N
            self.seen: list = []
            self.rounds: list[list[str]] = []
            self.names = 0

        def teardown(self):
            try:
                self.crew.round([self.reg.remove] * N)
            finally:
                self.crew.stop()

        def fail(self, claim_id: str, message: str, cause=None):
            script = repro(self.rounds, backend)
            exc = AssertionError(f"{message}\n[claim {claim_id}]\n\n--- standalone reproduction script ---\n{script}")
            attribute(exc, claim_id)
            attach_repro(exc, script)
            raise exc from cause

        def legal(self, i: int, op: str, writers: list) -> str:
            """The op thread ``i`` may run this round (else ``noop``): no two
            writers on a database-wide write lock, no write from a stale
            snapshot there."""
            sc = self.scopes[i]
            writes = op in ("flush", "commit", "query") and (sc.pending or (op == "commit" and sc.flushed))
            if writes and write_lock:
                others_open = any(s.connected for j, s in enumerate(self.scopes) if j != i) or writers
                if others_open or sc.stale:
                    return "noop" if op != "commit" or not sc.pending else "rollback"
            if writes:
                writers.append(i)
            return op

        @rule(ops=st.lists(st.sampled_from(OPS), min_size=N, max_size=N))
        def round(self, ops):
            writers: list = []
            ops = [self.legal(i, op, writers) for i, op in enumerate(ops)]
            names = []
            for op in ops:
                self.names += 1
                names.append(f"t{self.names}")
            self.rounds.append([f"{op}:{nm}" for op, nm in zip(ops, names)])
            fns = [self.step_fn(op, nm) for op, nm in zip(ops, names)]
            try:
                results = self.crew.round(fns)
            except AssertionError as exc:
                self.fail("threads.independent-transactions", f"round {len(self.rounds)} {ops}: {exc}", exc)
            self.before = list(self.committed)
            order = sorted(range(N), key=lambda i: ops[i] == "query")  # a read overlaps the round's commits
            for i in order:
                self.apply(i, ops[i], names[i], results[i])

        def step_fn(self, op, name):
            reg = self.reg

            def run():
                if op == "add":
                    reg.add(Item(name=name))
                elif op == "query":
                    return sorted(reg.scalars(select(Item.name)).all())
                elif op != "noop":
                    getattr(reg, op)()
                s = reg()
                return s, [object_session(o) is s for o in list(s.new) + list(s.identity_map.values())]
            return run

        def apply(self, i, op, name, result):
            sc = self.scopes[i]
            if op == "add":
                sc.pending.append(name)
            elif op == "flush":
                sc.flushed += sc.pending
                sc.pending = []
                sc.connected = sc.connected or bool(sc.flushed)
            elif op == "commit":
                done = sc.flushed + sc.pending
                self.committed += done
                if done:
                    for j, other in enumerate(self.scopes):
                        if j != i and other.connected:
                            other.stale = True
                sc.end()
            elif op in ("rollback", "remove"):
                sc.end()
                if op == "remove":
                    self.sessions[i] = None
            elif op == "query":
                sc.flushed += sc.pending
                sc.pending = []
                mine = set(sc.flushed)
                theirs = {n for j, s in enumerate(self.scopes) if j != i for n in s.flushed}
                with_claim = "transactions.uncommitted-invisible-other-thread"
                if not mine <= set(result):
                    self.fail("threads.independent-transactions", f"thread {i} does not see its own flushed rows {sorted(mine - set(result))}")
                if theirs & set(result):
                    self.fail(with_claim, f"thread {i} sees another thread's uncommitted rows {sorted(theirs & set(result))}")
                low, high = set(self.before + sc.flushed), set(self.committed + sc.flushed)
                if not sc.read_in_txn and not (low <= set(result) <= high and len(result) == len(set(result))):
                    self.fail("threads.independent-transactions",
                              f"thread {i}'s first read {result}: committed + its own is {sorted(low)} "
                              f"(or {sorted(high)} with this round's commits)")
                sc.read_in_txn = sc.connected = True

        @invariant()
        def scopes_hold_their_own_sessions(self):
            if not self.rounds:
                return
            got = self.crew.round([lambda: (self.reg(), [object_session(o) for o in self.reg().identity_map.values()])] * N)
            for i, (session, owners) in enumerate(got):
                if self.sessions[i] is None:
                    if any(session is old for old in self.seen):
                        self.fail("threads.registry-is-a-scope-map", f"thread {i} got an old Session back after remove()")
                    self.sessions[i] = session
                    self.seen.append(session)
                elif session is not self.sessions[i]:
                    self.fail("registry.same-session-in-scope", f"thread {i}'s Session changed without remove()")
                if any(o is not session for o in owners):
                    self.fail("threads.registry-is-a-scope-map", f"thread {i} holds objects of another Session")
            if got[0][0] is got[1][0]:
                self.fail("registry.distinct-sessions-across-threads", "two threads share one Session")
            with observer.connect() as conn:
                rows = sorted(r[0] for r in conn.exec_driver_sql("SELECT name FROM items"))
            if rows != sorted(self.committed):
                self.fail("threads.independent-transactions", f"committed rows {rows} != {sorted(self.committed)}")

    return ThreadWorld


def repro(rounds, backend) -> str:
    url = "sqlite:///threads_repro.db" if backend.spec.dialect == "sqlite" else backend.url.render_as_string(hide_password=True)
    lines = [
        '"""Reproduction generated by the sa-session-conformance thread world machine.',
        'Standalone: needs SQLAlchemy (and the DBAPI driver of the URL)."""',
        "from sqlalchemy import Column, Integer, String, create_engine, select",
        "from sqlalchemy.orm import registry, scoped_session, sessionmaker",
        CREW_SOURCE,
        "Base = registry().generate_base()",
        "class Item(Base):",
        '    __tablename__ = "items"',
        "    id = Column(Integer, primary_key=True, autoincrement=True)",
        "    name = Column(String(50), nullable=False)",
        f"engine = create_engine({url!r})  # password redacted: fill it in",
        "Base.metadata.drop_all(engine); Base.metadata.create_all(engine)",
        "reg = scoped_session(sessionmaker(bind=engine))",
        f"crew = Crew({N})",
        "def step(op, name):",
        "    def run():",
        "        if op == 'add': reg.add(Item(name=name))",
        "        elif op == 'query': return sorted(reg.scalars(select(Item.name)).all())",
        "        elif op != 'noop': getattr(reg, op)()",
        "        return reg()",
        "    return run",
    ]
    for n, r in enumerate(rounds, 1):
        calls = ", ".join(f"step({op!r}, {nm!r})" for op, nm in (x.split(":") for x in r))
        lines.append(f"print('round {n}', {r!r}, crew.round([{calls}]))")
    lines.append("crew.round([reg.remove] * crew.n); crew.stop()")
    return "\n".join(lines) + "\n"


@pytest.mark.property
@pytest.mark.claim(*THREAD_CLAIMS)
def test_threads_drive_their_own_scopes_at_once(db):
    """"a single Session is maintained for all who call upon the
    scoped_session registry, but only within the scope of a single thread"
    -- with the threads' steps really overlapping."""
    if not db.has("independent_connections"):
        pytest.skip("needs independent_connections: threads' transactions need their own DBAPI connections")
    run_state_machine_as_test(make_machine(db), settings=budget(8, 10))
