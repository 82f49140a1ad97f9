"""Helpers the claim tests share: real thread overlap with barriers and
bounded joins, SQL capture, registry inspection."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

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


# -- inner pytest projects (self-checks of the plugins) --------------------------
#: Environment the outer run may carry that must not leak into an inner run.
INNER_RUN_ENV = (
    "SA_CONFORMANCE_RESULTS_DIR",
    "GITHUB_STEP_SUMMARY",
    "SA_CONFORMANCE_BACKENDS",
    "SA_CONFORMANCE_REQUIRE",
    "SA_CONFORMANCE_MYSQL_URL",
)

#: A toy catalogue for inner runs: registry.<slug> -> extra fields.
TOY_CLAIMS: dict[str, dict[str, str]] = {
    "alpha": {"claim": "Alpha holds.", "source": "https://docs.sqlalchemy.org/en/20/orm/contextual.html#alpha"},
    "beta": {"claim": "Beta holds.", "source": "https://docs.sqlalchemy.org/en/20/orm/contextual.html#beta"},
    "gamma": {"claim": "Gamma holds.", "source": "seed:000_x.txt"},
    "ancient": {
        "claim": "Only before 1.0.",
        "source": "https://docs.sqlalchemy.org/en/13/orm/contextual.html#ancient",
        "until": "1.0",
    },
    "never-tested": {
        "claim": "Nobody tests this one.",
        "source": "https://docs.sqlalchemy.org/en/20/orm/contextual.html#never",
    },
}


def make_inner_project(pytester, monkeypatch, ini: str, claims: Sequence[str] = ("alpha", "beta")):
    """Prepare ``pytester`` as a tiny project: a toy catalogue (``claims/``)
    with the named TOY_CLAIMS, the given ``pytest.ini`` text, and none of the
    outer run's SA_CONFORMANCE_* / CI-summary environment."""
    for var in INNER_RUN_ENV:
        monkeypatch.delenv(var, raising=False)
    directory = pytester.path / "claims"
    directory.mkdir()
    (directory / "_catalogue.toml").write_text('supported_series = ["1.4", "2.0", "2.1"]\n')
    entries = []
    for slug in claims:
        fields = {"id": f"registry.{slug}", "family": "registry", "section": slug.title(), **TOY_CLAIMS[slug]}
        entries.append("[[claim]]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in fields.items()))
    (directory / "registry.toml").write_text("\n".join(entries))
    pytester.makefile(".ini", pytest=ini)
    return pytester
