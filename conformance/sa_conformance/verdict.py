"""The exit status of ``sa-conformance run``: one pure decision over the
results document (the dict ``results.json`` holds, see results.schema.json)
and pytest's exit status.

====  =====================================================================
code  meaning
====  =====================================================================
0     every applicable claim conforms (skips and not-applicable are fine)
1     some claim does not conform: a failed check, an unexpected pass, or
      a test that errored (raised outside its checks, timed out, left a
      connection or Session behind); the claims whose checks failed are
      named first, the merely errored ones apart
2     usage or bad input (pytest usage error; the selection matched no test)
3     the run could not judge: a backend could not be provisioned, the run
      was interrupted or is incomplete, pytest crashed, or every test on a
      backend errored (a broken host or harness, not a conformance failure)
====  =====================================================================

Only schema fields are read: ``complete``, ``exit_status``, ``results[]``
(``backend``, ``driver``, ``outcome``, ``counts``, ``claim``, ``leak``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONFORMS, NONCONFORMING, BAD_INPUT, CANNOT_JUDGE = 0, 1, 2, 3

#: pytest exit statuses (pytest.ExitCode) and the fixtures plugin's
#: "a server backend could not be provisioned" (sa_fixtures.pytest_plugin.EXIT_NOT_PROVISIONED)
PYTEST_OK, PYTEST_FAILED, PYTEST_INTERRUPTED, PYTEST_INTERNAL, PYTEST_USAGE, PYTEST_NO_TESTS = 0, 1, 2, 3, 4, 5
NOT_PROVISIONED = 3

NONCONFORMING_OUTCOMES = ("fail", "error", "unexpected-pass")
#: outcomes that show a test really judged its claim on a backend
JUDGED_OUTCOMES = ("pass", "fail", "expected-fail", "unexpected-pass")
#: record backends that are not a database backend: null (checked without a
#: database, or not run; results format 2) and format 1's "none" / "*"
PSEUDO_BACKENDS = (None, "none", "*")


@dataclass(frozen=True)
class Verdict:
    code: int
    #: one line each: why this code
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _counts(record: dict) -> dict[str, int]:
    counts = record.get("counts")
    if isinstance(counts, dict) and counts:
        return {str(k): int(v) for k, v in counts.items()}
    return {str(record.get("outcome")): 1}


def broken_backends(document: dict) -> list[str]:
    """Backends on which something errored and nothing was judged."""
    judged: dict[str, int] = {}
    errors: dict[str, int] = {}
    for record in document.get("results") or []:
        if record.get("backend") in PSEUDO_BACKENDS:
            continue
        backend = str(record.get("backend"))
        if record.get("driver"):
            backend += f" (driver {record['driver']})"
        counts = _counts(record)
        judged[backend] = judged.get(backend, 0) + sum(counts.get(o, 0) for o in JUDGED_OUTCOMES)
        errors[backend] = errors.get(backend, 0) + counts.get("error", 0)
    return sorted(b for b, n in errors.items() if n and not judged.get(b))


def nonconforming_claims(document: dict) -> list[str]:
    """Claim ids with a failing, erroring or unexpectedly passing record."""
    return sorted({
        str(r.get("claim")) for r in document.get("results") or [] if r.get("outcome") in NONCONFORMING_OUTCOMES
    })


def errored_only_claims(document: dict) -> list[str]:
    """Non-conforming claims none of whose checks failed: every bad record is
    an ``error`` (the test raised outside every claim's check -- a timeout, a
    driver error -- or left a connection or Session behind after its checks
    held: ``leak``).  Usually a symptom of another claim's failure (a broken
    ``remove()`` leaks in every test that cleans up with it)."""
    only_errors: dict[str, bool] = {}
    for r in document.get("results") or []:
        if r.get("outcome") in NONCONFORMING_OUTCOMES:
            cid = str(r.get("claim"))
            only_errors[cid] = only_errors.get(cid, True) and r.get("outcome") == "error"
    return sorted(c for c, errored in only_errors.items() if errored)


def _listed(ids: list[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def decide(document: dict | None, pytest_status: int | None = None) -> Verdict:
    """The exit code of a run and why.  ``pytest_status`` defaults to the
    document's ``exit_status``; ``document`` is None when no results file was
    written (pytest stopped before the run started)."""
    status = pytest_status if pytest_status is not None else (document or {}).get("exit_status")
    if status == PYTEST_USAGE:
        return Verdict(BAD_INPUT, ("pytest reported a usage error",))
    if status == PYTEST_NO_TESTS:
        return Verdict(BAD_INPUT, ("the selection matched no test",))
    if status == NOT_PROVISIONED:
        return Verdict(CANNOT_JUDGE, ("a backend could not be provisioned, or pytest crashed (pytest exit 3)",))
    if status == PYTEST_INTERRUPTED:
        return Verdict(CANNOT_JUDGE, ("the run was interrupted",))
    if document is None:
        return Verdict(CANNOT_JUDGE, (f"no results were written (pytest exit {status})",))
    if status not in (PYTEST_OK, PYTEST_FAILED):
        return Verdict(CANNOT_JUDGE, (f"pytest exited {status}",))
    if not document.get("complete"):
        return Verdict(CANNOT_JUDGE, ("the results are incomplete (the run stopped early)",))
    broken = broken_backends(document)
    if broken:
        return Verdict(CANNOT_JUDGE, tuple(
            f"every test on backend {b} errored: a broken host or harness, not a conformance failure" for b in broken
        ))
    failing = nonconforming_claims(document)
    if failing:
        errored = set(errored_only_claims(document))
        checked = [c for c in failing if c not in errored]
        not_judged = (f"{len(errored)} {'more ' if checked else ''}claim(s) not judged: their tests errored outside "
                      f"a check or left a connection or Session behind: {_listed(sorted(errored))}")
        # Errors alone still do not conform: a SQLAlchemy that raises where the documentation
        # promises a result, hangs, or leaks a connection breaks the test before or after its
        # checks. Only "every test on a backend errored" (above) points at the host instead.
        reasons = [f"{len(checked)} claim(s) do not conform: {_listed(checked)}"] if checked else []
        if errored:
            reasons.append(not_judged + ("" if checked else " (no check failed)"))
        return Verdict(NONCONFORMING, tuple(reasons))
    if status == PYTEST_FAILED:
        return Verdict(NONCONFORMING, ("pytest reported failures outside the claims' records",))
    return Verdict(CONFORMS, ())


def exit_code(document: dict | None, pytest_status: int | None = None) -> int:
    return decide(document, pytest_status).code
