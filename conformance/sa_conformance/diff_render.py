"""Rendering a :class:`~sa_conformance.diff.Diff`: Markdown, JSON and HTML.

Every renderer counts claims (the diff's unit) and passes its text through the
run's :class:`~sa_conformance.redact.Redactor`, so no credential reaches a file.
"""

from __future__ import annotations

import json

from .diff import CATEGORIES, TITLES, ClaimChange, Diff, first_line
from .model import Record
from .redact import Redactor


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def fold_targets(ch: ClaimChange) -> str:
    """'sqlite-memory, mysql [pymysql] (+2 unchanged)': the targets that changed."""
    changed = [t.target for t in ch.targets if t.changed or ch.category in ("documented", "api", "appeared")]
    rest = len(ch.targets) - len(changed)
    return ", ".join(changed) + (f" (+{rest} unchanged)" if rest else "")


def claim_label(ch: ClaimChange) -> str:
    return f"{ch.old_claim} → {ch.claim}" if ch.old_claim else ch.claim


def reference_text(ch: ClaimChange) -> str:
    parts = [p for p in (ch.changelog, ch.reference) if p]
    return " · ".join(parts)


def markdown(d: Diff, redact: Redactor | None = None) -> str:
    redact = redact or Redactor()
    out = [f"# {d.headline()}", "", f"**{d.verdict_line()}**", ""]
    out.append(f"- old: `{d.old_name}` (SQLAlchemy {d.old.run.sqlalchemy}, {d.old.run.started})")
    out.append(f"- new: `{d.new_name}` (SQLAlchemy {d.new.run.sqlalchemy}, {d.new.run.started})")
    gate = d.gate
    out.append(f"- **{len(gate)} undocumented change(s)**" + (" — CI gate fails" if gate else " — CI gate passes")
               + f"; {d.unchanged} claim(s) unchanged")
    out += [f"- ⚠ {w}" for w in d.warnings]
    out.append("")
    for cat, title, changes in ((c, TITLES[c], v) for c, v in d.by_category().items()):
        if not changes:
            continue
        out += [f"## {title} ({len(changes)})", "", "| claim | old → new | targets | detail |", "|---|---|---|---|"]
        for ch in changes:
            src = d.claims.get(ch.claim, {}).get("source", "")
            label = claim_label(ch)
            link = f"[{label}]({src})" if src.startswith("http") else f"`{label}`"
            detail = ch.detail
            if cat == "documented":
                old_text = d.claims.get(ch.old_claim, {}).get("claim", "")
                new_text = d.claims.get(ch.claim, {}).get("claim", "")
                detail = f"was: {old_text}<br>now: {new_text}<br>{reference_text(ch)}"
            else:
                msgs = [t.new.message or t.new.reason for t in ch.targets
                        if t.changed and t.new and (t.new.message or t.new.reason)]
                if msgs:
                    detail = (detail + "; " if detail else "") + first_line(msgs[0])
            out.append(f"| {link} | {ch.old_status} → {ch.new_status}{' ❗' if ch.gate else ''} | "
                       f"{_md(fold_targets(ch))} | {_md(detail)} |")
        out.append("")
    if gate:
        out.append("❗ = undocumented change (counts toward the CI gate).")
    return redact("\n".join(out).rstrip() + "\n")


def to_json(d: Diff) -> dict:
    def rec(r: Record | None):
        return None if r is None else {"outcome": r.outcome.value, "message": r.message, "reason": r.reason}

    return {
        "headline": d.headline(), "unit": "claims", "verdicts": d.verdict_line(),
        "old": {"file": d.old_name, "sqlalchemy": d.old.run.sqlalchemy},
        "new": {"file": d.new_name, "sqlalchemy": d.new.run.sqlalchemy},
        "counts": {c: len(v) for c, v in d.by_category().items()}, "unchanged": d.unchanged,
        "warnings": d.warnings,
        "changes": [{
            "category": ch.category, "claim": ch.claim, "old_claim": ch.old_claim, "old": ch.old_status,
            "new": ch.new_status, "gate": ch.gate, "detail": ch.detail, "changelog": ch.changelog,
            "reference": ch.reference,
            "targets": [{"target": t.target, "old": rec(t.old), "new": rec(t.new)} for t in ch.targets],
        } for ch in d.changes],
    }


def json_text(d: Diff, redact: Redactor | None = None) -> str:
    return (redact or Redactor())(json.dumps(to_json(d), indent=1)) + "\n"


def html(d: Diff, redact: Redactor | None = None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("sa_conformance", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    redact = redact or Redactor()
    groups = d.by_category()
    text = env.get_template("diff.html.j2").render(
        d=d, groups=[(c, t, h, groups[c]) for c, t, h in CATEGORIES], first_line=first_line,
        fold_targets=fold_targets, claim_label=claim_label, reference_text=reference_text,
    )
    return redact(text)
