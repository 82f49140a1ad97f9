"""The HTML claims matrix, rendered by headless Chromium: one row per claim
grouped by family, one cell per backend x SQLAlchemy version (no column for
claims checked without a database), working outcome/family/member filters,
verdict counts that match the documents, failing cells carrying message,
reproduction, a link to the test source and the rerun command, and cells
whose content never overflows.  The Chromium tests skip when no chromium
binary is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sa_conformance.model import Document, Outcome
from sa_conformance.report import build_matrix, html_matrix, markdown_summary

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


def record(cid: str, backend: str | None, outcome: str, mode: str = "default", **kw) -> dict:
    driver = {"sqlite-memory": "pysqlite", "mysql": "pymysql"}.get(backend)
    rec = {"claim": cid, "backend": backend, "driver": driver, "scope_mode": mode, "outcome": outcome, "duration": 0.01,
           "tests": [f"conformance/sa_conformance/suite/test_{cid.split('.')[0]}.py::test_{cid.split('.')[1]}[{backend}]"],
           "counts": {outcome: 1}}
    rec.update(kw)
    return rec


def make_doc(version: str, results: list[dict], claims: list[dict], suite: str = "sa-session-conformance") -> Document:
    doc = {
        "format": "sa-conformance-results", "format_version": 2,
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
        "totals": {},
        "tests": {"total": len(results), "outcomes": {}},
    }
    return Document.from_dict(doc)


CLAIMS = [
    claim("registry.same-session"), claim("registry.remove-clears"),
    claim("remove.closes-session"), claim("proxy.new-members", since="2.1", members=["scoped_session.info"]),
    claim("states.untested"), claim("sessionmaker.no-db", members=["sessionmaker.configure"]),
]
#: where the failing test "is"; the matrix links it as file://
TEST_SOURCE = {"path": "/repo/conformance/sa_conformance/suite/test_remove.py", "line": 42}


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
        record("states.untested", None, "not-run", tests=[]),
        record("sessionmaker.no-db", None, "pass"),
    ], CLAIMS)
    new = make_doc("2.1.9", [
        record("registry.same-session", "sqlite-memory", "pass"),
        record("registry.same-session", "mysql", "pass"),
        record("registry.remove-clears", "sqlite-memory", "pass", mode="thread-local"),
        record("registry.remove-clears", "sqlite-memory", "pass", mode="asyncio-task"),
        record("registry.remove-clears", "mysql", "pass", mode="thread-local"),
        record("remove.closes-session", "sqlite-memory", "pass"),
        record("remove.closes-session", "mysql", "fail", message="AssertionError: connection still checked out\nmore",
               repro="Falsifying example: test_closes(\n    n=3,\n)", detail_from="t::x[mysql]",
               source=TEST_SOURCE, kinds=["example", "property"]),
        record("proxy.new-members", "sqlite-memory", "pass"),
        record("proxy.new-members", "mysql", "pass"),
        record("states.untested", None, "not-run", tests=[]),
        record("sessionmaker.no-db", None, "fail", message="AssertionError: configure() ignored " + "x" * 300,
               detail_from="t::no_db", source=TEST_SOURCE),
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


def dump_dom(path: Path, tmp_path: Path, fragment: str = "", width: int = 1280) -> DOM:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); HTML not rendered")
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--window-size={width},1000", "--dump-dom",
        path.resolve().as_uri() + fragment,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<html" in proc.stdout
    return DOM(proc.stdout)


@pytest.fixture
def matrix_file(tmp_path: Path) -> Path:
    files = []
    for doc in two_runs():
        f = tmp_path / f"results-{doc.run.sqlalchemy}.json"
        f.write_text(json.dumps(doc.to_dict()))
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
        "sessionmaker.no-db", "states.untested",
    ], "rows grouped by family in catalogue family order"
    families = [g["attrs"]["data-family"] for g in dom.find("tbody", "family-group")]
    assert families == ["registry", "remove", "proxy", "sessionmaker", "states"]
    # no column for the claim checked without a database: its verdict is in the claim cell
    heads = [h["attrs"]["data-backend"] for h in dom.find("th", "col-head")]
    assert heads == ["sqlite-memory", "sqlite-memory", "mysql", "mysql"]
    no_db = next(r for r in rows if r["attrs"]["data-claim"] == "sessionmaker.no-db")
    assert [d["attrs"]["data-outcome"] for d in dom.within(no_db, "div", "no-db")] == ["pass", "fail"]
    assert "2 backends" in dom.find("p", "muted")[0]["text"]
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
    assert {o.value for o in Outcome} == set(boxes)
    family_options = [o["attrs"]["value"] for o in dom.find("option")
                      if any(p["attrs"].get("id") == "family-select" for p in o["parents"])]
    assert family_options == ["", "registry", "remove", "proxy", "sessionmaker", "states"]
    member_options = [o["attrs"]["value"] for o in dom.find("option")
                      if any(p["attrs"].get("id") == "member-select" for p in o["parents"])]
    assert member_options == ["", "scoped_session.info", "sessionmaker.configure"]
    assert dom.find("input", id="search")
    # the counts are verdicts (records) of both runs, as the claims line says
    counts = {s["attrs"]["data-outcome"]: int(s["text"]) for s in dom.find("span", "count")}
    assert counts["pass"] == 15 and counts["fail"] == 2 and counts["not-run"] == 2 and counts["skip"] == 1
    assert counts["not-applicable"] == 2
    assert sum(counts.values()) == 22 == sum(len(d.records) for d in two_runs())
    assert dom.find("p", id="claims-line")[0]["text"].strip().startswith("claims: 22 claim verdicts (claim × backend")
    # the inline script ran in the browser
    assert dom.find("span", id="shown-count")[0]["text"].strip().startswith("6 of 6 claims shown")


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
    link = dom.within(cell, "a", "source-link")[0]
    assert link["attrs"]["href"] == "file://" + TEST_SOURCE["path"]
    assert link["text"] == "sa_conformance/suite/test_remove.py:42" and link["attrs"]["title"] == TEST_SOURCE["path"]
    cmds = {c["attrs"]["data-kind"]: c["text"] for c in dom.within(cell, "code", "cmd")}
    assert cmds == {"user": "sa-conformance run --claim remove.closes-session --backend mysql",
                    "repo": "pytest --claim remove.closes-session --backend mysql"}
    assert [b["attrs"]["data-copy"] for b in dom.within(cell, "button", "copy")] == [cmds["user"], cmds["repo"]]
    # the "#failing" view: only the failing claims' rows stay visible
    rows = dom.find("tr", "claim-row")
    visible = [r["attrs"]["data-claim"] for r in rows if "hidden" not in r["attrs"].get("class", "").split()]
    assert visible == ["remove.closes-session", "sessionmaker.no-db"]
    assert dom.find("span", id="shown-count")[0]["text"].strip().startswith("2 of 6 claims shown")


#: measures, in the browser, every element that sticks out of its matrix cell
OVERFLOW_PROBE = """<script>
var out = [];
document.querySelectorAll('table.matrix td').forEach(function (td) {
  var box = td.getBoundingClientRect();
  td.querySelectorAll('*').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) {
      out.push((td.getAttribute('data-backend') || 'claim') + ' ' + el.tagName + '.' + el.className);
    }
  });
});
if (document.documentElement.scrollWidth > window.innerWidth + 1) {
  out.push('page ' + document.documentElement.scrollWidth + 'px wide in a ' + window.innerWidth + 'px window');
}
document.body.setAttribute('data-overflow', out.join(' | ') || 'none');
</script>"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("width", [1280, 1900])
def test_expanded_cells_do_not_overflow(matrix_file, tmp_path, width):
    """With every cell's details open (long messages, reproductions, rerun
    commands, a 300-character word), nothing sticks out of its cell and the
    matrix fits the window (no sideways scrolling)."""
    text = matrix_file.read_text().replace("<details", "<details open")
    probe = tmp_path / "matrix-open.html"
    probe.write_text(text.replace("</body>", OVERFLOW_PROBE + "</body>"))
    dom = dump_dom(probe, tmp_path, width=width)
    assert dom.find("body")[0]["attrs"]["data-overflow"] == "none"


def test_matrix_is_self_contained_and_escapes_text():
    docs = two_runs()
    bad = next(r for r in docs[1].records if r.outcome is Outcome.FAIL and r.backend == "mysql")
    evil = bad.replace(message="<script>alert(1)</script> mysql://u:hunter22@h/db")
    docs[1] = Document(**{**vars(docs[1]), "records": tuple(evil if r is bad else r for r in docs[1].records)})
    text = html_matrix(docs)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text), "no external resources"
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "hunter22" not in text


def test_single_run_columns_are_backends_only():
    m = build_matrix(two_runs()[:1])
    assert [(c.backend, c.sublabel) for c in m.columns] == [("sqlite-memory", ""), ("mysql", "")]


def test_markdown_summary_lists_totals_and_failing_verdicts_with_links():
    doc = two_runs()[1]
    md = markdown_summary([doc])
    assert "| backend |" in md and "| mysql |" in md and "| (no database) |" in md and "| (not run) |" in md
    assert f"**{doc.claims_line()}**" in md
    assert doc.claims_line() == ("claims: 11 claim verdicts (claim × backend × driver × scope mode): "
                                 "2 FAIL, 8 pass, 1 not run")
    assert "### Failing verdicts (2)" in md
    assert "[remove.closes-session](https://docs.sqlalchemy.org/en/20/orm/contextual.html#closes-session)" in md
    assert "connection still checked out" in md and "Falsifying example" in md
    assert "rerun: `sa-conformance run --claim remove.closes-session --backend mysql`" in md
    assert f"({TEST_SOURCE['path']}:42)" in md
    assert "No failing verdicts." in markdown_summary([two_runs()[0]])
