"""Collection: what a test process knows -> records, from structured data only.

Two halves, joined by data on the reports (which xdist carries from worker
to controller):

* on the test process, :func:`item_facts` (at setup) and :func:`phase_facts`
  (every phase) read the item, the exception object (``call.excinfo.value``:
  its claim attribution, attached reproduction, ``LeakError`` type, notes) and
  the claims whose ``with claim(ID):`` blocks completed, and
  :func:`attach` stores them as JSON-able data in the report attribute
  :data:`PROP` (pytest's report serialisation carries it; JUnit ignores it);
* on the controller, :class:`Collector` turns each finished item's facts into
  one verdict per cited claim and merges them into records keyed by
  ``(claim, backend, driver, scope_mode)``.

Nothing here reads rendered traceback text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable

from . import attribution
from .model import Outcome, Record, Source, worst

PROP = "sa_conformance"
MESSAGE_LINES = 12
MESSAGE_CHARS = 2000
REPRO_CHARS = 16000
Redact = Callable[[Any], Any]


# -- test process side ---------------------------------------------------------
def item_target(item: Any) -> tuple[str | None, str | None]:
    try:
        from sa_fixtures.pytest_plugin import item_target as target
    except ImportError:  # the fixtures plugin is not installed
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("backend") if callspec is not None else None
        return (str(name) if name is not None else None), None
    return target(item)


def scope_mode_of(item: Any) -> str:
    callspec = getattr(item, "callspec", None)
    return str(callspec.params.get("scope_mode", "default")) if callspec is not None else "default"


def item_facts(item: Any, claims: Iterable[str], not_applicable: str | None) -> dict:
    backend, driver = item_target(item)
    line = item.location[1] if getattr(item, "location", None) else None
    callspec = getattr(item, "callspec", None)
    selector = callspec.params.get("backend") if callspec is not None else None
    return {
        "selector": str(selector) if selector is not None else None,
        "claims": list(claims),
        "backend": backend,
        "driver": driver,
        "scope_mode": scope_mode_of(item),
        "not_applicable": not_applicable,
        "source": {"path": str(item.path), "line": line + 1 if isinstance(line, int) else None},
        "kind": "property" if item.get_closest_marker("property") is not None else "example",
    }


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [f"{type(exc).__name__}: {text}" if text else type(exc).__name__]
    lines = "\n".join(lines).splitlines()
    msg = "\n".join(lines[:MESSAGE_LINES])
    if len(lines) > MESSAGE_LINES:
        msg += "\n…"
    return msg[:MESSAGE_CHARS]


def _notes_repro(exc: BaseException) -> str | None:
    """Hypothesis puts its falsifying example / stateful steps and the
    ``@reproduce_failure`` line in the exception's notes."""
    notes = [n for n in getattr(exc, "__notes__", ()) if not n.startswith("[claim ")]
    return "\n".join(notes)[:REPRO_CHARS] if notes else None


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exception, or the members of an exception group (hypothesis
    raises one when it finds several distinct failures)."""
    subs = getattr(exc, "exceptions", None)  # (Base)ExceptionGroup, also the 3.10 backport
    if isinstance(subs, tuple) and subs and all(isinstance(e, BaseException) for e in subs):
        return [leaf for sub in subs for leaf in _leaves(sub)]
    return [exc]


def exception_facts(exc: BaseException, leak_type: type | None = None) -> dict:
    """What the collector needs of a raised exception."""
    skipped = getattr(exc, "msg", None) if type(exc).__name__ in ("Skipped", "XFailed") else None
    leaves = _leaves(exc)
    blamed = [c for c in dict.fromkeys(attribution.claim_of(e) for e in leaves) if c]
    return {
        "type": type(exc).__name__,
        "message": skipped if skipped is not None else _message(exc),
        "claim": attribution.claim_of(exc) or (blamed[0] if blamed else None),
        "claims": blamed,
        "repro": attribution.repro_of(exc) or next(filter(None, map(attribution.repro_of, leaves)), None)
        or _notes_repro(exc),
        "leak": bool(leak_type is not None and isinstance(exc, leak_type)),
        # a failed check (assert, pytest.fail), not an error the test ran into
        "check": all(isinstance(e, AssertionError) or type(e).__name__ == "Failed" for e in leaves),
    }


def phase_facts(when: str, report: Any, exc: BaseException | None, *, checked: Iterable[str] = (),
                xfail_reason: str | None = None, leak_type: type | None = None) -> dict:
    facts: dict[str, Any] = {"when": when, "outcome": report.outcome, "duration": report.duration}
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail is not None:
        facts["wasxfail"] = wasxfail
    if exc is not None:
        facts["exc"] = exception_facts(exc, leak_type)
    elif when == "call" and report.failed:
        # pytest fails a strict xfail that passed: no exception, failed outcome
        facts["xpass_strict"] = xfail_reason or ""
    if when == "call":
        facts["checked"] = list(checked)
    return facts


def attach(report: Any, name: str, value: Any) -> None:
    """Store JSON-able facts on the report itself: pytest's report
    serialisation (what xdist sends to the controller) carries extra report
    attributes, and JUnit XML does not show them."""
    data = getattr(report, PROP, None) or {}
    data[name] = value
    setattr(report, PROP, data)


def payload(report: Any) -> dict:
    data = getattr(report, PROP, None)
    return data if isinstance(data, dict) else {}


# -- controller side ------------------------------------------------------------
@dataclass
class Verdict:
    """One claim's result from one test."""

    outcome: Outcome
    reason: str | None = None
    message: str | None = None
    repro: str | None = None
    leak: bool = False


@dataclass
class ItemFacts:
    nodeid: str
    meta: dict = field(default_factory=dict)
    phases: dict[str, dict] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return round(sum(p.get("duration", 0.0) for p in self.phases.values()), 4)

    def test_verdict(self) -> tuple[Verdict | None, dict | None]:
        """The test's own result (worst phase) and the exception facts behind
        it; None when no phase judged anything (a run interrupted after the
        test's setup passed: pytest counts no result for it either)."""
        found: list[tuple[Verdict, dict | None]] = []
        setup, call, teardown = (self.phases.get(w) for w in ("setup", "call", "teardown"))
        if setup is not None:
            exc = setup.get("exc")
            if setup["outcome"] == "skipped":
                if "wasxfail" in setup:
                    found.append((Verdict(Outcome.EXPECTED_FAIL, reason=setup["wasxfail"] or None), exc))
                elif self.meta.get("not_applicable"):
                    found.append((Verdict(Outcome.NOT_APPLICABLE, reason=self.meta["not_applicable"]), None))
                else:
                    found.append((Verdict(Outcome.SKIP, reason=(exc or {}).get("message")), None))
            elif setup["outcome"] == "failed":
                found.append((Verdict(Outcome.ERROR, message="setup: " + (exc or {}).get("message", "")), exc))
        if call is not None:
            exc = call.get("exc")
            if call["outcome"] == "passed":
                if "wasxfail" in call:
                    found.append((Verdict(Outcome.UNEXPECTED_PASS, reason=call["wasxfail"] or None), None))
                else:
                    found.append((Verdict(Outcome.PASS), None))
            elif call["outcome"] == "failed":
                if "xpass_strict" in call:
                    reason = call["xpass_strict"]
                    found.append((Verdict(
                        Outcome.UNEXPECTED_PASS, reason=reason or None,
                        message="passed, but expectations.toml lists it as a known deviation: " + reason), None))
                else:
                    found.append((Verdict(Outcome.FAIL, message=(exc or {}).get("message"),
                                          repro=(exc or {}).get("repro")), exc))
            elif "wasxfail" in call:
                found.append((Verdict(Outcome.EXPECTED_FAIL, reason=call["wasxfail"] or None,
                                      message=(exc or {}).get("message")), exc))
            else:
                found.append((Verdict(Outcome.SKIP, reason=(exc or {}).get("message")), None))
        if teardown is not None:
            exc = teardown.get("exc")
            if teardown.get("leak_after_failure") is None and teardown["outcome"] == "failed":
                # A leak after a clean call is the test's error, not its claims' failure:
                # the checks held, the test left something behind (pytest: an error at teardown).
                found.append((Verdict(Outcome.ERROR, message="teardown: " + (exc or {}).get("message", ""),
                                      leak=bool((exc or {}).get("leak"))), exc))
        if not found:
            return None, None
        chosen = min(found, key=lambda f: f[0].outcome.rank)
        after_failure = (teardown or {}).get("leak_after_failure")
        if after_failure and chosen[0].outcome.bad:
            # the test failed (or errored) first; what it left behind is noted on that verdict
            chosen[0].leak = True
            chosen[0].message = (chosen[0].message or "") + "\n(the test also leaked: " + after_failure + ")"
        return chosen

    def claim_verdicts(self) -> dict[str, Verdict]:
        """One verdict per cited claim.

        When the call raised, the claim whose check raised gets the test's
        verdict, claims whose ``with claim()`` blocks completed pass, the
        others were not reached; a failure attributed to no claim goes to
        every cited claim not yet checked (as an error when the test cites
        several claims and what it raised is no failed check).  Under a known deviation
        (``expectations.toml``) only the listed claims are expected to fail:
        another claim that fails is a failure, one that holds passes, and an
        unexpected pass is only the listed claims'.  A leak after a clean call
        is an error of every cited claim (their checks held; the test left
        something behind); a leak after a failure is noted on that failure."""
        claims = list(self.meta.get("claims", ()))
        verdict, exc = self.test_verdict()
        if verdict is None:
            return {}
        call = self.phases.get("call") or {}
        expected = {e.get("claim") for e in self.meta.get("expectations") or ()} & set(claims)
        if verdict.outcome is Outcome.UNEXPECTED_PASS and expected:
            return {c: verdict if c in expected else Verdict(Outcome.PASS) for c in claims}
        raised = call.get("exc") is not None and (
            (verdict.outcome is Outcome.FAIL and call.get("outcome") == "failed")
            or (verdict.outcome is Outcome.EXPECTED_FAIL and "wasxfail" in call)
        )
        if not raised:
            return {c: verdict for c in claims}
        checked = [c for c in call.get("checked", ()) if c in claims]
        blamed = [c for c in (exc or {}).get("claims") or [(exc or {}).get("claim")] if c in claims]
        # an error outside every claim's check (a driver error, hypothesis' Flaky...) in a
        # test of several claims judges none of them (a known deviation stays expected)
        outside = None
        if not blamed and len(claims) > 1 and not (exc or {}).get("check", True):
            outside = Verdict(Outcome.ERROR, message=f"{verdict.message or ''}\n(raised outside every claim's "
                              "check: no claim judged)", repro=verdict.repro, leak=verdict.leak)
        out: dict[str, Verdict] = {}
        for c in claims:
            if outside is not None and c not in checked and not (
                    verdict.outcome is Outcome.EXPECTED_FAIL and c in expected):
                out[c] = outside
            elif c in blamed or (not blamed and c not in checked):
                out[c] = self._unexpected(verdict, c, expected)
            elif c in checked:
                out[c] = Verdict(Outcome.PASS)
            else:
                out[c] = Verdict(Outcome.NOT_REACHED,
                                 reason=f"not reached: the test stopped at a failing check of {', '.join(blamed)}")
        return out

    @staticmethod
    def _unexpected(verdict: Verdict, claim: str, expected: set[str]) -> Verdict:
        """An expected failure of a claim expectations.toml does not list is a failure."""
        if verdict.outcome is not Outcome.EXPECTED_FAIL or not expected or claim in expected:
            return verdict
        listed = ", ".join(sorted(expected))
        return Verdict(Outcome.FAIL, message=(verdict.message or "") + f"\n(expectations.toml lists only {listed}"
                       " as a known deviation of this test)", leak=verdict.leak)


class Collector:
    """Controller-side: phase reports in, records out."""

    def __init__(self, redact: Redact) -> None:
        self.redact = redact
        self.items: dict[str, ItemFacts] = {}
        self.records: dict[tuple, Record] = {}
        self.backends: dict[str, dict] = {}
        self.leaks_after_failure: list[tuple[str, str]] = []

    def add_report(self, report: Any) -> bool:
        """Feed one phase report; True when it completed an item."""
        facts = self.items.setdefault(report.nodeid, ItemFacts(report.nodeid))
        data = payload(report)
        facts.meta.update(data.get("item", {}))
        for name, info in data.get("backends", {}).items():
            self.add_backend(name, info)
        if "phase" in data:
            facts.phases[data["phase"]["when"]] = data["phase"]
        if report.when not in facts.phases:  # a report without our payload (plugin not on that process)
            facts.phases[report.when] = {"when": report.when, "outcome": report.outcome, "duration": report.duration}
        if report.when == "teardown":
            self.finish(facts)
            return True
        return False

    def add_backend(self, name: str, info: dict) -> None:
        if name not in self.backends:
            self.backends[name] = self.redact.deep(info) if hasattr(self.redact, "deep") else info

    def finish(self, facts: ItemFacts) -> None:
        self.items.pop(facts.nodeid, None)
        leak = (facts.phases.get("teardown") or {}).get("leak_after_failure")
        if leak:
            self.leaks_after_failure.append((facts.nodeid, leak))
        meta = facts.meta
        src = meta.get("source")
        for claim, v in facts.claim_verdicts().items():
            key = (claim, meta.get("backend"), meta.get("driver"), meta.get("scope_mode") or "default")
            self.merge(key, facts, v, Source.from_dict(src) if src else None)

    def merge(self, key: tuple, facts: ItemFacts, v: Verdict, source: Source | None) -> None:
        old = self.records.get(key)
        counts = dict(old.counts) if old else {}
        counts[v.outcome.value] = counts.get(v.outcome.value, 0) + 1
        kind = facts.meta.get("kind") or "example"
        kinds = tuple(sorted(set(old.kinds if old else ()) | {kind}))
        tests = (old.tests if old else ()) + (facts.nodeid,)
        duration = round((old.duration if old else 0.0) + facts.duration, 4)
        if old is None or v.outcome.rank < old.outcome.rank:
            r = self.redact
            rec = Record(
                claim=key[0], backend=key[1], driver=key[2], scope_mode=key[3], outcome=v.outcome,
                detail_from=facts.nodeid, reason=r(v.reason), message=r(v.message), repro=r(v.repro),
                leak=v.leak, source=source, selector=facts.meta.get("selector"),
            )
        else:
            rec = old
        self.records[key] = rec.replace(counts=counts, kinds=kinds, tests=tests, duration=duration)

    def flush_pending(self) -> None:
        """Finish items whose teardown never arrived (interrupt, crash)."""
        for facts in list(self.items.values()):
            if facts.phases:
                self.finish(facts)
        self.items.clear()


__all__ = [
    "PROP",
    "Collector",
    "ItemFacts",
    "Verdict",
    "attach",
    "exception_facts",
    "item_facts",
    "payload",
    "phase_facts",
    "worst",
]
