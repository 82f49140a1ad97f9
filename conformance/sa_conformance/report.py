"""Reports from results files: the Markdown summary and the HTML claims matrix.

Several results files (e.g. one per SQLAlchemy version) merge into one
matrix: claims grouped by family as rows, backends x versions as columns.
Everything needed is embedded in the results files (claim text, source,
range), so no catalogue is read here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .catalogue import FAMILIES
from .redact import Redactor
from .results import BAD, NOT_RUN_BACKEND, OUTCOMES, PRIORITY, SUITE_NAME, ResultsError

OUTCOME_LABEL = {
    "pass": "pass",
    "fail": "FAIL",
    "error": "ERROR",
    "skip": "skip",
    "not-applicable": "n/a",
    "expected-fail": "xfail",
    "unexpected-pass": "XPASS",
    "not-run": "not run",
}
OUTCOME_HELP = {
    "pass": "the claim held",
    "fail": "the claim did not hold (or the test leaked)",
    "error": "the test could not run properly (setup/teardown error)",
    "skip": "skipped (backend unavailable or lacking a capability)",
    "not-applicable": "the claim does not apply to this SQLAlchemy version",
    "expected-fail": "a known deviation listed in expectations.toml failed as expected",
    "unexpected-pass": "a known deviation passed: remove its expectations.toml entry",
    "not-run": "no test for this claim was collected in this run",
}
MAX_FAILURES_MD = 60


@dataclass
class Run:
    label: str
    doc: dict

    @property
    def version(self) -> str:
        return self.doc["run"]["sqlalchemy"]


@dataclass
class Column:
    run: int
    backend: str
    label: str
    sublabel: str


@dataclass
class Cell:
    """One (claim, backend, run) cell: the records of each scope mode."""

    records: list[dict]

    @property
    def outcome(self) -> str:
        return min((r["outcome"] for r in self.records), key=lambda o: OUTCOMES.index(o))

    @property
    def modes(self) -> bool:
        return len(self.records) > 1 or self.records[0]["scope_mode"] != "default"

    @property
    def tests(self) -> list[str]:
        out: list[str] = []
        for r in self.records:
            out.extend(t for t in r.get("tests", []) if t not in out)
        return out


@dataclass
class Matrix:
    runs: list[Run]
    claims: dict[str, dict]
    columns: list[Column]
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)  # (claim, column index) -> cell

    def families(self) -> list[tuple[str, list[dict]]]:
        groups: dict[str, list[dict]] = {}
        for c in sorted(self.claims.values(), key=lambda c: c["id"]):
            groups.setdefault(c["family"], []).append(c)
        order = {f: i for i, f in enumerate(FAMILIES)}
        return sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))

    def cell(self, claim: str, col: int) -> Cell | None:
        return self.cells.get((claim, col))


def run_labels(docs: Sequence[dict]) -> list[str]:
    labels: list[str] = []
    for doc in docs:
        base = f"SA {doc['run']['sqlalchemy']}"
        label, n = base, 2
        while label in labels:
            label, n = f"{base} #{n}", n + 1
        labels.append(label)
    return labels


def check_same_suite(docs: Sequence[dict], names: Sequence[str]) -> None:
    suites = {d["suite"]["name"] for d in docs}
    if len(suites) > 1:
        detail = ", ".join(f"{n}: {d['suite']['name']!r}" for n, d in zip(names, docs))
        raise ResultsError(f"results files come from different suites ({detail})")


def build_matrix(docs: Sequence[dict]) -> Matrix:
    """Rows: claims; columns: backend x run (one run: just backends).  A cell
    holds one record per scope mode; its colour is the worst of them."""
    runs = [Run(label, doc) for label, doc in zip(run_labels(docs), docs)]
    claims: dict[str, dict] = {}
    for doc in docs:
        claims.update(doc["claims"])
    backends: list[str] = []
    for doc in docs:
        for name in doc["run"].get("backends_selected", []):
            if name not in backends:
                backends.append(name)
    for doc in docs:
        for rec in doc["results"]:
            if rec["backend"] != NOT_RUN_BACKEND and rec["backend"] not in backends:
                backends.append(rec["backend"])
    columns = [
        Column(i, b, b, run.label if len(runs) > 1 else "") for b in backends for i, run in enumerate(runs)
    ]
    matrix = Matrix(runs=runs, claims=claims, columns=columns)
    mode_order = lambda r: (r["scope_mode"] != "default", r["scope_mode"])  # noqa: E731
    for ci, col in enumerate(columns):
        doc = runs[col.run].doc
        by_claim: dict[str, list[dict]] = {}
        not_run: dict[str, dict] = {}
        for rec in doc["results"]:
            if rec["backend"] == col.backend:
                by_claim.setdefault(rec["claim"], []).append(rec)
            elif rec["backend"] == NOT_RUN_BACKEND:
                not_run[rec["claim"]] = rec
        for cid, recs in by_claim.items():
            matrix.cells[(cid, ci)] = Cell(sorted(recs, key=mode_order))
        for cid, rec in not_run.items():
            matrix.cells.setdefault((cid, ci), Cell([rec]))
    return matrix


def version_range(claim: dict) -> str:
    since, until = claim.get("since"), claim.get("until")
    if since and until:
        return f">={since},<{until}"
    if since:
        return f">={since}"
    if until:
        return f"<{until}"
    return "all versions"


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


# -- Markdown ------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def markdown_summary(docs: Sequence[dict], redact: Redactor | None = None) -> str:
    redact = redact or Redactor()
    labels = run_labels(docs)
    out: list[str] = []
    title = "SQLAlchemy session conformance" + (f": {labels[0]}" if len(docs) == 1 else f": {', '.join(labels)}")
    out.append(f"# {title}\n")
    for label, doc in zip(labels, docs):
        run = doc["run"]
        hyp = run.get("hypothesis", {})
        if len(docs) > 1:
            out.append(f"## {label}\n")
        state = "complete" if doc["complete"] else "**INCOMPLETE** (interrupted, stopped early or still running)"
        out.append(
            f"{doc['suite']['name']} {doc['suite']['version']} · SQLAlchemy {run['sqlalchemy']} · Python "
            f"{run['python']} · {run['platform']} · hypothesis profile `{hyp.get('profile')}` · "
            f"{run['started']} → {run.get('finished') or '…'} · {state}\n"
        )
        backends = run.get("backends", {})
        if backends:
            out.append("| backend | server | driver | isolation | sql_mode |")
            out.append("|---|---|---|---|---|")
            for name, info in backends.items():
                if "unavailable" in info:
                    out.append(f"| {name} | unavailable: {_md_escape(info['unavailable'])} | | | |")
                    continue
                out.append(
                    f"| {name} | {_md_escape(str(info.get('product') or ''))} {info.get('server_version') or ''} | "
                    f"{info.get('dialect', '')}+{info.get('driver') or ''} ({_md_escape(str(info.get('dbapi', '')))}) | "
                    f"{info.get('isolation_level') or ''} | {_md_escape(str(info.get('sql_mode') or ''))} |"
                )
            out.append("")
        totals = doc["totals"]
        shown = [o for o in OUTCOMES if any(t.get(o) for t in totals.values())]
        out.append("| backend | " + " | ".join(OUTCOME_LABEL[o] for o in shown) + " | claims |")
        out.append("|---|" + "---:|" * (len(shown) + 1))
        for name, t in totals.items():
            label_b = "(not run)" if name == NOT_RUN_BACKEND else name
            out.append(
                f"| {label_b} | " + " | ".join(str(t.get(o, 0)) for o in shown) + f" | {sum(t.values())} |"
            )
        out.append("")
        bad = [r for r in doc["results"] if r["outcome"] in BAD]
        if not bad:
            out.append("No failing claims.\n")
        else:
            out.append(f"### Failing claims ({len(bad)})\n")
            for rec in sorted(bad, key=lambda r: (PRIORITY.index(r["outcome"]), r["claim"], r["backend"]))[
                :MAX_FAILURES_MD
            ]:
                claim = doc["claims"].get(rec["claim"], {})
                src = claim.get("source", "")
                link = f"[{rec['claim']}]({src})" if _is_url(src) else f"`{rec['claim']}`"
                mode = "" if rec["scope_mode"] == "default" else f" ({rec['scope_mode']})"
                msg = (rec.get("message") or rec.get("reason") or "").strip().splitlines()
                first = _md_escape(redact(msg[0]))[:300] if msg else ""
                out.append(f"- **{OUTCOME_LABEL[rec['outcome']]}** {link} on `{rec['backend']}`{mode}: {first}")
                if claim.get("claim"):
                    out.append(f"  - claim: {_md_escape(claim['claim'])}")
                if rec.get("tests"):
                    out.append(f"  - test: `{rec.get('detail_from') or rec['tests'][0]}`")
                if rec.get("repro"):
                    out.append("  - reproduce:")
                    out.append("    ```")
                    out.extend("    " + line for line in redact(rec["repro"]).splitlines()[:12])
                    out.append("    ```")
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


def html_matrix(docs: Sequence[dict], redact: Redactor | None = None, title: str | None = None) -> str:
    redact = redact or Redactor()
    docs = [redact.deep(d) for d in docs]
    matrix = build_matrix(docs)
    backends_multi = len({c.backend for c in matrix.columns})
    families = []
    counts: dict[str, int] = {o: 0 for o in OUTCOMES}
    for family, claims in matrix.families():
        rows = []
        for c in claims:
            cells = [(col, matrix.cell(c["id"], ci)) for ci, col in enumerate(matrix.columns)]
            tests: list[str] = []
            outcomes: set[str] = set()
            for _, cell in cells:
                if cell is None:
                    continue
                tests.extend(t for t in cell.tests if t not in tests)
                outcomes.update(r["outcome"] for r in cell.records)
            ordered = sorted(outcomes, key=OUTCOMES.index)
            for o in ordered:
                counts[o] += 1
            rows.append({"claim": c, "cells": cells, "tests": tests, "outcomes": ordered})
        families.append((family, rows))
    template = _env().get_template("matrix.html.j2")
    text = template.render(
        title=title or f"{SUITE_NAME}: claims matrix",
        m=matrix,
        families=families,
        outcomes=OUTCOMES,
        labels=OUTCOME_LABEL,
        helps=OUTCOME_HELP,
        counts=counts,
        bad=BAD,
        version_range=version_range,
        is_url=_is_url,
        multi_runs=len(matrix.runs) > 1,
        backend_groups=_backend_groups(matrix),
        n_backends=backends_multi,
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
    docs: Sequence[dict], *, html_path: Path | None, md_path: Path | None, redact: Redactor | None = None
) -> list[Path]:
    from .results import write_atomic

    written = []
    if html_path is not None:
        write_atomic(html_path, html_matrix(docs, redact))
        written.append(html_path)
    if md_path is not None:
        write_atomic(md_path, markdown_summary(docs, redact))
        written.append(md_path)
    return written


def esc(text: str) -> str:
    return html.escape(text, quote=True)
