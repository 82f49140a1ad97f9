"""Diff two results documents, one row per claim, sorted by what it means.

Categories (each claim lands in exactly one; a documented behaviour change is
one row for the pair ``older claim → newer claim``):

* undocumented  a claim that held no longer holds on some backend/driver/scope
                mode, or a claim the catalogue says now applies fails: the
                regression gate (exit 1)
* documented    the catalogue links the two claims (``changes`` on the newer
                one) and the run shows exactly that switch: old behaviour held
                on OLD, new behaviour holds on NEW
* api           a claim became (not) applicable by its own since/until without
                a ``changes`` link: an API member added or removed
* fixed         failing before, passing now
* appeared      in one run only (the suite itself changed: appeared / vanished)
* other         any other outcome change (pass -> skip, changed failure message)

The unit is the claim: backends, drivers and scope modes fold into the row
(``targets``).  ``--fail-on documented`` makes documented changes fail too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .model import Document, Outcome, Record, ResultsError, verdict_changes_line

CATEGORIES = (
    ("undocumented", "Undocumented changes", "a claim that held no longer holds: the regression gate"),
    ("documented", "Documented behaviour changes", "old behaviour → new behaviour, as the catalogue links them"),
    ("api", "API added / removed", "a claim became (not) applicable by its catalogue range"),
    ("fixed", "Fixed", "failing before, conforming now"),
    ("appeared", "Appeared / vanished", "claim in one run only: the suite changed"),
    ("other", "Other changes", "e.g. pass → skip, a different failure message"),
)
TITLES = {c: t for c, t, _ in CATEGORIES}
FAIL_ON = ("undocumented", "documented")
ABSENT = "absent"
_INACTIVE = (Outcome.NOT_APPLICABLE, Outcome.NOT_RUN)


@dataclass
class TargetChange:
    target: str
    old: Record | None
    new: Record | None

    @property
    def old_outcome(self) -> str:
        return self.old.outcome.value if self.old else ABSENT

    @property
    def new_outcome(self) -> str:
        return self.new.outcome.value if self.new else ABSENT

    @property
    def changed(self) -> bool:
        if self.old_outcome != self.new_outcome:
            return True
        return bool(self.old and self.new and self.old.outcome.bad
                    and normalise_message(self.old.message) != normalise_message(self.new.message))

    @property
    def new_failure(self) -> bool:
        return self.new is not None and self.new.outcome.bad and not (self.old and self.old.outcome.bad)


@dataclass
class ClaimChange:
    category: str
    claim: str  # the claim (for a documented change: the newer one)
    old_claim: str | None = None  # documented change: the older claim
    old_status: str = ABSENT  # worst outcome over the targets
    new_status: str = ABSENT
    targets: list[TargetChange] = field(default_factory=list)
    detail: str = ""
    changelog: str | None = None
    reference: str | None = None

    @property
    def gate(self) -> bool:
        return self.category == "undocumented"


@dataclass
class Diff:
    old: Document
    new: Document
    old_name: str
    new_name: str
    changes: list[ClaimChange] = field(default_factory=list)
    unchanged: int = 0
    claims: dict[str, Mapping] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def by_category(self) -> dict[str, list[ClaimChange]]:
        out: dict[str, list[ClaimChange]] = {c: [] for c, _, _ in CATEGORIES}
        for ch in self.changes:
            out[ch.category].append(ch)
        return out

    @property
    def gate(self) -> list[ClaimChange]:
        return [c for c in self.changes if c.gate]

    def headline(self) -> str:
        n = {c: len(v) for c, v in self.by_category().items()}

        def count(k: int, one: str, many: str) -> str:
            return f"{k} {one if k == 1 else many}"

        return (
            f"{self.old.run.sqlalchemy} → {self.new.run.sqlalchemy}: "
            + count(n["documented"], "documented behaviour change", "documented behaviour changes") + ", "
            + count(n["api"], "API change", "API changes") + ", "
            + count(n["undocumented"], "undocumented change", "undocumented changes")
            + f" (claims; also {n['fixed']} fixed, {n['appeared']} appeared/vanished, {n['other']} other)"
        )

    def verdict_line(self) -> str:
        """The diff in the unit every other report counts: claim verdicts."""
        return verdict_changes_line(len(self.old.records), len(self.new.records), len(self.new.bad()), (
            (t.old and t.old.outcome, t.new and t.new.outcome,
             t.changed or ch.category in ("documented", "api", "appeared"))
            for ch in self.changes for t in ch.targets))


_NOISE = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"/tmp/[^\s'\"]+"), "/tmp/…"),
    (re.compile(r"\b\d+\.\d+s\b"), "…s"),
]


def normalise_message(text: str | None) -> str:
    text = (text or "").strip()
    for pattern, repl in _NOISE:
        text = pattern.sub(repl, text)
    return text


def _by_claim(doc: Document) -> dict[str, dict[str, Record]]:
    out: dict[str, dict[str, Record]] = {}
    for r in doc.records:
        if r.outcome is Outcome.NOT_RUN:
            continue
        target = r.target + ("" if r.scope_mode == "default" else f" · {r.scope_mode}")
        out.setdefault(r.claim, {})[target] = r
    return out


def _active(recs: Mapping[str, Record] | None) -> bool:
    return bool(recs) and any(r.outcome not in _INACTIVE for r in recs.values())


def _worst(recs: Mapping[str, Record] | None) -> str:
    if not recs:
        return ABSENT
    return min((r.outcome for r in recs.values()), key=lambda o: o.rank).value


def _targets(a: Mapping[str, Record] | None, b: Mapping[str, Record] | None) -> list[TargetChange]:
    a, b = a or {}, b or {}
    return [TargetChange(t, a.get(t), b.get(t)) for t in sorted(set(a) | set(b))]


def _catalogue_meta(old: Document, new: Document) -> dict[str, Mapping]:
    """Catalogue entries: the packaged catalogue, overridden by what the runs embed."""
    meta: dict[str, Mapping] = {}
    try:
        from .catalogue import load_catalogue
        from .paths import CATALOGUE_DIR

        meta = {c.id: c.to_json() for c in load_catalogue(CATALOGUE_DIR)}
    except Exception:  # a broken packaged catalogue must not stop a diff of two valid files
        pass
    for doc in (old, new):
        for cid, c in doc.claims.items():
            merged = dict(meta.get(cid, {}))
            merged.update({k: v for k, v in c.items() if v is not None or k not in merged})
            meta[cid] = merged
    return meta


def _chain(meta: Mapping[str, Mapping], claim_id: str) -> list[str]:
    """The claims that succeed ``claim_id`` through ``changes`` links, nearest first."""
    succ = {c.get("changes"): cid for cid, c in meta.items() if c.get("changes")}
    out, cur = [], claim_id
    while cur in succ and succ[cur] not in out:
        cur = succ[cur]
        out.append(cur)
    return out


def diff_results(old: Document, new: Document, old_name: str = "old", new_name: str = "new") -> Diff:
    if old.suite_name != new.suite_name:
        raise ResultsError(f"refusing to diff results of different suites: {old_name} is {old.suite_name!r}, "
                           f"{new_name} is {new.suite_name!r}")
    d = Diff(old=old, new=new, old_name=old_name, new_name=new_name)
    d.claims = _catalogue_meta(old, new)
    a, b = _by_claim(old), _by_claim(new)
    paired: set[str] = set()
    for cid in sorted(set(a) | set(b)):
        if cid in paired:
            continue
        oa, nb = a.get(cid), b.get(cid)
        if _active(oa) and not _active(nb) and nb is not None:
            succ = next((s for s in _chain(d.claims, cid) if _active(b.get(s)) and not _active(a.get(s))), None)
            if succ is not None:
                paired.add(succ)
                d.changes.append(_documented(d, cid, succ, a, b))
                continue
    for cid in sorted(set(a) | set(b)):
        if cid in paired or any(ch.old_claim == cid for ch in d.changes):
            continue
        ch = _classify(d, cid, a.get(cid), b.get(cid))
        if ch is None:
            d.unchanged += 1
        else:
            d.changes.append(ch)
    order = {c: i for i, (c, _, _) in enumerate(CATEGORIES)}
    d.changes.sort(key=lambda ch: (order[ch.category], ch.claim))
    _warnings(d)
    return d


def _documented(d: Diff, older: str, newer: str, a, b) -> ClaimChange:
    meta = d.claims.get(newer, {})
    targets = _targets(a.get(older), b.get(newer))
    ch = ClaimChange("documented", newer, old_claim=older, old_status=_worst(a.get(older)),
                     new_status=_worst(b.get(newer)), targets=targets,
                     changelog=meta.get("changelog"), reference=meta.get("reference") or meta.get("source"))
    old_recs, new_recs = (a.get(older) or {}).values(), (b.get(newer) or {}).values()
    if any(r.outcome.bad for r in new_recs):
        ch.category = "undocumented"
        ch.detail = f"the catalogue says {older} becomes {newer} here, but {newer} does not hold"
    elif any(r.outcome.bad for r in old_recs):
        ch.detail = f"{older} did not hold on the old release either"
    else:
        seen_old = any(r.outcome is Outcome.PASS for r in old_recs)
        seen_new = any(r.outcome is Outcome.PASS for r in new_recs)
        why = next((r.reason for r in (*old_recs, *new_recs) if r.outcome is not Outcome.PASS and r.reason), "")
        why = f" ({first_line(why, 160)})" if why else ""
        if not seen_old and not seen_new:
            # the switch is the catalogue's; this run checked neither side: not shown, so not counted as shown
            ch.category = "other"
            ch.detail = (f"documented change {older} → {newer} not observed on these targets: "
                         f"{ch.old_status} → {ch.new_status}{why}")
        elif not (seen_old and seen_new):
            ch.detail = f"only the {'new' if seen_new else 'old'} behaviour was observed{why}"
    return ch


def first_line(text: str | None, limit: int = 240) -> str:
    """The first line of ``text``, cut to ``limit`` characters."""
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _classify(d: Diff, cid: str, oa, nb) -> ClaimChange | None:
    targets = _targets(oa, nb)
    meta = d.claims.get(cid, {})
    ch = ClaimChange("other", cid, old_status=_worst(oa), new_status=_worst(nb), targets=targets,
                     changelog=meta.get("changelog"), reference=meta.get("reference"))
    if oa is None or nb is None:
        ch.category = "undocumented" if any(t.new_failure for t in targets) else "appeared"
        ch.detail = "only in " + (d.new_name if oa is None else d.old_name)
        return ch
    was, now = _active(oa), _active(nb)
    if was != now:
        failing = any(t.new_failure for t in targets)
        ch.category = "undocumented" if failing else "api"
        added = "added" if now else "removed"
        ch.detail = (f"the catalogue says it applies from {d.new.run.sqlalchemy}, but it does not hold" if failing
                     else f"{added} ({'since ' + meta['since'] if now and meta.get('since') else ''}"
                          f"{'until ' + meta['until'] if not now and meta.get('until') else ''})".replace(" ()", ""))
        return ch
    changed = [t for t in targets if t.changed]
    if not changed:
        return None
    if any(t.new_failure for t in changed):
        ch.category = "undocumented"
    elif all((t.old is not None and t.old.outcome.bad) and (t.new is not None and not t.new.outcome.bad)
             for t in changed if t.old_outcome != t.new_outcome) and any(t.old_outcome != t.new_outcome for t in changed):
        ch.category = "fixed"
    elif ch.category == "other":
        only_new = [t.target for t in changed if t.old is None]
        only_old = [t.target for t in changed if t.new is None]
        if only_new or only_old:  # the suite checks it on other scope modes / drivers now
            def run_label(name: str, fallback: str) -> str:  # <results dir>/<release>/results.json -> <release>
                return name.rsplit("/", 2)[-2] if "/" in name else fallback

            ch.detail = "; ".join(x for x in (
                f"checked only in {run_label(d.new_name, 'new')}: {', '.join(only_new)}" if only_new else "",
                f"checked only in {run_label(d.old_name, 'old')}: {', '.join(only_old)}" if only_old else "",
            ) if x)
        elif all(t.old_outcome == t.new_outcome for t in changed):
            ch.detail = "failure message changed"
        elif _coverage_only(changed):
            # the claim applies on both releases (other targets say so); a test citing it was skipped on one
            # release because it also cites a claim outside that release's range: coverage, not behaviour
            gone = next(t for t in changed if Outcome.NOT_APPLICABLE.value in (t.old_outcome, t.new_outcome))
            rec = gone.old if gone.old_outcome == Outcome.NOT_APPLICABLE.value else gone.new
            side = "new" if rec is gone.old else "old"
            tests = ", ".join(sorted({t.split("::")[-1].split("[")[0] for t in rec.tests}))
            why = first_line(rec.reason, 160)
            ch.detail = (f"checked on the {side} release only by {tests} on {', '.join(t.target for t in changed)}"
                         + (f": {why}" if why else ""))
        else:
            ch.detail = "; ".join(f"{t.target}: {t.old_outcome} → {t.new_outcome}" for t in changed)
    ch.targets = targets
    return ch


def _coverage_only(changed: list[TargetChange]) -> bool:
    """Every change is a test becoming (in)applicable beside a pass: n/a → pass or pass → n/a."""
    pairs = {(t.old_outcome, t.new_outcome) for t in changed}
    na, ok = Outcome.NOT_APPLICABLE.value, Outcome.PASS.value
    return bool(pairs) and (pairs <= {(na, ok)} or pairs <= {(ok, na)})


def _warnings(d: Diff) -> None:
    for name, doc in ((d.old_name, d.old), (d.new_name, d.new)):
        if not doc.complete:
            d.warnings.append(f"{name} is an incomplete run (interrupted or stopped early): vanished claims may be noise")

    def functions(doc: Document) -> set[str]:
        return {t.split("[", 1)[0] for r in doc.records for t in r.tests}

    added, removed = functions(d.new) - functions(d.old), functions(d.old) - functions(d.new)
    if added or removed:
        d.warnings.append(f"the suite differs between the runs: {len(added)} test function(s) only in {d.new_name}, "
                          f"{len(removed)} only in {d.old_name}")
    ob, nb = d.old.run.backends, d.new.run.backends
    for backend in sorted(set(ob) & set(nb)):
        for fld in ("product", "server_version", "dbapi", "isolation_level", "sql_mode"):
            if ob[backend].get(fld) != nb[backend].get(fld):
                d.warnings.append(f"backend {backend}: {fld} differs ({ob[backend].get(fld)!r} -> "
                                  f"{nb[backend].get(fld)!r}); not only SQLAlchemy changed")


def exit_code(d: Diff, fail_on: str = "undocumented") -> int:
    if d.gate:
        return 1
    if fail_on == "documented" and d.by_category()["documented"]:
        return 1
    return 0
