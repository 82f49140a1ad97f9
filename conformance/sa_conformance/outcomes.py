"""Outcomes of claim verdicts, and the unit every report counts.  Pytest-free.

Part of the results model: import these from :mod:`sa_conformance.model`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

#: the unit every report counts, said the same way everywhere
UNIT = "claim verdicts (claim × backend × driver × scope mode)"
UNIT_SHORT = "verdicts"


# -- outcomes --------------------------------------------------------------------
class Outcome(str, enum.Enum):
    """A verdict's outcome, declared worst first: the aggregate of several
    test results for one verdict is the worst of them (:func:`worst`)."""

    FAIL = "fail"
    ERROR = "error"
    UNEXPECTED_PASS = "unexpected-pass"
    EXPECTED_FAIL = "expected-fail"
    PASS = "pass"
    NOT_REACHED = "not-reached"
    SKIP = "skip"
    NOT_APPLICABLE = "not-applicable"
    NOT_RUN = "not-run"

    @property
    def rank(self) -> int:
        """Lower is worse."""
        return _ORDER.index(self)

    @property
    def bad(self) -> bool:
        """Fails the run: the claim did not hold, the test broke, or a known
        deviation no longer deviates."""
        return self in (Outcome.FAIL, Outcome.ERROR, Outcome.UNEXPECTED_PASS)

    @property
    def judged(self) -> bool:
        """The verdict says whether the claim held on this target."""
        return self in (Outcome.FAIL, Outcome.UNEXPECTED_PASS, Outcome.EXPECTED_FAIL, Outcome.PASS)

    @property
    def label(self) -> str:
        return _LABEL[self]

    @property
    def help(self) -> str:
        return _HELP[self]

    def __str__(self) -> str:  # f"{outcome}" is the JSON value
        return self.value


_ORDER = tuple(Outcome)
_LABEL = {
    Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.ERROR: "ERROR", Outcome.SKIP: "skip",
    Outcome.NOT_APPLICABLE: "n/a", Outcome.EXPECTED_FAIL: "xfail", Outcome.UNEXPECTED_PASS: "XPASS",
    Outcome.NOT_REACHED: "not reached", Outcome.NOT_RUN: "not run",
}
_HELP = {
    Outcome.PASS: "the claim held",
    Outcome.FAIL: "the claim did not hold (or its test leaked)",
    Outcome.ERROR: "the test could not run properly (setup/teardown error)",
    Outcome.SKIP: "skipped (backend unavailable or lacking a capability)",
    Outcome.NOT_APPLICABLE: "the claim does not apply to this SQLAlchemy version",
    Outcome.EXPECTED_FAIL: "a known deviation listed in expectations.toml failed as expected",
    Outcome.UNEXPECTED_PASS: "a known deviation passed: remove its expectations.toml entry",
    Outcome.NOT_REACHED: "not judged: the test stopped at a failing check of another claim first",
    Outcome.NOT_RUN: "no test for this claim was collected in this run",
}
BAD = tuple(o for o in Outcome if o.bad)


def worst(outcomes: Iterable[Outcome | str]) -> Outcome | None:
    outs = [Outcome(o) for o in outcomes]
    return min(outs, key=lambda o: o.rank) if outs else None


def claims_line(counts: Mapping[Outcome, int]) -> str:
    """``claims: 42 verdicts (claim × backend × driver × scope mode): 40 pass, 2 FAIL``."""
    total = sum(counts.values())
    parts = [f"{n} {o.label}" for o, n in sorted(counts.items(), key=lambda kv: kv[0].rank) if n]
    return f"claims: {total} {UNIT}" + (": " + ", ".join(parts) if parts else "")


def verdict_changes_line(old_total: int, new_total: int, new_failing: int,
                         pairs: Iterable[tuple[Outcome | None, Outcome | None, bool]]) -> str:
    """``verdicts: 1018 → 1018 claim verdicts (...); 208 newly failing (45 FAIL, ...), 2 still failing,
    0 fixed, 3 other changes``: what a diff of two runs changed, in the unit every report counts
    (newly + still failing = the new run's failing verdicts).  ``pairs``: (old outcome, new
    outcome, changed) per verdict the diff looked at (None: absent)."""
    newly: dict[Outcome, int] = {}
    fixed = other = 0
    for old, new, changed in pairs:
        if new is not None and new.bad and not (old is not None and old.bad):
            newly[new] = newly.get(new, 0) + 1
        elif old is not None and old.bad and new is not None and not new.bad:
            fixed += 1
        elif changed:
            other += 1
    parts = ", ".join(f"{n} {o.label}" for o, n in sorted(newly.items(), key=lambda kv: kv[0].rank))
    still = new_failing - sum(newly.values())
    return (f"verdicts: {old_total} → {new_total} {UNIT}; {sum(newly.values())} newly failing"
            + (f" ({parts})" if parts else "") + f", {still} still failing, {fixed} fixed, {other} other changes")
