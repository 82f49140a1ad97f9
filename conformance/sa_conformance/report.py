"""Reports from results documents: the Markdown summary and the HTML claims
matrix.  Pytest-free; reads only :mod:`sa_conformance.model` types.

Both count the same unit as the terminal's claims line: claim verdicts
(:data:`~sa_conformance.model.UNIT`), one per record.  Several documents
(e.g. one per SQLAlchemy version) merge into one matrix: claims grouped by
family as rows, backends x runs as columns.  A claim checked without a
database has no column; its verdict shows in the claim's own cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import FAMILIES
from .model import BAD, UNIT, Document, Outcome, Record, claims_line, worst
from .redact import Redactor

OUTCOME_LABEL = {o.value: o.label for o in Outcome}
OUTCOME_HELP = {o.value: o.help for o in Outcome}
OUTCOMES = tuple(o.value for o in Outcome)
MAX_FAILURES_MD = 60
#: how a reviewer reruns one verdict, as a user and inside this repository
RERUN_USER = "sa-conformance run"
RERUN_REPO = "pytest"


@dataclass
class RunColumn:
    label: str
    doc: Document


@dataclass
class Column:
    run: int
    backend: str
    label: str
    sublabel: str


@dataclass
class Cell:
    """One (claim, backend, run) cell: one record per driver x scope mode."""

    records: list[Record]

    @property
    def outcome(self) -> str:
        return worst(r.outcome for r in self.records).value

    @property
    def modes(self) -> bool:
        return len(self.records) > 1 or self.records[0].scope_mode != "default"

    @property
    def tests(self) -> list[str]:
        return list(dict.fromkeys(t for r in self.records for t in r.tests))


@dataclass
class Matrix:
    runs: list[RunColumn]
    claims: dict[str, dict]
    columns: list[Column]
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)  # (claim, column) -> cell
    no_db: dict[str, list[tuple[str, Record]]] = field(default_factory=dict)  # claim -> [(run label, record)]

    @property
    def verdicts(self) -> int:
        """Every record is shown exactly once: in a backend cell or the claim's cell."""
        return sum(len(c.records) for c in self.cells.values()) + sum(len(v) for v in self.no_db.values())

    def families(self) -> list[tuple[str, list[dict]]]:
        groups: dict[str, list[dict]] = {}
        for c in sorted(self.claims.values(), key=lambda c: c["id"]):
            groups.setdefault(c["family"], []).append(c)
        order = {f: i for i, f in enumerate(FAMILIES)}
        return sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))

    def cell(self, claim: str, col: int) -> Cell | None:
        return self.cells.get((claim, col))

    @property
    def backends(self) -> list[str]:
        return list(dict.fromkeys(c.backend for c in self.columns))


def run_labels(docs: Sequence[Document]) -> list[str]:
    labels: list[str] = []
    for doc in docs:
        base = f"SA {doc.run.sqlalchemy}"
        label, n = base, 2
        while label in labels:
            label, n = f"{base} #{n}", n + 1
        labels.append(label)
    return labels


def build_matrix(docs: Sequence[Document]) -> Matrix:
    """Rows: claims; columns: backend x run.  A cell holds the records of
    each driver and scope mode; its colour is the worst of them."""
    runs = [RunColumn(label, doc) for label, doc in zip(run_labels(docs), docs)]
    claims: dict[str, dict] = {}
    backends: list[str] = []
    for doc in docs:
        claims.update({k: dict(v) for k, v in doc.claims.items()})
        backends.extend(b for b in doc.backends() if b not in backends)
    columns = [Column(i, b, b, run.label if len(runs) > 1 else "") for b in backends for i, run in enumerate(runs)]
    matrix = Matrix(runs=runs, claims=claims, columns=columns)

    def order(r: Record) -> tuple:
        return (r.scope_mode != "default", r.scope_mode, r.driver or "")

    for ci, col in enumerate(columns):
        doc = runs[col.run].doc
        by_claim: dict[str, list[Record]] = {}
        for rec in doc.records:
            if rec.backend == col.backend:
                by_claim.setdefault(rec.claim, []).append(rec)
        for cid, recs in by_claim.items():
            matrix.cells[(cid, ci)] = Cell(sorted(recs, key=order))
    for run in runs:  # verdicts without a backend (no database, or not run) show once, in the claim's cell
        for rec in run.doc.records:
            if rec.backend is None:
                matrix.no_db.setdefault(rec.claim, []).append((run.label, rec))
    return matrix


def verdict_counts(docs: Sequence[Document]) -> dict[Outcome, int]:
    total: dict[Outcome, int] = {}
    for doc in docs:
        for o, n in doc.verdict_counts().items():
            total[o] = total.get(o, 0) + n
    return total


def version_range(claim: dict) -> str:
    since, until = claim.get("since"), claim.get("until")
    if since and until:
        return f">={since},<{until}"
    if since:
        return f">={since}"
    if until:
        return f"<{until}"
    return "all versions"


def source_label(path: str) -> str:
    """``sa_conformance/suite/test_remove.py`` for a test of the packaged suite
    (the same in this repository and in an installed wheel); else the path."""
    marker = "/sa_conformance/"
    return "sa_conformance/" + path.rsplit(marker, 1)[1] if marker in path else path


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def rerun(rec: Record, doc: Document | None = None) -> dict[str, str]:
    """How a reviewer reruns exactly this verdict's claim on its backend (and
    the run's server), as a user and inside this repository."""
    option = doc.run.server_option(rec.backend) if doc is not None else None
    return {"user": rec.rerun_command(RERUN_USER, option), "repo": rec.rerun_command(RERUN_REPO, option)}


# -- Markdown ------------------------------------------------------------------
def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _provisioned(info: dict) -> str:
    """' via testcontainers (image)' from describe()'s provisioner/image keys."""
    how = info.get("provisioner") or info.get("method")
    if not how:
        return ""
    return f" via {how}" + (f" ({_md(str(info['image']))})" if info.get("image") else "")


def _backend_rows(doc: Document) -> list[str]:
    out = ["| backend | server | driver | isolation | sql_mode |", "|---|---|---|---|---|"]
    for name, info in doc.run.backends.items():
        if "unavailable" in info:
            out.append(f"| {name} | unavailable: {_md(info['unavailable'])} | | | |")
            continue
        out.append(
            f"| {name} | {_md(str(info.get('product') or ''))} {info.get('server_version') or ''}"
            f"{_provisioned(info)} | "
            f"{info.get('dialect', '')}+{info.get('driver') or ''} ({_md(str(info.get('dbapi', '')))}) | "
            f"{info.get('isolation_level') or ''} | {_md(str(info.get('sql_mode') or ''))} |"
        )
    return out + [""]


def _totals_rows(doc: Document) -> list[str]:
    groups: list[tuple[str, dict[Outcome, int]]] = [(b, doc.verdict_counts(b)) for b in doc.backends()]
    no_db = [r for r in doc.records if r.backend is None]
    for label, keep in (("(no database)", lambda r: r.outcome is not Outcome.NOT_RUN),
                        ("(not run)", lambda r: r.outcome is Outcome.NOT_RUN)):
        counts: dict[Outcome, int] = {}
        for r in no_db:
            if keep(r):
                counts[r.outcome] = counts.get(r.outcome, 0) + 1
        if counts:
            groups.append((label, counts))
    shown = [o for o in Outcome if any(c.get(o) for _, c in groups)]
    out = [f"Per backend, in {UNIT}:", "",
           "| backend | " + " | ".join(o.label for o in shown) + " | verdicts |", "|---|" + "---:|" * (len(shown) + 1)]
    for name, counts in groups:
        if sum(counts.values()):
            out.append(f"| {name} | " + " | ".join(str(counts.get(o, 0)) for o in shown) + f" | {sum(counts.values())} |")
    return out + [""]


def _failure_lines(doc: Document, rec: Record, redact: Redactor) -> list[str]:
    claim = doc.claims.get(rec.claim, {})
    src = claim.get("source", "")
    link = f"[{rec.claim}]({src})" if _is_url(src) else f"`{rec.claim}`"
    mode = "" if rec.scope_mode == "default" else f" ({rec.scope_mode})"
    msg = (rec.message or rec.reason or "").strip().splitlines()
    first = _md(redact(msg[0]))[:300] if msg else ""
    out = [f"- **{rec.outcome.label}** {link} on `{rec.target}`{mode}: {first}"]
    if claim.get("claim"):
        out.append(f"  - claim: {_md(claim['claim'])}")
    if rec.detail_from:
        where = f" ({rec.source.path}:{rec.source.line})" if rec.source else ""
        out.append(f"  - test: `{rec.detail_from}`{where}")
    out.append(f"  - rerun: `{rerun(rec, doc)['user']}`")
    if rec.repro:
        out += ["  - reproduce:", "    ```"]
        out += ["    " + line for line in redact(rec.repro).splitlines()[:12]]
        out.append("    ```")
    return out


def markdown_summary(docs: Sequence[Document], redact: Redactor | None = None) -> str:
    redact = redact or Redactor()
    labels = run_labels(docs)
    title = "SQLAlchemy session conformance" + (f": {labels[0]}" if len(docs) == 1 else f": {', '.join(labels)}")
    out: list[str] = [f"# {title}\n"]
    for label, doc in zip(labels, docs):
        run = doc.run
        if len(docs) > 1:
            out.append(f"## {label}\n")
        state = "complete" if doc.complete else "**INCOMPLETE** (interrupted, stopped early or still running)"
        out.append(
            f"{doc.suite_name} {doc.suite_version} · SQLAlchemy {run.sqlalchemy} · Python {run.python} · "
            f"{run.platform} · hypothesis profile `{run.hypothesis.get('profile')}` · "
            f"{run.started} → {run.finished or '…'} · {state}\n"
        )
        out.append(f"**{doc.claims_line()}**  ")
        out.append(f"tests (as pytest counts them): {doc.tests.total} tests: {doc.tests.line()}  ")
        out.append("FAIL: a claim whose check failed; ERROR: a test that broke without judging its claims "
                   "(setup/teardown error, a leak after its checks passed, an error outside every claim's check).\n")
        if run.backends:
            out += _backend_rows(doc)
        out += _totals_rows(doc)
        bad = doc.bad()
        if not bad:
            out.append("No failing verdicts.\n")
            continue
        kinds = ", ".join(f"{n} {o.label}" for o, n in sorted(doc.verdict_counts().items(), key=lambda kv: kv[0].rank)
                          if o.bad and n)
        out.append(f"### Failing verdicts ({len(bad)})\n")
        out.append(f"{kinds} (of the claims line above)\n")
        for rec in bad[:MAX_FAILURES_MD]:
            out += _failure_lines(doc, rec, redact)
        if len(bad) > MAX_FAILURES_MD:
            out.append(f"- … and {len(bad) - MAX_FAILURES_MD} more (see the HTML matrix / results.json)")
        out.append("")
    return redact("\n".join(out).rstrip() + "\n")


# -- HTML ----------------------------------------------------------------------
def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("sa_conformance", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _rows(matrix: Matrix) -> list[tuple[str, list[dict]]]:
    families = []
    for family, claims in matrix.families():
        rows = []
        for c in claims:
            cells = [(col, matrix.cell(c["id"], ci)) for ci, col in enumerate(matrix.columns)]
            recs = [r for _, cell in cells if cell for r in cell.records] + [r for _, r in matrix.no_db.get(c["id"], [])]
            outcomes = sorted({r.outcome for r in recs}, key=lambda o: o.rank)
            rows.append({
                "claim": c, "cells": cells, "no_db": matrix.no_db.get(c["id"], []),
                "tests": list(dict.fromkeys(t for r in recs for t in r.tests)),
                "outcomes": [o.value for o in outcomes],
                "kinds": sorted({k for r in recs for k in r.kinds}),
                "members": list(c.get("members") or ()),
            })
        families.append((family, rows))
    return families


def html_matrix(docs: Sequence[Document], redact: Redactor | None = None, title: str | None = None) -> str:
    redact = redact or Redactor()
    matrix = build_matrix(docs)
    families = _rows(matrix)
    counts = verdict_counts(docs)
    members = sorted({m for _, rows in families for row in rows for m in row["members"]})
    text = _env().get_template("matrix.html.j2").render(
        title=title or f"{docs[0].suite_name if docs else 'sa-session-conformance'}: claims matrix",
        m=matrix,
        families=families,
        outcomes=OUTCOMES,
        labels=OUTCOME_LABEL,
        helps=OUTCOME_HELP,
        counts={o.value: counts.get(o, 0) for o in Outcome},
        claims_line=claims_line(counts),
        unit=UNIT,
        bad=[o.value for o in BAD],
        version_range=version_range,
        is_url=_is_url,
        rerun=rerun,
        source_label=source_label,
        multi_runs=len(matrix.runs) > 1,
        backend_groups=_backend_groups(matrix),
        n_backends=len(matrix.backends),
        members=members,
    )
    return redact(text)


def _backend_groups(matrix: Matrix) -> list[tuple[str, int]]:
    groups: list[tuple[str, int]] = []
    for col in matrix.columns:
        if groups and groups[-1][0] == col.label:
            groups[-1] = (col.label, groups[-1][1] + 1)
        else:
            groups.append((col.label, 1))
    return groups


def write_report(
    docs: Sequence[Document], *, html_path: Path | None, md_path: Path | None, redact: Redactor | None = None
) -> list[Path]:
    from .resultsio import write_atomic

    written = []
    if html_path is not None:
        write_atomic(html_path, html_matrix(docs, redact))
        written.append(html_path)
    if md_path is not None:
        write_atomic(md_path, markdown_summary(docs, redact))
        written.append(md_path)
    return written
