"""Helpers the claim tests share: real thread overlap with barriers and
bounded joins, SQL capture, registry inspection."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import pytest
from sqlalchemy import event
from sqlalchemy.orm import scoped_session
from sqlalchemy.util import ScopedRegistry, ThreadLocalRegistry

DEFAULT_THREAD_TIMEOUT = 15.0


class ThreadFailure(AssertionError):
    pass


def run_threads(
    target: Callable[[int, threading.Barrier], Any],
    n: int = 2,
    *,
    timeout: float = DEFAULT_THREAD_TIMEOUT,
    name: str = "sa-conformance",
) -> list[Any]:
    """Run ``target(index, barrier)`` on ``n`` real threads that all wait on one
    barrier, join them within ``timeout`` seconds and return their results in
    index order.  An exception in any thread is re-raised here (naming the
    thread); a thread still running at the deadline fails the test after the
    barrier is aborted, so no test can hang the run."""
    barrier = threading.Barrier(n, timeout=timeout)
    results: list[Any] = [None] * n
    errors: list[BaseException | None] = [None] * n

    def runner(i: int) -> None:
        try:
            results[i] = target(i, barrier)
        except BaseException as exc:  # re-raised in the caller
            errors[i] = exc
            barrier.abort()

    threads = [threading.Thread(target=runner, args=(i,), name=f"{name}-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        barrier.abort()
        for t in threads:
            t.join(1.0)
        raise ThreadFailure(f"threads did not finish within {timeout:.0f}s: {', '.join(stuck)}")
    for i, exc in enumerate(errors):
        if exc is not None and not isinstance(exc, threading.BrokenBarrierError):
            raise ThreadFailure(f"thread {i} raised {type(exc).__name__}: {exc}") from exc
    for i, exc in enumerate(errors):
        if exc is not None:
            raise ThreadFailure(f"thread {i}: barrier broken") from exc
    return results


@contextmanager
def capture_sql(engine) -> Iterator[list[str]]:
    """Collect the SQL statements ``engine`` sends while the block runs."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def selects(statements: Sequence[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def registry_contents(registry: scoped_session) -> dict[Any, Any]:
    """What a scoped_session registry holds, as {scope: Session}.  For the
    thread-local registry only the calling thread's scope is visible (other
    threads' storage is private to them by design)."""
    reg = registry.registry
    if isinstance(reg, ThreadLocalRegistry):
        return {threading.current_thread().name: reg()} if reg.has() else {}
    if isinstance(reg, ScopedRegistry):
        return dict(reg.registry)
    raise TypeError(f"unknown registry type {type(reg).__name__}")


def assert_raises_match(exc_type: type[BaseException], pattern: str):
    """``pytest.raises`` with a mandatory message pattern (re.search)."""
    return pytest.raises(exc_type, match=pattern)
