"""The HTML claims matrix, rendered by headless Chromium: one row per claim
grouped by family, one cell per backend x SQLAlchemy version, working
outcome/family filters, and failing cells carrying message and reproduction.
Skips when no chromium binary is installed (CI does not install one)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sa_conformance.report import build_matrix, html_matrix, markdown_summary
from sa_conformance.results import validate

# subprocess-heavy: generous timeout on a loaded machine
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def claim(cid: str, **kw) -> dict:
    base = {
        "id": cid, "family": cid.split(".")[0], "claim": f"{cid} text.", "source":
        f"https://docs.sqlalchemy.org/en/20/orm/contextual.html#{cid.split('.')[1]}", "section": "S",
        "seeds": [], "since": None, "until": None, "note": None,
    }
    base.update(kw)
    return base


def record(cid: str, backend: str, outcome: str, mode: str = "default", **kw) -> dict:
    rec = {"claim": cid, "backend": backend, "scope_mode": mode, "outcome": outcome, "duration": 0.01,
           "tests": [f"conformance/sa_conformance/suite/test_{cid.split('.')[0]}.py::test_{cid.split('.')[1]}[{backend}]"],
           "counts": {outcome: 1}}
    rec.update(kw)
    return rec


def make_doc(version: str, results: list[dict], claims: list[dict], suite: str = "sa-session-conformance") -> dict:
    totals: dict = {}
    for r in results:
        totals.setdefault(r["backend"], {}).setdefault(r["outcome"], 0)
        totals[r["backend"]][r["outcome"]] += 1
    doc = {
        "format": "sa-conformance-results", "format_version": 1,
        "suite": {"name": suite, "version": "0.1.0"}, "complete": True, "exit_status": 1,
        "run": {
            "sqlalchemy": version, "python": "3.11.7", "platform": "Linux", "started": "2026-01-01T00:00:00+00:00",
            "finished": "2026-01-01T00:01:00+00:00", "command": "pytest -n 2", "catalogue": "conformance/claims",
            "hypothesis": {"profile": "ci", "seed": None, "derandomize": True, "max_examples": 25, "database": None},
            "backends_selected": ["sqlite-memory", "mysql"],
            "backends": {"mysql": {"backend": "mysql", "dialect": "mysql", "driver": "pymysql", "dbapi": "pymysql 1.1",
                                   "product": "MariaDB", "server_version": "10.11", "isolation_level": "REPEATABLE READ",
                                   "sql_mode": "STRICT_TRANS_TABLES", "url": "mysql+pymysql://root:***@h/db"}},
        },
        "claims": {c["id"]: c for c in claims},
        "results": results,
        "totals": totals,
        "tests": {"total": len(results), "outcomes": {}},
    }
    validate(doc)
    return doc


CLAIMS = [
    claim("registry.same-session"), claim("registry.remove-clears"),
    claim("remove.closes-session"), claim("proxy.new-members", since="2.1"), claim("states.untested"),
]


def two_runs() -> list[dict]:
    old = make_doc("2.0.58", [
        record("registry.same-session", "sqlite-memory", "pass"),
        record("registry.same-session", "mysql", "pass"),
        record("registry.remove-clears", "sqlite-memory", "pass", mode="thread-local"),
        record("registry.remove-clears", "sqlite-memory", "skip", mode="asyncio-task", reason="lacks x"),
        record("registry.remove-clears", "mysql", "pass", mode="thread-local"),
        record("remove.closes-session", "sqlite-memory", "pass"),
        record("remove.closes-session", "mysql", "pass"),
        record("proxy.new-members", "sqlite-memory", "not-applicable", reason="not applicable: >=2.1"),
        record("proxy.new-members", "mysql", "not-applicable", reason="not applicable: >=2.1"),
        record("states.untested", "*", "not-run", tests=[]),
    ], CLAIMS)
    new = make_doc("2.1.9", [
        record("registry.same-session", "sqlite-memory", "pass"),
        record("registry.same-session", "mysql", "pass"),
        record("registry.remove-clears", "sqlite-memory", "pass", mode="thread-local"),
        record("registry.remove-clears", "sqlite-memory", "pass", mode="asyncio-task"),
        record("registry.remove-clears", "mysql", "pass", mode="thread-local"),
        record("remove.closes-session", "sqlite-memory", "pass"),
        record("remove.closes-session", "mysql", "fail", message="AssertionError: connection still checked out\nmore",
               repro="Falsifying example: test_closes(\n    n=3,\n)", detail_from="t::x[mysql]"),
        record("proxy.new-members", "sqlite-memory", "pass"),
        record("proxy.new-members", "mysql", "pass"),
        record("states.untested", "*", "not-run", tests=[]),
    ], CLAIMS)
    return [old, new]


class DOM(HTMLParser):
    """Just enough of a DOM: every element with its attributes, its text and
    its ancestors."""

    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self.stack: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": "", "parents": list(self.stack)}
        self.elements.append(el)
        if tag not in self.VOID:
            self.stack.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

    def find(self, tag: str, cls: str | None = None, **attrs) -> list[dict]:
        out = []
        for el in self.elements:
            if el["tag"] != tag:
                continue
            if cls and cls not in el["attrs"].get("class", "").split():
                continue
            if any(el["attrs"].get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(el)
        return out

    def within(self, parent: dict, tag: str, cls: str | None = None) -> list[dict]:
        return [el for el in self.find(tag, cls) if any(p is parent for p in el["parents"])]


def dump_dom(path: Path, tmp_path: Path, fragment: str = "") -> DOM:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); HTML not rendered")
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", path.resolve().as_uri() + fragment,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<html" in proc.stdout
    return DOM(proc.stdout)


@pytest.fixture
def matrix_file(tmp_path: Path) -> Path:
    files = []
    for doc in two_runs():
        f = tmp_path / f"results-{doc['run']['sqlalchemy']}.json"
        f.write_text(json.dumps(doc))
        files.append(str(f))
    out = tmp_path / "matrix.html"
    proc = subprocess.run([sys.executable, "-m", "sa_conformance.cli", "report", *files, "--html", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.timeout(180)
def test_rendered_matrix_has_a_row_per_claim_and_a_cell_per_backend_and_version(matrix_file, tmp_path):
    dom = dump_dom(matrix_file, tmp_path)
    rows = dom.find("tr", "claim-row")
    assert [r["attrs"]["data-claim"] for r in rows] == [
        "registry.remove-clears", "registry.same-session", "remove.closes-session", "proxy.new-members",
        "states.untested",
    ], "rows grouped by family in catalogue family order"
    families = [g["attrs"]["data-family"] for g in dom.find("tbody", "family-group")]
    assert families == ["registry", "remove", "proxy", "states"]
    for row in rows:
        cells = dom.within(row, "td", "cell")
        assert [(c["attrs"]["data-backend"], c["attrs"]["data-run"]) for c in cells] == [
            ("sqlite-memory", "SA 2.0.58"), ("sqlite-memory", "SA 2.1.9"), ("mysql", "SA 2.0.58"), ("mysql", "SA 2.1.9"),
        ]
        link = dom.within(row, "a", "source")
        assert link and link[0]["attrs"]["href"].startswith("https://docs.sqlalchemy.org/")
        assert "text." in row["text"]
    new_members = next(r for r in rows if r["attrs"]["data-claim"] == "proxy.new-members")
    assert "SQLAlchemy >=2.1" in new_members["text"]
    assert [c["attrs"]["data-outcome"] for c in dom.within(new_members, "td", "cell")] == [
        "not-applicable", "pass", "not-applicable", "pass",
    ]
    # worst of the scope modes colours the cell; each mode is listed inside it
    remove_clears = rows[0]
    first = dom.within(remove_clears, "td", "cell")[0]
    assert first["attrs"]["data-outcome"] == "pass" and "o-pass" in first["attrs"]["class"]
    assert {e["attrs"]["data-scope-mode"] for e in dom.within(first, "div", "entry")} == {"thread-local", "asyncio-task"}
    # filter controls: a checkbox per outcome, a family select, a search box
    boxes = [i["attrs"]["value"] for i in dom.find("input", name="outcome")]
    assert {"pass", "fail", "error", "skip", "not-applicable", "expected-fail", "unexpected-pass", "not-run"} == set(boxes)
    options = [o["attrs"]["value"] for o in dom.find("option") if any(p["tag"] == "select" for p in o["parents"])]
    assert options == ["", "registry", "remove", "proxy", "states"]
    assert dom.find("input", id="search")
    # the inline script ran in the browser
    assert dom.find("span", id="shown-count")[0]["text"].strip() == "5 of 5 claims shown"


@pytest.mark.timeout(180)
def test_failing_cell_shows_message_and_reproduction_and_filter_hides_passing_rows(matrix_file, tmp_path):
    dom = dump_dom(matrix_file, tmp_path, "#failing")
    failing = [c for c in dom.find("td", "cell") if c["attrs"]["data-outcome"] == "fail"]
    assert len(failing) == 1
    cell = failing[0]
    assert cell["attrs"]["data-backend"] == "mysql" and cell["attrs"]["data-run"] == "SA 2.1.9"
    assert "o-fail" in cell["attrs"]["class"] and "FAIL" in cell["text"]
    assert "AssertionError: connection still checked out" in dom.within(cell, "pre", "message")[0]["text"]
    assert "Falsifying example: test_closes(" in dom.within(cell, "pre", "repro")[0]["text"]
    # the "#failing" view: only the failing claim's row stays visible
    rows = dom.find("tr", "claim-row")
    visible = [r["attrs"]["data-claim"] for r in rows if "hidden" not in r["attrs"].get("class", "").split()]
    assert visible == ["remove.closes-session"]
    assert dom.find("span", id="shown-count")[0]["text"].strip() == "1 of 5 claims shown"


def test_matrix_is_self_contained_and_escapes_text():
    docs = two_runs()
    docs[1]["results"][6]["message"] = "<script>alert(1)</script> mysql://u:hunter22@h/db"
    text = html_matrix(docs)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text), "no external resources"
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "hunter22" not in text


def test_single_run_columns_are_backends_only():
    m = build_matrix(two_runs()[:1])
    assert [(c.backend, c.sublabel) for c in m.columns] == [("sqlite-memory", ""), ("mysql", "")]


def test_markdown_summary_lists_totals_and_failing_claims_with_links():
    md = markdown_summary([two_runs()[1]])
    assert "| backend |" in md and "| mysql |" in md
    assert "[remove.closes-session](https://docs.sqlalchemy.org/en/20/orm/contextual.html#closes-session)" in md
    assert "connection still checked out" in md and "Falsifying example" in md
    assert "No failing claims." in markdown_summary([two_runs()[0]])
