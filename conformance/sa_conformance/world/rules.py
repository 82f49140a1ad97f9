"""The rules of the world walk: one rule per documented operation, each
phrased as plain SQLAlchemy code plus the model function it must agree with,
and the claim it checks."""

from __future__ import annotations

import functools

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from . import guards as g
from . import ops
from .machine import HAS_RESET, MAKERS, SLOTS, WorldMachine

pick = st.integers(min_value=0, max_value=10**6)
#: keyword arguments a sessionmaker is called (or configured) with
LOCAL_KWARGS = ({}, {"expire_on_commit": False}, {"expire_on_commit": True}, {"autoflush": False},
                {"autoflush": True}, {"info": {"call": 1}})
slots = st.sampled_from(SLOTS)


def _err(e: ops.Expect, call: str, label_of) -> str:
    """The code asserting that ``call`` raises the documented error."""
    pat = repr(e.pattern)
    if e.sids:  # session ids: filled in at run time from the Sessions' hash keys
        keys = ", ".join(f"{label_of(sid)}.hash_key" for sid in e.sids)
        pat = f"{pat} % ({keys},)"
    return f"expect_error(lambda: {call}, {e.exc!r}, {pat})"


def slot_rule(can: str, among=SLOTS, **strategies):
    """A rule on one Session slot: hypothesis picks only among the slots
    where ``self.<can>(slot)`` holds (and skips the rule when none does)."""
    def deco(fn):
        @precondition(lambda self: bool(self.slots_where(can, among)))
        @rule(j=pick, **strategies)
        @functools.wraps(fn)
        def wrapper(self, j, **kw):
            choices = self.slots_where(can, among)
            return fn(self, choices[j % len(choices)], **kw)
        return wrapper
    return deco


class WorldRules(WorldMachine):
    def slots_where(self, can: str, among) -> list:
        return [slot for slot in among if getattr(self, can)(slot)]

    def label(self, sid: int) -> str:
        """The expression naming Session ``sid`` in step code (a Session the
        proxy is about to create is ``reg()``)."""
        if sid == self.fresh_sid:
            return "reg()"
        return f"S[{self.w.sessions[sid].label!r}]"

    def usable(self, slot: str) -> bool:
        s = self.sess_peek(slot)
        return s is None or (not s.closed and not (s.txn is not None and s.txn.failed))

    def view_sess(self, slot: str):
        """The slot's Session, or (for an empty scope) a stand-in with the
        factory's settings that is not registered (nothing is created)."""
        s = self.sess_peek(slot)
        if s is None:
            s = ops.Sess(sid=0, label="-", **ops.maker_call(self.w.scoped_cfg))
        return s

    def sess_peek(self, slot: str):
        if slot in MAKERS:
            return self.w.sessions[self.slot_sid[slot]]
        sid = self.w.scopes.get(("reg", slot))
        return self.w.sessions[sid] if sid else None

    def ok(self, slot: str, *, flush: bool = False, connect: bool = False) -> bool:
        """``slot``'s Session may take a step that (auto)flushes / connects."""
        s = self.sess_peek(slot)
        if s is None:
            return True if not connect else (self.caps.independent or not self.w.any_connected())
        if not self.usable(slot):
            return False
        if flush and not g.may_flush(self.w, s, self.caps):
            return False
        return not connect or g.may_connect(self.w, s, self.caps)

    # -- objects enter ------------------------------------------------------------------
    @initialize(committed=st.integers(1, 3), pending=st.integers(0, 2), maker=st.sampled_from(tuple(MAKERS)))
    def start(self, committed, pending, maker):
        """Begin each walk with committed rows held by the Session of one
        sessionmaker (expiring at commit or not) and some pending objects, so
        short walks reach the interesting transitions."""
        for _ in range(committed + pending):
            self.new_object()
        s = self.sess(maker)
        objs = self.w.objs[:committed]
        self.run(f"S[{s.label!r}].add_all([{', '.join(f'objs[{o.idx}]' for o in objs)}])\nS[{s.label!r}].commit()",
                 "transactions.commit-persists",
                 lambda: [ops.add(self.w, s, o) for o in objs] and ops.commit(self.w, s, self.ids), objs)
        for o in self.w.objs[committed:]:
            self.run(f"S[{s.label!r}].add(objs[{o.idx}])", "states.five-states", lambda o=o: ops.add(self.w, s, o))

    @precondition(lambda self: len(self.live(lambda o: True)) < 7)
    @rule()
    def new_object(self):
        name = self.fresh_name()
        self.run(f"objs.append(Item(name={name!r}))", "states.five-states",
                 lambda: self.w.objs.append(ops.Obj(idx=len(self.w.objs), name=name)))

    def addable(self, s, o) -> bool:
        if o.sid is not None:
            return True  # already attached (here: no-op; elsewhere: the documented error)
        if o.status == "transient":
            if not o.loaded:
                return False
            if o.id is None:
                return not o.stale_pk
            # a key of an existing row: the flush will fail (IntegrityError) -> PendingRollbackError
            # (not when the Session holds that key itself: the flush then warns of the conflict
            # first, or turns the INSERT into an UPDATE of a row it deletes -- not described)
            return (s is not None and o.id in self.w.view(s) and o.id not in self.w.locked_by_others(s)
                    and not (s.txn and s.txn.uncertain) and self.w.holder(s, o.id) is None)
        if o.status == "detached":
            return (s is not None and not o.was_deleted and g.readable(self.w, s, o)
                    and self.w.holder(s, o.id) is None and not (s.txn and o.id in s.txn.uncertain))
        return False

    def refused(self, sv, o) -> bool:
        """add() must refuse ``o``: attached to another Session, or deleted."""
        return o.status == "deleted" or (o.sid is not None and o.sid != sv.sid)

    def can_add(self, slot) -> bool:
        sv = self.view_sess(slot)
        return self.usable(slot) and bool(self.live(lambda o: self.addable(sv, o) and not self.refused(sv, o)))

    @slot_rule("can_add", i=pick)
    def add(self, slot, i):
        """add() of a transient, detached or already-own object."""
        sv = self.view_sess(slot)
        self.add_one(slot, self.pick(lambda o: self.addable(sv, o) and not self.refused(sv, o), i))

    def can_add_refused(self, slot) -> bool:
        sv = self.view_sess(slot)
        return self.usable(slot) and bool(self.live(lambda o: self.refused(sv, o)))

    @slot_rule("can_add_refused", i=pick)
    def add_refused(self, slot, i):
        """add() of an object another Session holds, or a deleted one: the
        documented error, naming both Sessions."""
        sv = self.view_sess(slot)
        self.add_one(slot, self.pick(lambda o: self.refused(sv, o), i))

    def add_one(self, slot, o):
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        if o.status == "deleted" or (o.sid is not None and o.sid != s.sid):
            e = self.predict(lambda w: ops.add(w, w.sessions[s.sid], w.objs[o.idx]))
            claim = ("states.delete-then-flush-deleted" if o.status == "deleted"
                     else "scoped-api.add-attached-elsewhere-raises" if expr == "reg"
                     else "cross-session.persistent-also-raises" if o.status != "pending"
                     else "cross-session.already-attached-raises")
            code = pre + _err(e, f"{expr}.add(objs[{o.idx}])", self.label) + post
        else:
            claim = "states.add-detached-persistent" if o.status == "detached" else (
                "scoped-api.add-lifecycle" if expr == "reg" else "states.five-states")
            if o.status in ("transient", "detached") and getattr(o, "last_sid", None) not in (None, s.sid):
                claim = "cross-session.add-after-expunge"
            code = pre + f"{expr}.add(objs[{o.idx}])" + post
        self.run(code, claim, lambda: ops.add(self.w, s, o))

    def fresh_transients(self) -> list:
        return self.live(lambda o: o.status == "transient" and o.loaded and o.id is None and not o.stale_pk)

    def can_add_all(self, slot) -> bool:
        return self.usable(slot) and len(self.fresh_transients()) >= 2

    @slot_rule("can_add_all")
    def add_all(self, slot):
        objs = self.fresh_transients()[-2:]
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        code = pre + f"{expr}.add_all([{', '.join(f'objs[{o.idx}]' for o in objs)}])" + post
        self.run(code, "scoped-api.add-all-each-pending" if expr == "reg" else "states.five-states",
                 lambda: [ops.add(self.w, s, o) for o in objs])

    def can_use_unusable(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s is not None and not self.usable(slot)

    @slot_rule("can_use_unusable")
    def use_closed_or_failed(self, slot):
        s = self.sess_peek(slot)
        pre, expr, post = self.target(slot)
        if s.closed:
            e = ops.autobegin(self.predict(lambda w: w), s)
            code = pre + _err(e, f"{expr}.add(Item(name='never'))", self.label) + post
            return self.run(code, "transactions.close-resets-only-false", lambda: None)
        code = pre + f"expect_error({expr}.connection, 'PendingRollbackError', {ops.PENDING_ROLLBACK!r})" + post
        self.run(code, "transactions.pending-rollback-after-failed-flush", lambda: None)

    # -- flush / commit / rollback --------------------------------------------------------
    def can_flush(self, slot) -> bool:
        s = self.sess_peek(slot)
        return (s is not None and self.usable(slot) and self.w.has_work(s)
                and g.may_flush(self.w, s, self.caps, allow_dup=True))

    @slot_rule("can_flush")
    def flush(self, slot):
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        pending = self.w.new(s)
        if g.dup_pending(self.w, s):
            code = pre + f"expect_error({expr}.flush, 'IntegrityError', '')" + post
            self.run(code, "transactions.pending-rollback-after-failed-flush",
                     lambda: ops.flush(self.w, s, {}, fails=True))
            return
        self.run(pre + f"{expr}.flush()" + post, "states.pending-to-persistent-on-flush",
                 lambda: ops.flush(self.w, s, self.ids), pending)

    def can_commit(self, slot) -> bool:
        sv = self.view_sess(slot)
        if not self.ok(slot, flush=True):
            return False
        if not sv.expire_on_commit and any(o.status == "deleted" or o.marked for o in self.w.in_session(sv)):
            # FINDING kept out of the walk: with expire_on_commit=False the commit
            # leaves deleted objects in the deleted state, attached (the docs say
            # detached); SessionTransaction._remove_snapshot detaches them only
            # under expire_on_commit.
            return False
        return sv.txn is not None or self.ok(slot, connect=True)

    @slot_rule("can_commit")
    def commit(self, slot):
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        pending = self.w.new(s)
        if s.txn is not None and s.txn.depth:
            claim = "savepoint.session-commit-commits-outermost"
        elif any(o.status == "deleted" or o.marked for o in self.w.in_session(s)):
            claim = "states.detached-after-delete-commit"
        elif self.w.identity_map(s) and not pending:
            claim = "expire.commit-expires-all" if s.expire_on_commit else "expire.expire-on-commit-false"
        else:
            claim = "transactions.commit-persists"
        self.run(pre + f"{expr}.commit()" + post, claim, lambda: ops.commit(self.w, s, self.ids), pending)

    def can_rollback(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s is None or not s.closed

    @slot_rule("can_rollback")
    def rollback(self, slot):
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        if s.txn is None:
            claim = "scoped-api.rollback-without-transaction"
        elif s.txn.depth:
            claim = "savepoint.session-rollback-rolls-back-outermost"
        elif s.txn.failed:
            claim = "transactions.pending-rollback-after-failed-flush"
        elif self.w.new(s) or any(o.ins for o in self.w.in_session(s)):
            claim = "states.rollback-pending-to-transient"
        elif self.w.identity_map(s):
            claim = ("expire.rollback-expires" if s.expire_on_commit
                     else "session-basics.rollback-expires-despite-expire-on-commit")
        else:
            claim = "transactions.rollback-discards"
        self.run(pre + f"{expr}.rollback()" + post, claim, lambda: ops.rollback(self.w, s))

    def can_begin_again(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s is not None and s.txn is not None and self.usable(slot)

    @slot_rule("can_begin_again")
    def begin_again(self, slot):
        s = self.sess_peek(slot)
        pre, expr, post = self.target(slot)
        e = ops.begin(self.predict(lambda w: w), s)
        self.run(pre + _err(e, f"{expr}.begin()", self.label) + post, "transactions.begin-already-raises", lambda: None)

    # -- SAVEPOINT --------------------------------------------------------------------
    def can_begin_nested(self, slot) -> bool:
        s = self.sess_peek(slot)
        return (self.caps.savepoints and self.ok(slot, flush=True)
                and (s.txn is None or s.txn.depth < 2) and (not self.w.has_work(s) or self.ok(slot, connect=True)))

    @slot_rule("can_begin_nested", among=tuple(MAKERS), flag=st.booleans())
    def begin_nested(self, slot, flag):
        """begin_nested(), or its documented equivalent begin(nested=True)."""
        s = self.sess(slot)
        pending = self.w.new(s)
        call = f"S[{s.label!r}].begin(nested=True)" if flag else f"S[{s.label!r}].begin_nested()"
        code = (f"nested.setdefault({s.label!r}, []).append({call})\n"
                f"assert nested[{s.label!r}][-1] is S[{s.label!r}].get_nested_transaction() and nested[{s.label!r}][-1].nested, "
                "'[scoped-api.begin-nested-flag] a nested SessionTransaction must be returned'")
        claim = ("session-basics.flush-unconditional-points" if pending and not s.autoflush
                 else "scoped-api.begin-nested-flag" if flag else "savepoint.begin-nested-emits-savepoint")
        self.run(code, claim, lambda: ops.begin_nested(self.w, s, self.ids), pending)

    def can_release(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s.txn is not None and s.txn.depth > 0 and self.ok(slot, flush=True)

    @slot_rule("can_release", among=tuple(MAKERS))
    def release_savepoint(self, slot):
        s = self.sess(slot)
        pending = self.w.new(s)
        self.run(f"nested[{s.label!r}].pop().commit()", "savepoint.begin-nested-emits-savepoint",
                 lambda: ops.release_savepoint(self.w, s, self.ids), pending)

    def can_rollback_savepoint(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s.txn is not None and s.txn.depth > 0 and not s.txn.failed

    @slot_rule("can_rollback_savepoint", among=tuple(MAKERS))
    def rollback_savepoint(self, slot):
        s = self.sess(slot)
        claim = "savepoint.nested-rollback-pending-transient" if self.w.new(s) else "savepoint.nested-rollback-keeps-outer"
        self.run(f"nested[{s.label!r}].pop().rollback()", claim, lambda: ops.rollback_savepoint(self.w, s))

    # -- close / reset / remove / new Sessions ----------------------------------------------
    def closable(self, s) -> bool:
        return not any(o.status == "deleted" for o in self.w.in_session(s))

    def can_close(self, slot) -> bool:
        s = self.sess_peek(slot)
        return (s is not None and self.closable(s) and not s.closed
                and (s.txn is not None or bool(self.w.in_session(s))))

    @slot_rule("can_close")
    def close(self, slot):
        s = self.sess_peek(slot)
        pre, expr, post = self.target(slot)
        claim = "transactions.close-resets-only-false" if not s.close_resets_only else (
            "states.close-detaches" if self.w.in_session(s) else "transactions.close-releases-connection")
        self.nested_forget(s)
        self.run(pre + f"{expr}.close()" + post, claim, lambda: ops.close(self.w, s))

    def can_reset(self, slot) -> bool:
        return HAS_RESET and self.can_close(slot)

    @slot_rule("can_reset")
    def reset(self, slot):
        s = self.sess_peek(slot)
        pre, expr, post = self.target(slot)
        self.nested_forget(s)
        self.run(pre + f"{expr}.reset()" + post, "transactions.reset-keeps-usable", lambda: ops.reset(self.w, s))

    def nested_forget(self, s) -> None:
        self.ns["nested"].pop(s.label, None)
