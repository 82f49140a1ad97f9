"""Property: several real threads, each driving its own scope of one
thread-local scoped_session at the same time (every round releases all
threads through one barrier), against the shared database.  After every
round: each thread keeps its own Session (a new one only after its
remove()), no Session is shared, keyword arguments are refused while the
thread's Session is present and reach the factory when it is not, each
thread sees its own flushed work and none of the others' uncommitted work,
the rows an independent connection sees are exactly what the threads
committed, and a thread that ends without remove() leaves its Session to the
garbage collector.

Backends without independent connections (one shared DBAPI connection) run
the registry steps only (no SQL): the registry's behaviour does not depend
on the database."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import object_session, scoped_session, sessionmaker

from sa_conformance.attribution import attach_repro, attribute
from sa_conformance.orm_models import Item, metadata
from sa_conformance.repro_engine import ReproEngine
from sa_conformance.world.crew import CREW_SOURCE, Crew
from sa_conformance.world.machine import budget

N = 2
OPS = ("add", "flush", "commit", "rollback", "remove", "query", "reargs", "noop")
#: the steps that emit no SQL (all a backend with one shared DBAPI connection runs)
REGISTRY_OPS = ("add", "rollback", "remove", "reargs", "noop")
THREAD_CLAIMS = (
    "threads.registry-is-a-scope-map", "threads.independent-transactions", "threads.storage-gone-with-thread",
    "transactions.uncommitted-invisible-other-thread", "registry.distinct-sessions-across-threads",
    "registry.same-session-in-scope", "remove.other-scope-untouched", "reargs.present-raises",
    "reargs.allowed-after-remove",
)

#: one thread's step, run by the machine and embedded in the reproduction script
STEP_SOURCE = r'''
from sqlalchemy import exc as sa_exc

ALREADY = "Scoped session is already present; no new arguments may be specified."


def step(reg, op, name, r):
    """Run ``op`` through the registry; return what the thread observed."""
    if op == "add":
        reg.add(Item(name=name))
    elif op == "query":
        return sorted(reg.scalars(select(Item.name)).all())
    elif op == "reargs":
        try:
            s = reg(info={"round": r})
        except sa_exc.InvalidRequestError as e:
            return ("refused", str(e) == ALREADY)
        return ("made", dict(s.info))
    elif op != "noop":
        getattr(reg, op)()
    return None


def holding(reg):
    """The thread's Session (None when its scope is empty, creating nothing)
    and, for each object it holds, whether object_session() names it."""
    if not reg.registry.has():
        return None, []
    s = reg()
    return s, [object_session(o) is s for o in list(s.new) + list(s.identity_map.values())]
'''


class Scope:
    """The model of one thread's scope."""

    def __init__(self) -> None:
        self.present = False  # a Session is in the scope
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
    registry_only = not backend.has("independent_connections")
    observer = backend.observer
    ns: dict = {"Item": Item, "select": select, "object_session": object_session}
    exec(STEP_SOURCE, ns)

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
            """The op thread ``i`` may run this round (else ``noop``): no SQL
            on a shared connection, no two writers on a database-wide write
            lock, no write from a stale snapshot there."""
            sc = self.scopes[i]
            if registry_only and op not in REGISTRY_OPS:
                return "noop"
            writes = op in ("flush", "commit", "query") and (sc.pending or (op == "commit" and sc.flushed))
            if writes and write_lock:
                others_open = any(s.connected for j, s in enumerate(self.scopes) if j != i) or writers
                if others_open or sc.stale:
                    return "noop" if op != "commit" or not sc.pending else "rollback"
            if writes:
                writers.append(i)
            return op

        @rule(ops=st.lists(st.sampled_from(REGISTRY_OPS if registry_only else OPS), min_size=N, max_size=N))
        def round(self, ops):
            writers: list = []
            ops = [self.legal(i, op, writers) for i, op in enumerate(ops)]
            names = []
            for _ in ops:
                self.names += 1
                names.append(f"t{self.names}")
            r = len(self.rounds) + 1
            self.rounds.append([f"{op}:{nm}" for op, nm in zip(ops, names)])
            fns = [lambda op=op, nm=nm: ns["step"](self.reg, op, nm, r) for op, nm in zip(ops, names)]
            try:
                results = self.crew.round(fns)
            except AssertionError as exc:
                self.fail("threads.independent-transactions", f"round {r} {ops}: {exc}", exc)
            self.before = list(self.committed)
            order = sorted(range(N), key=lambda i: ops[i] == "query")  # a read overlaps the round's commits
            for i in order:
                self.apply(i, ops[i], names[i], results[i], r)

        def apply(self, i, op, name, result, r):
            sc = self.scopes[i]
            if op == "reargs":
                self.check_reargs(i, result, r)
            elif op == "remove":
                sc.end()
                sc.present, self.sessions[i] = False, None
            elif op != "noop":
                sc.present = True  # a proxied method creates the Session when absent
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
            elif op == "rollback":
                sc.end()
            elif op == "query":
                self.check_read(i, sc, result)

        def check_reargs(self, i, result, r):
            """"Scoped session is already present; no new arguments may be
            specified" -- and with the thread's scope empty the arguments
            reach the factory."""
            sc = self.scopes[i]
            if sc.present:
                if result != ("refused", True):
                    self.fail("reargs.present-raises", f"thread {i}: reg(info=...) with its Session present gave {result!r}")
                return
            if result != ("made", {"round": r}):
                self.fail("reargs.allowed-after-remove", f"thread {i}: reg(info=...) with an empty scope gave {result!r}")
            sc.present = True

        def check_read(self, i, sc, result):
            sc.flushed += sc.pending
            sc.pending = []
            mine = set(sc.flushed)
            theirs = {n for j, s in enumerate(self.scopes) if j != i for n in s.flushed}
            if not mine <= set(result):
                self.fail("threads.independent-transactions",
                          f"thread {i} does not see its own flushed rows {sorted(mine - set(result))}")
            if theirs & set(result):
                self.fail("transactions.uncommitted-invisible-other-thread",
                          f"thread {i} sees another thread's uncommitted rows {sorted(theirs & set(result))}")
            low, high = set(self.before + sc.flushed), set(self.committed + sc.flushed)
            if not sc.read_in_txn and not (low <= set(result) <= high and len(result) == len(set(result))):
                self.fail("threads.independent-transactions",
                          f"thread {i}'s first read {result}: committed + its own is {sorted(low)} "
                          f"(or {sorted(high)} with this round's commits)")
            if not sc.read_in_txn and not set(self.committed) - set(self.before) <= set(result):
                # its snapshot predates a commit of this round: on a database-wide write lock
                # (SQLite WAL) it may not write in this transaction any more
                sc.stale = True
            sc.read_in_txn = sc.connected = True

        @rule(add=st.booleans())
        def thread_ends_without_remove(self, add):
            """"if the application thread itself ends, the 'storage' for that
            thread is also garbage collected": a short-lived thread uses the
            registry and ends without remove(); its Session becomes
            unreachable, the long-lived threads keep theirs."""
            self.rounds.append([f"ended-thread:{add}"])
            box: list = []

            def short_lived():
                s = self.reg()
                if add:
                    self.reg.add(Item(name="short-lived"))
                box.append(weakref.ref(s))
            t = threading.Thread(target=short_lived, name="short-lived")
            t.start()
            t.join(15)
            if t.is_alive() or not box:
                self.fail("threads.storage-gone-with-thread", "the short-lived thread did not finish its step")
            for _ in range(3):  # (a Session holds reference cycles: the collector frees it)
                if box[0]() is None:
                    break
                gc.collect()
            if box[0]() is not None:
                self.fail("threads.storage-gone-with-thread",
                          "a Session created in a thread that ended without remove() is still reachable")

        @invariant()
        def scopes_hold_their_own_sessions(self):
            if not self.rounds:
                return
            got = self.crew.round([lambda: ns["holding"](self.reg)] * N)
            for i, (session, owners) in enumerate(got):
                if (session is not None) != self.scopes[i].present:
                    self.fail("threads.registry-is-a-scope-map",
                              f"thread {i}'s scope {'holds' if session is not None else 'lacks'} a Session; "
                              f"the model says it {'does' if self.scopes[i].present else 'does not'}")
                if session is None:
                    continue
                if self.sessions[i] is None:
                    if any(session is old for old in self.seen):
                        self.fail("threads.registry-is-a-scope-map", f"thread {i} got an old Session back after remove()")
                    self.sessions[i] = session
                    self.seen.append(session)
                elif session is not self.sessions[i]:
                    self.fail("registry.same-session-in-scope", f"thread {i}'s Session changed without remove()")
                if not all(owners):
                    self.fail("threads.registry-is-a-scope-map", f"thread {i} holds objects of another Session")
            present = [s for s, _ in got if s is not None]
            if len(present) != len({id(s) for s in present}):
                self.fail("registry.distinct-sessions-across-threads", "two threads share one Session")
            if registry_only:
                return
            with observer.connect() as conn:
                rows = sorted(r[0] for r in conn.exec_driver_sql("SELECT name FROM items"))
            if rows != sorted(self.committed):
                self.fail("threads.independent-transactions", f"committed rows {rows} != {sorted(self.committed)}")

    return ThreadWorld


def repro(rounds, backend) -> str:
    """A standalone script replaying ``rounds`` on the database the backend declares for reproductions."""
    lines = [
        '"""Reproduction generated by the sa-session-conformance thread world machine.',
        'Standalone: needs SQLAlchemy (and the DBAPI driver of the URL)."""',
        "import gc, threading, weakref",
        "from sqlalchemy import Column, Integer, String, create_engine, select",
        "from sqlalchemy.orm import object_session, registry, scoped_session, sessionmaker",
        "from sqlalchemy.pool import NullPool, StaticPool",
        CREW_SOURCE,
        "Base = registry().generate_base()",
        "class Item(Base):",
        '    __tablename__ = "items"',
        "    id = Column(Integer, primary_key=True, autoincrement=True)",
        "    name = Column(String(50), nullable=False)",
        STEP_SOURCE,
        *ReproEngine.of(backend).lines(observer=False),
        "Base.metadata.drop_all(engine); Base.metadata.create_all(engine)",
        "reg = scoped_session(sessionmaker(bind=engine))",
        f"crew = Crew({N})",
        "def ended_thread(add):",
        "    box = []",
        "    def run():",
        "        s = reg()",
        "        if add: reg.add(Item(name='short-lived'))",
        "        box.append(weakref.ref(s))",
        "    t = threading.Thread(target=run); t.start(); t.join(15); gc.collect(); gc.collect()",
        "    return 'Session collected' if box[0]() is None else 'Session STILL REACHABLE'",
    ]
    for n, r in enumerate(rounds, 1):
        if r[0].startswith("ended-thread:"):
            lines.append(f"print('round {n}: a thread ends without remove():', ended_thread({r[0].endswith('True')}))")
            continue
        calls = ", ".join(f"lambda: step(reg, {op!r}, {nm!r}, {n})" for op, nm in (x.split(":") for x in r))
        lines.append(f"print('round {n}', {r!r}, crew.round([{calls}]))")
        lines.append(f"print('  holding:', crew.round([lambda: holding(reg)] * {N}))")
    lines.append("crew.round([reg.remove] * crew.n); crew.stop()")
    return "\n".join(lines) + "\n"


@pytest.mark.property
@pytest.mark.claim(*THREAD_CLAIMS)
def test_threads_drive_their_own_scopes_at_once(db):
    """"a single Session is maintained for all who call upon the
    scoped_session registry, but only within the scope of a single thread"
    -- with the threads' steps really overlapping."""
    run_state_machine_as_test(make_machine(db), settings=budget(8, 10))
