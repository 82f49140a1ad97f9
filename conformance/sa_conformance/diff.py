"""Diff two results files keyed by (claim, backend, scope mode).

Categories, from the old run to the new one:

* regressed            pass/expected-fail -> fail/error
* fixed                fail/error/expected-fail -> pass/unexpected-pass
* newly applicable     not-applicable -> anything else
* no longer applicable anything else -> not-applicable
* appeared / vanished  key present in only one file
* message changed      failing in both with the same outcome, different message
* other                any other outcome change (e.g. pass -> skip)

The CI gate (exit status 1) is any key that is failing (fail, error,
unexpected-pass) in the new run and was not failing in the old one -- a
regression, a newly applicable claim that fails, an appeared failure, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from .redact import Redactor
from .results import BAD, NOT_RUN_BACKEND, ResultsError

CATEGORIES = (
    ("regressed", "Regressed"),
    ("fixed", "Fixed"),
    ("newly-applicable", "Newly applicable"),
    ("no-longer-applicable", "No longer applicable"),
    ("appeared", "Appeared"),
    ("vanished", "Vanished"),
    ("message-changed", "Changed failure message"),
    ("other", "Other outcome changes"),
)
Key = tuple[str, str, str]


@dataclass
class Change:
    key: Key
    category: str
    old: dict | None
    new: dict | None

    @property
    def old_outcome(self) -> str:
        return self.old["outcome"] if self.old else "absent"

    @property
    def new_outcome(self) -> str:
        return self.new["outcome"] if self.new else "absent"

    @property
    def tests_added(self) -> list[str]:
        """Test functions behind the new record that the old run did not
        have: a change may come from the suite, not from SQLAlchemy."""
        old = {t.split("[", 1)[0] for t in (self.old or {}).get("tests", [])}
        new = {t.split("[", 1)[0] for t in (self.new or {}).get("tests", [])}
        return sorted(new - old) if self.old else []

    @property
    def gate(self) -> bool:
        """A new failure: failing now, not failing before."""
        return self.new_outcome in BAD and self.old_outcome not in BAD


@dataclass
class Diff:
    old: dict
    new: dict
    old_name: str
    new_name: str
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    claims: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def by_category(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {c: [] for c, _ in CATEGORIES}
        for ch in self.changes:
            out[ch.category].append(ch)
        return out

    @property
    def gate(self) -> list[Change]:
        return [c for c in self.changes if c.gate]


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


def _index(doc: dict) -> dict[Key, dict]:
    return {
        (r["claim"], r["backend"], r["scope_mode"]): r for r in doc["results"] if r["backend"] != NOT_RUN_BACKEND
    }


def classify(old: dict | None, new: dict | None) -> str | None:
    if old is None and new is None:
        return None
    if old is None:
        return "appeared"
    if new is None:
        return "vanished"
    o, n = old["outcome"], new["outcome"]
    if o == n:
        if o in BAD and normalise_message(old.get("message")) != normalise_message(new.get("message")):
            return "message-changed"
        return None
    if o == "not-applicable":
        return "newly-applicable"
    if n == "not-applicable":
        return "no-longer-applicable"
    if o in ("pass", "expected-fail") and n in ("fail", "error"):
        return "regressed"
    if o in ("fail", "error", "expected-fail") and n in ("pass", "unexpected-pass"):
        return "fixed"
    return "other"


def diff_results(old: dict, new: dict, old_name: str = "old", new_name: str = "new") -> Diff:
    if old["suite"]["name"] != new["suite"]["name"]:
        raise ResultsError(
            f"refusing to diff results of different suites: {old_name} is {old['suite']['name']!r}, "
            f"{new_name} is {new['suite']['name']!r}"
        )
    d = Diff(old=old, new=new, old_name=old_name, new_name=new_name)
    d.claims = {**old["claims"], **new["claims"]}
    a, b = _index(old), _index(new)
    for key in sorted(set(a) | set(b)):
        cat = classify(a.get(key), b.get(key))
        if cat is None:
            d.unchanged += 1
        else:
            d.changes.append(Change(key, cat, a.get(key), b.get(key)))
    for name, doc in ((old_name, old), (new_name, new)):
        if not doc["complete"]:
            d.warnings.append(f"{name} is an incomplete run (interrupted or stopped early): vanished keys may be noise")
    def functions(doc: dict) -> set[str]:
        return {t.split("[", 1)[0] for r in doc["results"] for t in r.get("tests", [])}

    added, removed = functions(new) - functions(old), functions(old) - functions(new)
    if added or removed:
        d.warnings.append(
            f"the suite differs between the runs: {len(added)} test function(s) only in {new_name}, "
            f"{len(removed)} only in {old_name}; changes marked 'suite' involve them"
        )
    ob, nb = old["run"].get("backends", {}), new["run"].get("backends", {})
    for backend in sorted(set(ob) & set(nb)):
        for fld in ("product", "server_version", "dbapi", "isolation_level", "sql_mode"):
            if ob[backend].get(fld) != nb[backend].get(fld):
                d.warnings.append(
                    f"backend {backend}: {fld} differs ({ob[backend].get(fld)!r} -> {nb[backend].get(fld)!r}); "
                    "not only SQLAlchemy changed"
                )
    return d


# -- output --------------------------------------------------------------------
def _first_line(text: str | None, limit: int = 240) -> str:
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _key_text(key: Key) -> str:
    claim, backend, mode = key
    return f"{claim} on {backend}" + ("" if mode == "default" else f" ({mode})")


def markdown(d: Diff, redact: Redactor | None = None) -> str:
    redact = redact or Redactor()
    ov, nv = d.old["run"]["sqlalchemy"], d.new["run"]["sqlalchemy"]
    out = [f"# Conformance diff: SQLAlchemy {ov} → {nv}", ""]
    out.append(f"- old: `{d.old_name}` (SQLAlchemy {ov}, {d.old['run']['started']})")
    out.append(f"- new: `{d.new_name}` (SQLAlchemy {nv}, {d.new['run']['started']})")
    gate = d.gate
    out.append(
        f"- **{len(gate)} new failure(s)**" + (" — CI gate fails" if gate else " — CI gate passes")
        + f"; {len(d.changes)} change(s), {d.unchanged} unchanged key(s)"
    )
    for w in d.warnings:
        out.append(f"- ⚠ {w}")
    out.append("")
    groups = d.by_category()
    out.append("| category | count |")
    out.append("|---|---:|")
    for cat, title in CATEGORIES:
        out.append(f"| {title} | {len(groups[cat])} |")
    out.append("")
    for cat, title in CATEGORIES:
        changes = groups[cat]
        if not changes:
            continue
        out.append(f"## {title} ({len(changes)})")
        out.append("")
        out.append("| claim | backend | old → new | detail |")
        out.append("|---|---|---|---|")
        for ch in changes:
            claim, backend, mode = ch.key
            src = d.claims.get(claim, {}).get("source", "")
            link = f"[{claim}]({src})" if src.startswith("http") else f"`{claim}`"
            bmode = backend + ("" if mode == "default" else f" ({mode})")
            detail = ""
            if cat == "message-changed":
                detail = f"was: {_first_line(ch.old.get('message'))}<br>now: {_first_line(ch.new.get('message'))}"
            elif ch.new and (ch.new.get("message") or ch.new.get("reason")):
                detail = _first_line(ch.new.get("message") or ch.new.get("reason"))
            elif ch.old and (ch.old.get("message") or ch.old.get("reason")):
                detail = "was: " + _first_line(ch.old.get("message") or ch.old.get("reason"))
            mark = " ❗" if ch.gate else ""
            if ch.tests_added:
                detail = f"suite: new test(s) {', '.join(ch.tests_added)}; " + detail
            out.append(f"| {link} | {bmode} | {ch.old_outcome} → {ch.new_outcome}{mark} | {_md(detail)} |")
        out.append("")
    if gate:
        out.append("❗ = new failure (counts toward the CI gate).")
    return redact("\n".join(out).rstrip() + "\n")


def html(d: Diff, redact: Redactor | None = None) -> str:
    from .report import OUTCOME_LABEL, _env, version_range

    redact = redact or Redactor()
    groups = d.by_category()
    text = _env().get_template("diff.html.j2").render(
        d=d,
        groups=[(cat, title, groups[cat]) for cat, title in CATEGORIES],
        labels={**OUTCOME_LABEL, "absent": "absent"},
        first_line=_first_line,
        version_range=version_range,
    )
    return redact(text)


def exit_code(d: Diff) -> int:
    return 1 if d.gate else 0


def check_names(names: Sequence[str]) -> None:
    if len(names) != 2:
        raise ResultsError("diff needs exactly two results files: OLD NEW")
