"""Rules that move one object: delete, expunge, make_transient(_to_detached),
merge, expire/refresh/load, attribute changes, dropping the last reference."""

from __future__ import annotations

import functools

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from . import guards as g
from . import ops
from .machine import MAKERS
from .rules import WorldRules, _err, pick, slot_rule


def obj_rule(pred: str, **strategies):
    """A rule on one object: hypothesis picks only among the live objects
    for which ``self.<pred>(o)`` holds (and skips the rule when none does)."""
    def deco(fn):
        @precondition(lambda self: bool(self.live(getattr(self, pred))))
        @rule(i=pick, **strategies)
        @functools.wraps(fn)
        def wrapper(self, i, **kw):
            return fn(self, self.pick(getattr(self, pred), i), **kw)
        return wrapper
    return deco


class ObjectRules(WorldRules):
    def of(self, o):
        """(session slot, model Session) of an attached object."""
        s = self.w.sessions[o.sid]
        for slot in MAKERS:
            if self.slot_sid[slot] == s.sid:
                return slot, s
        for (_, slot), sid in self.w.scopes.items():
            if sid == s.sid:
                return slot, s
        return None, s

    def attached(self, status, extra=lambda o, s: True):
        def pred(o):
            if o.status not in status or o.sid is None:
                return False
            slot, s = self.of(o)
            return slot is not None and self.usable(slot) and extra(o, s)
        return pred

    def do(self, o, call: str, claim: str, model, pending=None):
        slot, s = self.of(o)
        pre, expr, post = self.target(slot)
        self.run(pre + call.format(s=expr) + post, claim, model, pending)

    def p_delete(self, o) -> bool:
        return self.attached(("persistent",), lambda o, s: not o.marked and g.readable(self.w, s, o)
                             and not (s.txn and o.id in s.txn.uncertain))(o)

    @obj_rule("p_delete")
    def delete(self, o):
        self.do(o, f"{{s}}.delete(objs[{o.idx}])", "states.delete-then-flush-deleted",
                lambda: ops.delete(self.w, self.w.sessions[o.sid], o))

    def can_delete_detached(self, slot) -> bool:
        sv = self.view_sess(slot)
        return self.usable(slot) and bool(self.live(lambda o: o.status == "detached" and self.addable(sv, o)))

    @slot_rule("can_delete_detached", i=pick)
    def delete_detached(self, slot, i):
        """delete() of a detached object attaches it, marked deleted."""
        sv = self.view_sess(slot)
        o = self.pick(lambda o: o.status == "detached" and self.addable(sv, o), i)
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        self.run(pre + f"{expr}.delete(objs[{o.idx}])" + post, "scoped-api.delete-detached-marks-deleted",
                 lambda: ops.delete(self.w, s, o))

    def p_expunge(self, o) -> bool:
        return self.attached(("pending", "persistent"))(o)

    @obj_rule("p_expunge")
    def expunge(self, o):
        o.last_sid = o.sid
        self.do(o, f"{{s}}.expunge(objs[{o.idx}])", "states.expunge-detaches", lambda: ops.expunge(self.w, None, o))

    def can_expunge_all(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s is not None and self.usable(slot) and self.closable(s) and bool(self.w.in_session(s))

    @slot_rule("can_expunge_all")
    def expunge_all(self, slot):
        s = self.sess_peek(slot)
        for o in self.w.in_session(s):
            o.last_sid = o.sid
        pre, expr, post = self.target(slot)
        self.run(pre + f"{expr}.expunge_all()" + post, "states.expunge-all", lambda: ops.expunge_all(self.w, s))

    def p_make_transient(self, o) -> bool:
        return ((o.status == "detached" or self.attached(("persistent",))(o))
                and not o.dirty and not o.marked and o.ins is None)

    @obj_rule("p_make_transient")
    def make_transient(self, o):
        self.run(f"make_transient(objs[{o.idx}])", "states.make-transient", lambda: ops.make_transient(self.w, o))

    def p_make_transient_to_detached(self, o) -> bool:
        return o.status == "transient" and o.id is not None

    @obj_rule("p_make_transient_to_detached")
    def make_transient_to_detached(self, o):
        self.run(f"make_transient_to_detached(objs[{o.idx}])", "states.make-transient-to-detached",
                 lambda: ops.make_transient_to_detached(self.w, o))

    def mergeable(self, slot, load):
        sv = self.view_sess(slot)

        def pred(o):
            if o.sid is not None or (o.status == "transient" and (o.stale_pk or o.id is not None or not o.loaded)):
                return False
            if o.status == "transient":
                return True
            if o.status != "detached" or o.was_deleted or not g.readable(self.w, sv, o):
                return False
            if sv.txn and o.id in sv.txn.uncertain:
                return False
            h = self.w.holder(sv, o.id)
            if not load:
                return h is None
            if h is not None and (h.loaded != h.pk_loaded or o.loaded != o.pk_loaded):
                return False  # copying a partly expired instance, or onto one: not described
            if h is None:
                return self.w.committed.get(o.id) == self.w.view(sv).get(o.id)
            return h.status == "persistent" and not h.marked
        return pred

    def can_merge(self, slot) -> bool:
        return self.usable(slot) and bool(self.live(self.mergeable(slot, False)) or (
            self.ok(slot, flush=True, connect=True) and self.live(self.mergeable(slot, True))))

    @slot_rule("can_merge", i=pick, load=st.booleans())
    def merge(self, slot, i, load):
        if not (self.live(self.mergeable(slot, load)) and (not load or self.ok(slot, flush=True, connect=True))):
            load = not load
        o = self.pick(self.mergeable(slot, load), i)
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        pending = self.w.new(s)
        new_idx = len(self.w.objs)
        call = f"{expr}.merge(objs[{o.idx}], load={load})"
        if not load and (o.status == "transient" or o.dirty):
            e = self.predict(lambda w: ops.merge(w, w.sessions[s.sid], w.objs[o.idx], new_idx, {}, load=False))
            return self.run(pre + _err(e, call, self.label) + post, "states.merge-returns-other-instance", lambda: None)
        h = self.w.holder(s, o.id) if o.status == "detached" else None
        if h is None:
            code = (f"objs.append({call})\n"
                    "assert all(objs[-1] is not x for x in objs[:-1]), 'merge() returned an instance it already had'")
        else:
            code = f"assert {call} is objs[{h.idx}], 'merge() must return the identity map instance'"
        claim = ("scoped-api.merge-load-false" if not load else "session-basics.autoflush-points"
                 if pending and s.autoflush else "state-management.merge-source-reusable"
                 if o.status == "detached" else "states.merge-returns-other-instance")
        self.run(pre + code + post, claim, lambda: ops.merge(self.w, s, o, new_idx, self.ids, load=load), pending)

    # -- expiry and loading ---------------------------------------------------------------
    def p_expire(self, o) -> bool:
        return self.attached(("persistent",), lambda o, s: not o.marked)(o)

    @obj_rule("p_expire")
    def expire(self, o):
        claim = "state-management.expire-discards-unflushed-changes" if o.dirty else "state-management.expire-dict-emptied"
        self.do(o, f"{{s}}.expire(objs[{o.idx}])", claim, lambda: ops.expire(self.w, o))

    def p_expire_name(self, o) -> bool:
        return self.attached(("persistent",), lambda o, s: not o.marked and not o.dirty and o.loaded)(o)

    @obj_rule("p_expire_name")
    def expire_name(self, o):
        self.do(o, f"{{s}}.expire(objs[{o.idx}], ['name'])", "expire.expire-attributes",
                lambda: ops.expire_attrs(self.w, o))

    def can_expire_all(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s is not None and self.usable(slot) and bool(self.w.identity_map(s))

    @slot_rule("can_expire_all")
    def expire_all(self, slot):
        s = self.sess_peek(slot)
        pre, expr, post = self.target(slot)
        self.run(pre + f"{expr}.expire_all()" + post, "expire.expire-all", lambda: ops.expire_all(self.w, s))

    def loadable(self, o, s) -> bool:
        return (not o.marked and g.may_read(self.w, s, self.caps, [o.id]) and g.readable(self.w, s, o)
                and g.may_autoflush(self.w, s, self.caps))

    def p_refresh(self, o) -> bool:
        return self.attached(("persistent",), lambda o, s: self.loadable(o, s) and not o.dirty)(o)

    @obj_rule("p_refresh")
    def refresh(self, o):
        _, s = self.of(o)
        self.do(o, f"{{s}}.refresh(objs[{o.idx}])", "expire.refresh-immediate-select",
                lambda: ops.refresh(self.w, s, o, self.ids), self.w.new(s))

    @obj_rule("p_refresh")
    def refresh_name(self, o):
        _, s = self.of(o)
        self.do(o, f"{{s}}.refresh(objs[{o.idx}], ['name'])", "scoped-api.refresh-attribute-names",
                lambda: ops.refresh_attrs(self.w, s, o, self.ids), self.w.new(s))

    def p_load_expired(self, o) -> bool:
        return self.attached(("persistent",), lambda o, s: not o.loaded and self.loadable(o, s))(o)

    @obj_rule("p_load_expired")
    def load_expired(self, o):
        _, s = self.of(o)
        value = self.w.view(s)[o.id]
        self.do(o, f"assert objs[{o.idx}].name == {value!r}, 'an expired attribute must load the current row'",
                "expire.reload-new-state", lambda: ops.read(self.w, s, o, self.ids), self.w.new(s))

    def p_detached_expired(self, o) -> bool:
        return o.status == "detached" and not o.loaded

    @obj_rule("p_detached_expired")
    def load_detached_expired(self, o):
        e = ops.Expect("DetachedInstanceError", ops.DETACHED_REFRESH)
        self.run(_err(e, f"objs[{o.idx}].name", self.label), "expire.detached-expired-raises", lambda: None)

    def p_rename(self, o) -> bool:
        if o.status == "detached":
            return o.loaded
        return self.attached(("persistent",), lambda o, s: not o.marked and g.readable(self.w, s, o)
                             and not (s.txn and o.id in s.txn.uncertain))(o)

    @obj_rule("p_rename", same=st.booleans())
    def rename(self, o, same):
        value = o.name if (same and o.loaded) else self.fresh_name()
        code = f"objs[{o.idx}].name = {value!r}"
        if o.sid is not None:
            s = self.w.sessions[o.sid]
            claim = ("session-basics.autobegin-on-attribute-change" if s.txn is None
                     else "scoped-api.dirty-optimistic" if value == o.name else "scoped-api.is-modified-net-change")
            self.do(o, code, claim, lambda: ops.set_name(self.w, o, value))
        else:
            self.run(code, "states.update-attribute-commit", lambda: ops.set_name(self.w, o, value))

    def can_query(self, slot) -> bool:
        sv = self.view_sess(slot)
        return (self.usable(slot) and self.ok(slot, connect=True)
                and not (sv.txn is not None and sv.txn.uncertain))

    @slot_rule("can_query", no_autoflush=st.booleans())
    def query(self, slot, no_autoflush):
        sv = self.view_sess(slot)
        if sv.autoflush and not g.may_flush(self.w, sv, self.caps):
            no_autoflush = True
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        fake = {o.idx: -1 - o.idx for o in self.w.new(s)}
        names = self.predict(lambda w: ops.query_names(w, w.sessions[s.sid], fake, no_autoflush))
        q = f"{expr}.scalars(select(Item.name)).all()"
        if no_autoflush:
            code = f"with {expr}.no_autoflush:\n    assert sorted({q}) == {names!r}, 'no_autoflush: the query must not flush'"
        else:
            code = f"assert sorted({q}) == {names!r}, 'a query must autoflush (autoflush={s.autoflush})'"
        self.run(pre + code + post, "scoped-api.no-autoflush-block" if no_autoflush else "transactions.orm-query-autoflush",
                 lambda: ops.query_names(self.w, s, self.ids, no_autoflush), self.w.new(s))

    def p_drop(self, o) -> bool:
        return self.attached(("persistent", "pending"))(o)

    @obj_rule("p_drop")
    def drop_reference(self, o):
        strong = o.status == "pending" or o.dirty or o.marked
        code = f"ref = weakref.ref(objs[{o.idx}])\nobjs[{o.idx}] = None\ngc.collect()\n"
        if strong:
            code += (f"objs[{o.idx}] = ref()\n"
                     f"assert objs[{o.idx}] is not None, 'an object with pending changes must stay strongly referenced'")
            self.run(code, "states.dirty-strongly-referenced", lambda: None)
        else:
            code += "assert ref() is None, 'a clean persistent object must not be kept alive by its Session'"

            def gone():
                o.status, o.sid = "gone", None
            self.run(code, "states.weak-identity-map", gone)
