"""The world machines' shared observation code and standalone scripts.

Every step of a world walk is a few lines of plain SQLAlchemy code run (with
``exec``) in a namespace holding ``S`` (label -> Session), ``objs`` (the
application's objects), ``reg`` / ``token`` (a scoped_session keyed on a
token) and ``expect_error``.  :data:`OBSERVE` is the code that snapshots what
the documentation lets one observe; the machine runs it and the generated
script embeds it, so the script checks exactly what the machine checked.
"""

from __future__ import annotations

import pprint
from typing import Optional, Sequence

from sa_conformance.repro_engine import ReproEngine

#: helpers every step may use; embedded verbatim in reproduction scripts
OBSERVE = r'''
import gc
import re
import weakref

import warnings

from sqlalchemy import inspect, select
from sqlalchemy.orm import make_transient, make_transient_to_detached, object_session, sessionmaker

STATES = ("transient", "pending", "persistent", "deleted", "detached")
MADE = [0]  # Sessions the scoped registry's factory has made
WRITES = [0, 0]  # rows UPDATEd / DELETEd since the last observation


class CountingMaker(sessionmaker):
    """A sessionmaker that counts the Sessions it makes."""

    def __call__(self, **kw):
        MADE[0] += 1
        return super().__call__(**kw)


def count_writes(conn, cursor, statement, parameters, context, executemany):
    """before_cursor_execute listener: rows each UPDATE / DELETE statement writes."""
    verb = statement.lstrip().split(None, 1)[0].upper()
    if verb in ("UPDATE", "DELETE"):
        WRITES[verb == "DELETE"] += len(parameters) if executemany else 1


def in_block(cm, body=None, fail=False):
    """``with cm as x: body(x)``, then raise RuntimeError('boom') inside the block when ``fail``."""
    with cm as x:
        if body is not None:
            body(x)
        if fail:
            raise RuntimeError("boom")
    return x


def warned(fn):
    """The messages of the warnings ``fn()`` emits."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in got]


def transaction_of(session):
    """None outside a transaction; else [is get_transaction() the root?, SAVEPOINT depth]."""
    root = session.get_transaction()
    if root is None:
        return None
    depth, t = 0, session.get_nested_transaction()
    while t is not None and t.nested:
        depth, t = depth + 1, t.parent
    return ["root" if root.parent is None and not root.nested else "not the root", depth]


def expect_error(fn, exc_name, pattern):
    """Run ``fn``; it must raise ``exc_name`` with a message matching ``pattern``."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - compared by name below
        names = [c.__name__ for c in type(exc).__mro__]
        assert exc_name in names, "expected %s, got %s: %s" % (exc_name, type(exc).__name__, exc)
        assert re.search(pattern, str(exc)), "message %r does not match %r" % (str(exc), pattern)
        return exc
    raise AssertionError("expected %s matching %r; nothing was raised" % (exc_name, pattern))


def state_of(obj):
    if obj is None:
        return "gone"
    insp = inspect(obj)
    on = [name for name in STATES if getattr(insp, name)]
    return on[0] if len(on) == 1 else "+".join(on) or "none"


def label_of(session):
    for label, s in S.items():
        if s is session:
            return label
    return None if session is None else "untracked"


def indexes(collection):
    out = []
    for x in collection:
        found = [i for i, o in enumerate(objs) if o is x]
        out.append(found[0] if found else "untracked")
    return sorted(out, key=lambda v: (isinstance(v, str), v if isinstance(v, int) else -1))


def observe(expected):
    got = {
        "states": [state_of(o) for o in objs],
        "session_of": [label_of(object_session(o)) if o is not None else None for o in objs],
        "unloaded": [i for i, o in enumerate(objs) if o is not None and "name" not in inspect(o).dict],
        "pk_unloaded": [i for i, o in enumerate(objs) if o is not None and i not in expected.get("pk_unknown", ())
                        and "id" not in inspect(o).dict],
        "made": MADE[0],
        "writes": list(WRITES),
    }
    WRITES[:] = [0, 0]
    for key in ("new", "dirty", "deleted", "identity_map", "modified", "in_transaction", "in_nested", "contains",
                "transaction", "settings"):
        got[key] = {}
    for label, s in S.items():
        got["new"][label] = indexes(s.new)
        got["dirty"][label] = indexes(s.dirty)
        got["deleted"][label] = indexes(s.deleted)
        got["identity_map"][label] = indexes(s.identity_map.values())
        got["modified"][label] = indexes(o for o in s.identity_map.values() if s.is_modified(o))
        got["in_transaction"][label] = s.in_transaction()
        got["in_nested"][label] = s.in_nested_transaction()
        got["transaction"][label] = transaction_of(s)
        got["settings"][label] = [s.autoflush, s.expire_on_commit, sorted(s.info.items())]
        inside = indexes(o for o in objs if o is not None and o in s)
        got["contains"][label] = inside if inside == indexes(iter(s)) else ["iter(session) differs", indexes(iter(s))]
        if any(s.identity_map[inspect(o).key] is not o for o in s.identity_map.values()):
            got["contains"][label] = ["identity_map not keyed by identity key"]
    if "rows" in expected:
        with observer.connect() as conn:
            got["rows"] = sorted(list(r) for r in conn.exec_driver_sql("SELECT id, name FROM items"))
    return got


def differences(expected):
    got = observe(expected)
    return {k: (expected[k], got[k]) for k in expected if k != "pk_unknown" and got.get(k) != expected[k]}


def check(step, code, expected):
    diff = differences(expected)
    if diff:
        lines = ["step %d: %s" % (step, code)]
        lines += ["  %s: documented %r, observed %r" % (k, e, g) for k, (e, g) in sorted(diff.items())]
        raise AssertionError("\n".join(lines))
'''


def render_script(steps: Sequence[tuple[str, dict]], *, engine: Optional[ReproEngine] = None, ids_used: int = 0,
                  details: Sequence[str] = ()) -> str:
    """A standalone script replaying ``steps`` ([(code, expected snapshot)])
    that stops with AssertionError at the first step that differs, on the
    database ``engine`` describes (``ReproEngine.of(backend)``; default: the
    declared in-memory SQLite).  ``ids_used``: how many ids the walk's empty
    table had used (``machine.ids_used``): the script's new table uses as
    many first, so the flushes assign the ids the steps name."""
    engine = engine or ReproEngine.declared()
    out = [
        "#!/usr/bin/env python",
        '"""SQLAlchemy session world: documented behaviour not observed.',
        "",
        "Generated by the sa-session-conformance world machine.  Standalone: needs only",
        "SQLAlchemy (and the DBAPI driver of the URL).  Exits 0 when every step matches",
        "the documentation; otherwise raises AssertionError naming the first differing step.",
        *[f"  {d}" for d in details],
        '"""',
        "import sqlalchemy",
        "from sqlalchemy import Column, Integer, String, create_engine, event",
        "from sqlalchemy.orm import registry, scoped_session, sessionmaker",
        "from sqlalchemy.pool import NullPool, StaticPool",
        "",
        *engine.lines(),
        "",
        "Base = registry().generate_base()",
        "",
        "",
        "class Item(Base):",
        '    __tablename__ = "items"',
        "    id = Column(Integer, primary_key=True, autoincrement=True)",
        "    name = Column(String(50), nullable=False)",
        "",
        "",
        "Base.metadata.drop_all(engine)",
        "Base.metadata.create_all(engine)",
        *([f"with engine.begin() as conn:  # the recorded walk's table had used {ids_used} id(s): use as many",
           f"    conn.execute(Item.__table__.insert(), [{{'name': 'used'}}] * {ids_used})",
           "    conn.execute(Item.__table__.delete())"] if ids_used else []),
        *OBSERVE.splitlines(),
        "",
        'print("SQLAlchemy", sqlalchemy.__version__)',
        "S, objs, token, nested = {}, [], [None], {}",
        "reg = scoped_session(CountingMaker(bind=engine), scopefunc=lambda: token[0])",
        'event.listen(engine, "before_cursor_execute", count_writes)',
        "try:",
    ]
    if not steps:
        out.append("    pass")
    for n, (code, expected) in enumerate(steps, 1):
        out += [f"    {line}" for line in code.splitlines()]
        exp = pprint.pformat(expected, width=100, sort_dicts=True).replace("\n", "\n" + " " * 8)
        out.append(f"    check({n}, {code.splitlines()[0]!r}, {exp})")
    out += [
        "finally:",
        "    for s in S.values():",
        "        s.close()",
        "    Base.metadata.drop_all(engine)",
        "    engine.dispose()",
        "    observer.dispose()",
        'print("OK: every step behaved as documented")',
        "",
    ]
    return "\n".join(out)
