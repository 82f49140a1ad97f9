"""The lock-step driver: a hypothesis RuleBasedStateMachine base that runs
each step's SQLAlchemy code (``exec`` in a namespace, see ``world.repro``)
and the world model side by side, then compares the snapshot the model
predicts with what SQLAlchemy shows.

A mismatch raises AssertionError tagged with the claim the step checks
(``attribution.attribute``) and carrying the standalone reproduction script
(``attribution.attach_repro``); hypothesis shrinks the walk first.
"""

from __future__ import annotations

import copy
import re
from typing import Callable, Optional

from hypothesis import Phase, note, settings
from hypothesis.stateful import RuleBasedStateMachine
from sqlalchemy import delete, event, insert, inspect
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from sa_conformance.attribution import attach_repro, attribute
from sa_conformance.orm_models import Item, metadata
from sa_conformance.repro_engine import ReproEngine

from . import ops
from .guards import Caps
from .model import Sess, World
from .repro import OBSERVE, render_script

#: observation key -> the claim a difference there contradicts, whatever the step
KEY_CLAIMS = {"checked_out": "transactions.autobegin-no-connection",
              "contains": "state-management.session-contains-and-iterates",
              "session_of": "session-basics.session-of-an-object",
              "made": "registry.factory-called-once-per-scope"}

#: Session.reset() and Session(close_resets_only=...) exist (both new in 2.0.22, #7787); before that
#: the world draws no reset() step and every Session's close() only resets, as it then did
HAS_RESET = hasattr(Session, "reset")
SETUP = (
    "make_a = sessionmaker(bind=engine, info={'maker': 'a'})\n"
    "make_b = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False, "
    + ("close_resets_only=False,\n" if HAS_RESET else "\n")
    + "                      info={'maker': 'b'})"
)
#: what each sessionmaker is configured with at the start of a walk
MAKERS = {"a": {"expire_on_commit": True, "autoflush": True, "close_resets_only": True, "info": {"maker": "a"}},
          "b": {"expire_on_commit": False, "autoflush": False, "close_resets_only": not HAS_RESET,
                "info": {"maker": "b"}}}
#: the scoped_session's sessionmaker (one for every scope) and its scopes
SCOPED_CFG = {"expire_on_commit": True, "autoflush": True, "close_resets_only": True, "info": {}}
SCOPED = ("r0", "r1")
SLOTS = tuple(MAKERS) + SCOPED


def budget(examples: int, steps: int):
    """Settings for one property: the loaded hypothesis profile, except that
    under ``ci`` (deterministic, bounded cost) it runs ``examples`` walks of
    at most ``steps`` steps (the profile's own numbers suit no machine in
    particular: each property states what it can afford)."""
    base = settings.default
    if not str(settings._current_profile).startswith("ci"):
        return settings(base)
    # no "explain" phase: replaying variations of a failing walk to point at
    # lines costs more than the 20 s the shrinker may take, and a failing
    # property must report (with its script) well inside the test timeout
    phases = tuple(p for p in base.phases if p is not Phase.explain)
    return settings(base, max_examples=examples, stateful_step_count=steps, phases=phases)


def ids_used(engine) -> int:
    """How many ``items`` ids the empty table has used, as its reproduction
    script recreates it: the id of one row inserted (and deleted again) now.
    Steps name the ids flushes assign, so a script inserts as many rows into
    its new table (and deletes them) before replaying them: the ids then
    come out the same whether the database hands out max(id) + 1 (SQLite) or
    the next value of a counter that deleted rows do not reset (MySQL's
    AUTO_INCREMENT, PostgreSQL's sequences)."""
    with engine.begin() as conn:
        used = conn.execute(insert(Item.__table__).values(name="probe")).inserted_primary_key[0]
        conn.execute(delete(Item.__table__))
    return used


class WorldMachine(RuleBasedStateMachine):
    """Subclasses set ``backend`` (and get their rules from ``world_rules``)."""

    backend = None
    pool_label: Optional[str] = None

    def __init__(self) -> None:
        super().__init__()
        b = self.backend
        b.clear_tables(metadata)
        self.ids_used = ids_used(b.engine)
        self.caps = Caps.of(b)
        # the backend's one observer engine (a new engine per walk would keep a pooled
        # connection each until the worker ends: "Too many connections" on a server)
        self.observer = b.observer
        self.w = World(scoped_cfg=copy.deepcopy(SCOPED_CFG), maker_cfg=copy.deepcopy(MAKERS), writes=[0, 0])
        self.slot_sid: dict[str, int] = {}
        self.next_sid = 0
        self.steps: list[tuple[str, dict]] = []
        self.counter = 0
        self.removed_scopes: set = set()
        self.fresh_sid: Optional[int] = None
        self._fresh_scoped: Optional[Sess] = None
        self.scoped_sids: set = set()
        self.ns: dict = {"S": {}, "objs": [], "token": [None], "engine": b.engine, "observer": self.observer,
                         "Item": Item, "sessionmaker": sessionmaker, "nested": {}}
        exec(OBSERVE, self.ns)
        self.reg = scoped_session(self.ns["CountingMaker"](bind=b.engine), scopefunc=lambda: self.ns["token"][0])
        self.ns["reg"] = self.reg
        event.listen(b.engine, "before_cursor_execute", self.ns["count_writes"])
        self.run(SETUP, "sessionmaker.kwargs-become-session-settings", lambda: None)
        for slot in MAKERS:
            self.new_maker_session(slot)

    def teardown(self) -> None:
        event.remove(self.backend.engine, "before_cursor_execute", self.ns["count_writes"])
        for s in list(self.ns["S"].values()):
            s.close()
        for token in SCOPED:
            self.ns["token"][0] = token
            self.reg.remove()
        self.ns["S"].clear()
        self.ns["objs"].clear()

    # -- sessions ---------------------------------------------------------------------
    def make_sess(self, config: dict) -> Sess:
        self.next_sid += 1
        s = Sess(sid=self.next_sid, label=f"s{self.next_sid}", **config)
        self.w.sessions[s.sid] = s
        return s

    def make_scoped(self, config: dict) -> int:
        """A model Session made by the scoped registry's factory (its sid)."""
        s = self.make_sess(config)
        self.scoped_sids.add(s.sid)
        return s.sid

    def new_maker_session(self, slot: str, local: Optional[dict] = None, claim: Optional[str] = None) -> None:
        """A new Session from sessionmaker ``slot`` (called with ``local``
        keyword arguments) becomes the slot's Session."""
        s = self.make_sess(ops.maker_call(self.w.maker_cfg[slot], local))
        self.slot_sid[slot] = s.sid
        args = ", ".join(f"{k}={v!r}" for k, v in (local or {}).items())
        code = (f"S[{s.label!r}] = make_{slot}({args})\n"
                f"assert all(S[{s.label!r}] is not x for k, x in S.items() if k != {s.label!r}), "
                "'[sessionmaker.factory-new-session-each-call] a sessionmaker call must return a new Session'")
        self.run(code, claim or "sessionmaker.factory-new-session-each-call", lambda: None,
                 key_claims={"settings": claim} if claim else None)

    def sess(self, slot: str) -> Sess:
        """The model Session a rule on ``slot`` uses (a scoped slot's Session is
        created by the first use, as the proxy documents)."""
        if slot in MAKERS:
            return self.w.sessions[self.slot_sid[slot]]
        key = ("reg", slot)
        if key not in self.w.scopes:
            sid = ops.registry_call(self.w, key, make=self.make_scoped)
            self._fresh_scoped = self.w.sessions[sid]
        return self.w.sessions[self.w.scopes[key]]

    def target(self, slot: str) -> tuple[str, str, str]:
        """(prefix code, expression, suffix code) for calling ``slot``'s
        Session: the Session itself, or the scoped_session proxy."""
        s = self.sess(slot)
        if slot in MAKERS:
            return "", f"S[{s.label!r}]", ""
        fresh = self._fresh_scoped
        self._fresh_scoped = None
        self.fresh_sid = s.sid if fresh is s else None
        if fresh is s:
            suffix = (f"\nS[{s.label!r}] = reg()  # created by the proxy\n"
                      "assert reg.registry.has(), '[proxy.creates-session-when-absent] the proxy must create the Session'\n"
                      f"assert all(S[{s.label!r}] is not x for k, x in S.items() if k != {s.label!r}), "
                      "'[registry.distinct-sessions-across-scopefunc-tokens] a new scope must get a new Session'")
        else:
            suffix = (f"\nassert reg() is S[{s.label!r}], "
                      "'[registry.same-session-in-scope] the same scope must return the same Session'")
        return f"token[0] = {slot!r}\n", "reg", suffix

    # -- objects ----------------------------------------------------------------------
    def live(self, pred: Callable) -> list:
        return [o for o in self.w.objs if o.status != "gone" and pred(o)]

    def pick(self, pred: Callable, i: int):
        c = self.live(pred)
        return c[i % len(c)]

    def fresh_name(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    def ids_after(self, objs_before: list) -> dict:
        out = {}
        for o in objs_before:
            real = self.ns["objs"][o.idx]
            key = inspect(real).key if real is not None else None
            out[o.idx] = key[1][0] if key else None
        return out

    # -- the step ---------------------------------------------------------------------
    def expected(self) -> dict:
        w = self.w
        live = [o for o in w.objs if o.status != "gone"]
        exp = {
            "states": [o.status for o in w.objs],
            "session_of": [w.sessions[o.sid].label if o.sid is not None else None for o in w.objs],
            "unloaded": sorted(o.idx for o in live if not o.loaded),
            "pk_unloaded": sorted(o.idx for o in live if o.pk_loaded is False),
            "pk_unknown": sorted(o.idx for o in live if o.pk_loaded is None),
            "made": w.made,
            "new": {}, "dirty": {}, "deleted": {}, "identity_map": {}, "modified": {},
            "in_transaction": {}, "in_nested": {}, "contains": {}, "transaction": {}, "settings": {},
        }
        if w.writes is not None:
            exp["writes"] = list(w.writes)
        for s in w.sessions.values():
            if s.label not in self.ns["S"]:
                continue
            exp["new"][s.label] = sorted(o.idx for o in w.new(s))
            exp["dirty"][s.label] = sorted(o.idx for o in w.dirty(s))
            exp["deleted"][s.label] = sorted(o.idx for o in w.deleted(s))
            exp["identity_map"][s.label] = sorted(o.idx for o in w.identity_map(s))
            exp["modified"][s.label] = sorted(o.idx for o in w.identity_map(s) if o.modified)
            exp["in_transaction"][s.label] = s.txn is not None
            exp["in_nested"][s.label] = s.txn is not None and s.txn.depth > 0
            exp["contains"][s.label] = sorted(o.idx for o in w.new(s) + w.identity_map(s))
            exp["transaction"][s.label] = None if s.txn is None else ["root", s.txn.depth]
            exp["settings"][s.label] = [s.autoflush, s.expire_on_commit, sorted(s.info.items())]
        if self.caps.independent or not w.any_connected():
            exp["rows"] = sorted([k, v] for k, v in w.committed.items())
        return exp

    def fail(self, claim_id: str, message: str, cause: Optional[BaseException] = None):
        script = render_script(
            self.steps,
            engine=ReproEngine.of(self.backend),  # the backend's declared URL, engine keywords and setup
            ids_used=self.ids_used,
            details=[f"backend: {self.backend.name}", f"contradicts claim {claim_id}"],
        )
        note(script)
        exc = AssertionError(f"{message}\n[claim {claim_id}]\n\n--- standalone reproduction script ---\n{script}")
        attribute(exc, claim_id)
        attach_repro(exc, script)
        raise exc from cause

    def run(self, code: str, claim_id: str, model_step: Callable[[], object], pending: Optional[list] = None,
            key_claims: Optional[dict] = None):
        """Run ``code`` on SQLAlchemy, then ``model_step`` (given the primary
        keys the flush assigned to ``pending``), then compare.  ``key_claims``
        names the claim a difference in one observation contradicts when the
        step is what that claim is about (else :data:`KEY_CLAIMS`)."""
        self.fresh_sid = None
        self.steps.append((code, {}))
        n = len(self.steps)
        try:
            exec(code, self.ns)
        except Exception as exc:  # noqa: BLE001 - any surprise is a difference
            tagged = re.match(r"\[([a-z][a-z0-9-]*\.[a-z0-9-]+)\]", str(exc))
            self.fail(tagged.group(1) if tagged else claim_id,
                      f"step {n} ({code.splitlines()[0]}): {type(exc).__name__}: {exc}", exc)
        self.ids = self.ids_after(pending or [])
        self.w.writes = [0, 0]
        model_step()
        exp = self.expected()
        self.steps[-1] = (code, exp)
        diff = self.ns["differences"](exp)
        if not any(s.txn is not None and s.txn.failed for s in self.w.sessions.values()):
            from sa_fixtures.backends import POOLS

            want = sum(1 for s in self.w.sessions.values() if s.txn is not None and s.txn.connected)
            got = POOLS.checked_out().get(self.backend.name, 0)
            if got != want:
                diff["checked_out"] = (want, got)
        if diff:
            scoped_labels = {self.w.sessions[sid].label for sid in self.scoped_sids}
            self.fail(self.claim_of(diff, claim_id, key_claims, scoped_labels),
                      f"after step {n} ({code.splitlines()[0]}):\n"
                      + "\n".join(f"  {k}: model {e!r}, SQLAlchemy {g!r}" for k, (e, g) in sorted(diff.items())))

    @staticmethod
    def claim_of(diff: dict, claim_id: str, key_claims: Optional[dict], scoped_labels=frozenset()) -> str:
        """The claim the first differing observation contradicts: the step's
        own, unless the one observation that differs has a claim of its own
        (a pool check-out count always does)."""
        claims = dict(KEY_CLAIMS, **(key_claims or {}))
        only = set(diff) - {"checked_out"}
        key = "checked_out" if not only else (next(iter(only)) if len(only) == 1 else None)
        if key == "writes":
            model, seen = diff[key]
            return "scoped-api.dirty-optimistic" if model[0] != seen[0] else "states.delete-then-flush-deleted"
        if key == "settings" and key not in (key_claims or {}):
            model, seen = diff[key]
            scoped = any(label in scoped_labels and model.get(label) != seen.get(label) for label in model)
            return "reargs.configure-affects-next-session-only" if scoped else "sessionmaker.kwargs-become-session-settings"
        if key == "transaction":
            model, seen = diff[key]
            if any(model.get(k) and seen.get(k) and model[k][0] != seen[k][0] for k in model):
                return "legacy-api.session-transaction-removed"  # get_transaction() is not the root
        return claims.get(key, claim_id)

    def predict(self, fn):
        """Run a model function on a copy of the world (to phrase a step's
        assertion before the step runs)."""
        return fn(copy.deepcopy(self.w))
