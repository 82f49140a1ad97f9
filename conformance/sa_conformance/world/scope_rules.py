"""Rules for the registry's and the sessionmaker's API surface (proxy
attributes and classmethods, configure()) and for the documented context
managers (``with session.begin():``, ``with session.begin_nested():``,
``with sessionmaker.begin() as s:``, ``with sessionmaker() as s:``)."""

from __future__ import annotations

from hypothesis import strategies as st

from . import guards as g
from . import ops
from .machine import MAKERS, SCOPED
from .object_rules import ObjectRules
from .rules import LOCAL_KWARGS, _err, pick, slot_rule

#: at most this many Sessions are tracked in one walk (blocks make new ones)
MAX_SESSIONS = 9


class ScopeRules(ObjectRules):
    # -- the registry and the sessionmakers ---------------------------------------------------
    def can_remove(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s is None or self.closable(s)

    @slot_rule("can_remove", among=tuple(SCOPED))
    def remove(self, slot):
        s = self.sess_peek(slot)
        if s is None:
            code = (f"token[0] = {slot!r}\nreg.remove()\n"
                    "assert not reg.registry.has(), '[remove.noop-when-empty] remove() with no Session must not create one'")
            return self.run(code, "remove.noop-when-empty", lambda: ops.registry_remove(self.w, ("reg", slot)),
                            key_claims={"made": "remove.noop-when-empty"})
        claim = ("remove.rolls-back-transaction" if s.txn is not None and s.txn.delta
                 else "remove.objects-detached" if self.w.in_session(s) else "remove.closes-session")
        code = (f"token[0] = {slot!r}\nreg.remove()\n"
                f"assert not reg.registry.has(), '[registry.has-reflects-presence] remove() must empty the scope'\n"
                f"assert not S[{s.label!r}].in_transaction(), '[remove.closes-session] remove() must close the Session'")
        self.removed_scopes.add(slot)
        self.run(code, claim, lambda: ops.registry_remove(self.w, ("reg", slot)))

    @slot_rule("can_remove", among=tuple(SCOPED), tag=st.integers(0, 9))
    def call_with_args(self, slot, tag):
        s = self.sess_peek(slot)
        if s is not None:
            code = (f"token[0] = {slot!r}\n"
                    + _err(ops.Expect("InvalidRequestError", ops.ALREADY_PRESENT), f"reg(info={{'tag': {tag}}})", self.label)
                    + f"\nassert reg() is S[{s.label!r}]")
            return self.run(code, "reargs.present-raises", lambda: None)
        sid = ops.registry_call(self.w, ("reg", slot), make=self.make_scoped, kwargs={"info": {"tag": tag}})
        s = self.w.sessions[sid]
        code = (f"token[0] = {slot!r}\nS[{s.label!r}] = reg(info={{'tag': {tag}}})\n"
                f"assert S[{s.label!r}].info == {s.info!r}, "
                "'[reargs.first-call-kwargs-reach-factory] first-call arguments must reach the factory'\n"
                f"assert all(S[{s.label!r}] is not x for k, x in S.items() if k != {s.label!r}), "
                "'[remove.next-call-new-session] after remove() the scope must get a new Session'")
        if slot in self.removed_scopes:
            claim = "reargs.allowed-after-remove"
        elif any(k[1] != slot for k in self.w.scopes):
            claim = "reargs.per-scope"
        else:
            claim = "reargs.first-call-kwargs-reach-factory"
        self.run(code, claim, lambda: None)

    def can_new_session(self, slot) -> bool:
        s = self.sess_peek(slot)
        return s.txn is None and not self.w.in_session(s)

    @slot_rule("can_new_session", among=tuple(MAKERS), local=st.sampled_from(LOCAL_KWARGS))
    def new_session(self, slot, local):
        """A new Session from the slot's sessionmaker, called with or without
        keyword arguments of its own."""
        self.new_maker_session(slot, local, "sessionmaker.call-kwargs-override" if local else None)

    @slot_rule("can_new_session", among=tuple(MAKERS), new=st.sampled_from(LOCAL_KWARGS[1:]))
    def configure_maker(self, slot, new):
        """sessionmaker.configure(): Sessions made afterwards get the new
        settings, the ones made before keep theirs."""
        code = f"make_{slot}.configure({', '.join(f'{k}={v!r}' for k, v in new.items())})"
        self.run(code, "sessionmaker.kwargs-become-session-settings",
                 lambda: ops.maker_configure(self.w.maker_cfg[slot], new))
        self.new_maker_session(slot, None, "sessionmaker.kwargs-become-session-settings")

    # -- the proxy ------------------------------------------------------------------------
    def can_proxy(self, slot) -> bool:
        return True

    @slot_rule("can_proxy", among=SCOPED, value=st.booleans(), n=st.integers(0, 3))
    def proxy_settings(self, slot, value, n):
        """Attributes set through the registry are the current scope's
        Session's: ``reg.autoflush = ...`` and ``reg.info[...] = ...``."""
        pre, expr, post = self.target(slot)
        s = self.sess(slot)
        code = (pre + f"reg.autoflush = {value!r}\nreg.info['n'] = {n!r}\n"
                f"assert reg.autoflush is {value!r} and reg.info['n'] == {n!r}, "
                "'[proxy.attributes-act-on-current-scope] attributes set on the registry must read back'" + post)

        def model():
            ops.set_setting(self.w, s, "autoflush", value)
            ops.set_info(self.w, s, "n", n)
        self.run(code, "proxy.attributes-act-on-current-scope", model,
                 key_claims={"settings": "proxy.attributes-act-on-current-scope"})

    def classmethod_subject(self, o) -> bool:
        return o.status in ("persistent", "detached") and o.pk_loaded is True and o.id is not None

    def can_classmethods(self, slot) -> bool:
        return bool(self.live(self.classmethod_subject))

    @slot_rule("can_classmethods", among=SCOPED, i=pick)
    def classmethod_proxies(self, slot, i):
        """object_session() and identity_key() through the registry answer
        like Session's and create no Session in the current scope."""
        o = self.pick(self.classmethod_subject, i)
        present = ("reg", slot) in self.w.scopes
        owner = self.label(o.sid) if o.sid is not None else "None"
        key = f"(Item, ({o.id},), None)"
        code = (f"token[0] = {slot!r}\n"
                f"assert reg.object_session(objs[{o.idx}]) is {owner}, "
                "'[session-basics.session-of-an-object] object_session() must name the owning Session'\n"
                f"assert reg.identity_key(instance=objs[{o.idx}]) == {key} and reg.identity_key(Item, {o.id}) == {key}, "
                "'[scoped-api.identity-key-alias] identity_key() must give the identity key'\n"
                f"assert reg.registry.has() is {present}, "
                "'[proxy.classmethods-need-no-session] a classmethod proxy must not create the scope\\'s Session'")
        self.run(code, "proxy.classmethods-need-no-session", lambda: None,
                 key_claims={"made": "proxy.classmethods-need-no-session"})

    # -- configure() ------------------------------------------------------------------------
    @slot_rule("can_proxy", among=SCOPED, new=st.sampled_from(LOCAL_KWARGS[1:5]))
    def configure_registry(self, slot, new):
        """scoped_session.configure() reconfigures the factory for the
        Sessions made afterwards, warning when the current scope holds one."""
        key = ("reg", slot)
        warning = self.predict(lambda w: ops.configure_scoped(w, key, new))
        args = ", ".join(f"{k}={v!r}" for k, v in new.items())
        claim = "reargs.configure-warns-when-present" if warning else "reargs.configure-silent-when-empty"
        code = (f"token[0] = {slot!r}\n"
                f"assert warned(lambda: reg.configure({args})) == {[warning] if warning else []!r}, "
                f"'[{claim}] configure() must warn exactly when the scope holds a Session'")
        self.run(code, claim, lambda: ops.configure_scoped(self.w, key, new))

    # -- context managers -------------------------------------------------------------------
    def block_object(self):
        """The object a block adds (the newest fresh transient one), if any."""
        fresh = self.fresh_transients()
        return fresh[-1] if fresh else None

    def can_begin_block(self, slot) -> bool:
        """The Session exists outside a transaction; the commit at the end
        may INSERT the block's object."""
        s = self.sess_peek(slot)
        if s is None or s.txn is not None or not self.usable(slot):
            return False
        return self.block_object() is None or g.may_write(self.w, s, self.caps, set())

    @slot_rule("can_begin_block", fail=st.booleans())
    def begin_block(self, slot, fail):
        """``with session.begin():`` commits at a normal exit, rolls back when
        the block raises (the exception propagates)."""
        s = self.sess_peek(slot)
        o = self.block_object()
        pre, expr, post = self.target(slot)
        body = f"lambda t: {expr}.add(objs[{o.idx}])" if o is not None else "None"
        call = f"in_block({expr}.begin(), {body}, {fail!r})"
        code = pre + (f"expect_error(lambda: {call}, 'RuntimeError', 'boom')" if fail else call) + post
        claim = "scoped-api.begin-returns-transaction" if expr == "reg" and not fail else "transactions.begin-context-commits"

        def model():
            ops.begin(self.w, s)
            if o is not None:
                ops.add(self.w, s, o)
            if fail:
                ops.rollback(self.w, s)
            else:
                ops.commit(self.w, s, self.ids)
        self.run(code, claim, model, [o] if o is not None else [])

    def can_nested_block(self, slot) -> bool:
        """A SAVEPOINT may begin (flushing first); its release may INSERT the
        block's object."""
        if not self.can_begin_nested(slot):
            return False
        s = self.sess_peek(slot)
        return self.block_object() is None or g.may_write(self.w, s, self.caps, set())

    @slot_rule("can_nested_block", among=tuple(MAKERS), fail=st.booleans(), flush=st.booleans())
    def nested_block(self, slot, fail, flush):
        """``with session.begin_nested():`` releases the SAVEPOINT at a normal
        exit and rolls back to it when the block raises (also after a flush
        inside it); the outer transaction continues."""
        s = self.sess(slot)
        o = self.block_object()
        flush = flush and o is not None
        pending = self.w.new(s) + ([o] if o is not None else [])
        body = "None" if o is None else (f"lambda t: (S[{s.label!r}].add(objs[{o.idx}]), S[{s.label!r}].flush())" if flush
                                         else f"lambda t: S[{s.label!r}].add(objs[{o.idx}])")
        call = f"in_block(S[{s.label!r}].begin_nested(), {body}, {fail!r})"
        code = f"expect_error(lambda: {call}, 'RuntimeError', 'boom')" if fail else call

        def model():
            ops.begin_nested(self.w, s, self.ids)
            if o is not None:
                ops.add(self.w, s, o)
            if flush:
                ops.flush(self.w, s, self.ids)
            if fail:
                ops.rollback_savepoint(self.w, s)
            else:
                ops.release_savepoint(self.w, s, self.ids)
        claim = ("savepoint.nested-rollback-pending-transient" if fail and o is not None
                 else "scoped-api.begin-nested-context-manager")
        self.run(code, claim, model, pending)

    def can_maker_block(self, slot) -> bool:
        """A new Session may connect and INSERT the block's object."""
        if len(self.w.sessions) >= MAX_SESSIONS:
            return False
        fresh = ops.Sess(sid=-1, label="-", **ops.maker_call(self.w.maker_cfg[slot]))
        return self.block_object() is None or g.may_write(self.w, fresh, self.caps, set())

    @slot_rule("can_maker_block", among=tuple(MAKERS), kind=st.sampled_from(["begin", "with"]), fail=st.booleans())
    def maker_block(self, slot, kind, fail):
        """``with sessionmaker.begin() as s:`` commits and closes (rolls back
        and closes when the block raises); ``with sessionmaker() as s:``
        closes at the end of the block."""
        o = self.block_object()
        s = self.make_sess(ops.maker_call(self.w.maker_cfg[slot]))
        steps = [f"S.__setitem__({s.label!r}, x)"]
        if o is not None:
            steps.append(f"x.add(objs[{o.idx}])")
            if kind == "with" and not fail:
                steps.append("x.commit()")
        cm = f"make_{slot}.begin()" if kind == "begin" else f"make_{slot}()"
        call = f"in_block({cm}, lambda x: ({', '.join(steps)}), {fail!r})"
        code = f"expect_error(lambda: {call}, 'RuntimeError', 'boom')" if fail else call
        claim = "session-basics.sessionmaker-begin-block" if kind == "begin" else "session-basics.context-manager-closes"

        def model():
            if kind == "begin":
                ops.begin(self.w, s)
            if o is not None:
                ops.add(self.w, s, o)
            if not fail and (kind == "begin" or o is not None):
                ops.commit(self.w, s, self.ids)
            elif kind == "begin":
                ops.rollback(self.w, s)
            ops.close(self.w, s)
        self.run(code, claim, model, [o] if o is not None else [])
