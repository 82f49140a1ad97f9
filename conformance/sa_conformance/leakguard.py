"""The leak guard: every test leaves nothing behind.

After each test's fixtures are torn down, the guard fails the test (as an
error at teardown, naming what leaked) if

* a tracked engine still has checked-out pool connections,
* a thread started during the test is still alive,
* a fixture-made scoped_session registry still held a Session when the test
  ended (fixtures report these through :func:`report`).

It then cleans up what it can (closes leaked Sessions) so one leaking test
does not cascade into the next.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

from sa_fixtures.backends import POOLS


class LeakError(AssertionError):
    """Raised at teardown; its message names every leak."""


@dataclass
class _TestLedger:
    threads: set[threading.Thread] = field(default_factory=set)
    sessions: "weakref.WeakSet[Session]" = field(default_factory=weakref.WeakSet)
    reported: list[str] = field(default_factory=list)


_lock = threading.Lock()
_current: _TestLedger | None = None
THREAD_GRACE_SECONDS = 1.0


@event.listens_for(Session, "after_begin")
def _track_session(session: Session, transaction, connection) -> None:  # pragma: no cover - trivial
    ledger = _current
    if ledger is not None:
        with _lock:
            ledger.sessions.add(session)


def begin_test() -> None:
    global _current
    _current = _TestLedger(threads=set(threading.enumerate()))


def report(message: str) -> None:
    """Record a leak found by a fixture's own teardown (e.g. a registry that
    still held a Session).  The fixture should clean it up after reporting."""
    if _current is not None:
        _current.reported.append(message)


def _alive(thread: threading.Thread) -> bool:
    """``is_alive()``, also for a thread whose ``join()`` was interrupted (e.g.
    by pytest-timeout's signal): CPython then marks it stopped although it
    still runs; it stays in ``threading.enumerate()`` until it really ends."""
    return thread.is_alive() or any(t is thread for t in threading.enumerate())


def _describe(thread: threading.Thread) -> str:
    return f"thread {thread.name!r}{' (daemon)' if thread.daemon else ''}"


def end_test() -> list[str]:
    """Check the ledger; return one message per leak (empty: clean)."""
    global _current
    ledger, _current = _current, None
    if ledger is None:
        return []
    leaks = list(ledger.reported)

    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    new_threads = [t for t in threading.enumerate() if t not in ledger.threads and _alive(t)]
    for t in new_threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in new_threads if _alive(t)]
    if alive:
        leaks.append("still alive after the test: " + ", ".join(_describe(t) for t in alive))

    out = POOLS.checked_out()
    if out:
        holders = [s for s in list(ledger.sessions) if s.in_transaction()]
        detail = "; ".join(f"{label}: {n} connection(s)" for label, n in sorted(out.items()))
        who = f" (Sessions still in a transaction: {len(holders)})" if holders else ""
        leaks.append(f"pool connections still checked out: {detail}{who}")
        for s in holders:  # clean up so the next test starts from a clean pool
            try:
                s.close()
            except Exception:
                pass
    return leaks
