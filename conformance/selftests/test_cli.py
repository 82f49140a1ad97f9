"""The `sa-conformance` command: verbs, help, and bad input (exit 2, one
line on stderr, never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sa_conformance.paths import CATALOGUE_DIR

from test_report_html import two_runs

# subprocess-heavy: generous timeout on a loaded machine
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sa_conformance.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def good(tmp_path: Path) -> tuple[str, str]:
    paths = []
    for i, doc in enumerate(two_runs()):
        p = tmp_path / f"r{i}.json"
        p.write_text(json.dumps(doc.to_dict()))
        paths.append(str(p))
    return paths[0], paths[1]


def bad_files(tmp_path: Path, good: str) -> dict[str, str]:
    text = Path(good).read_text()
    files = {
        "empty": "",
        "truncated": text[: len(text) // 2],
        "corrupt": "\x00\x01garbage{",
        "not-results": json.dumps({"hello": "world"}),
        "wrong-schema": json.dumps({**json.loads(text), "results": [{"claim": "x.y"}]}),
        "wrong-version": json.dumps({**json.loads(text), "format_version": 99}),
        "a-list": "[1, 2]",
    }
    out = {}
    for name, content in files.items():
        p = tmp_path / f"{name}.json"
        p.write_text(content)
        out[name] = str(p)
    out["missing"] = str(tmp_path / "nope.json")
    out["directory"] = str(tmp_path)
    return out


@pytest.mark.timeout(300)
def test_bad_input_is_one_line_exit_2_never_a_traceback(tmp_path, good):
    for kind, path in bad_files(tmp_path, good[0]).items():
        for args in (("report", path), ("report", good[0], path, "--html", str(tmp_path / "m.html")),
                     ("diff", good[0], path), ("diff", path, good[1])):
            proc = cli(*args)
            where = f"{kind}: {' '.join(args)}"
            assert proc.returncode == 2, where
            assert "Traceback" not in proc.stderr, where
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("sa-conformance: "), (where, proc.stderr)
            assert Path(path).name in lines[0] or kind == "directory", where
    assert not (tmp_path / "m.html").exists()


def test_report_verb_writes_html_and_markdown(tmp_path, good):
    proc = cli("report", *good, "--html", str(tmp_path / "m.html"), "--md", str(tmp_path / "s.md"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.html").read_text().count('class="claim-row"') == 6
    assert "## SA 2.1.9" in (tmp_path / "s.md").read_text()
    to_stdout = cli("report", good[1])
    assert to_stdout.returncode == 0 and "Failing verdicts (2)" in to_stdout.stdout


def test_help_for_every_verb():
    top = cli("--help")
    assert top.returncode == 0
    for verb in ("report", "diff", "claims", "check", "upgrade-diff"):
        assert verb in top.stdout
        sub = cli(verb, "--help")
        assert sub.returncode == 0 and "usage: sa-conformance " + verb in sub.stdout
    assert cli().returncode == 2  # no verb: argparse usage error
    assert cli("frobnicate").returncode == 2


def test_claims_lists_and_searches_the_catalogue(pytestconfig):
    from sa_conformance.catalogue import load_catalogue

    cat = load_catalogue(CATALOGUE_DIR)
    some = next(iter(cat))
    proc = cli("claims", "--json", cwd=pytestconfig.rootpath)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["id"] for r in rows} == {c.id for c in cat}
    hit = cli("claims", some.id, cwd=pytestconfig.rootpath)
    assert hit.returncode == 0 and some.id in hit.stdout and some.source in hit.stdout
    fam = json.loads(cli("claims", "--family", some.family, "--json", cwd=pytestconfig.rootpath).stdout)
    assert fam and all(r["family"] == some.family for r in fam)
    assert cli("claims", "no-such-text-anywhere-xyz", cwd=pytestconfig.rootpath).stdout == ""


@pytest.mark.timeout(300)
def test_claims_with_tests_names_the_citing_tests(pytestconfig):
    proc = cli("claims", "--json", "--tests", "--family", "remove", cwd=pytestconfig.rootpath)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(any("test_remove" in t for t in r["tests"]) for r in rows)


def test_check_validates_catalogue_and_expectations(pytestconfig, tmp_path):
    ok = cli("check", "--no-collect", cwd=pytestconfig.rootpath)
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    broken = tmp_path / "claims"
    broken.mkdir()
    (broken / "_catalogue.toml").write_text("supported_series = [")
    proc = cli("check", "--no-collect", "--catalogue", str(broken))
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr and "Traceback" not in proc.stderr


def test_check_reports_uncovered_claims(tmp_path, pytestconfig):
    """check collects the real suite against a catalogue with an extra,
    untested claim and reports it (exit 1)."""
    import shutil

    cat = tmp_path / "claims"
    shutil.copytree(CATALOGUE_DIR, cat)
    with open(cat / "registry.toml", "a") as fh:
        fh.write('\n[[claim]]\nid = "registry.zz-untested"\nfamily = "registry"\nclaim = "x."\n'
                 'source = "seed:x"\nsection = "x"\n')
    proc = cli("check", "--catalogue", str(cat), cwd=pytestconfig.rootpath)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "registry.zz-untested: no test checks it" in proc.stdout


def test_upgrade_bad_input_is_one_line_before_any_env(tmp_path):
    """`upgrade` checks the run options and the releases before creating an
    env: an unknown backend or series is one line, exit 2 (the old tox-based
    upgrade-diff diffed stale files here; it is now an alias of upgrade)."""
    for args, expected in ((("upgrade", "2.0", "2.1", "--backend", "nosuch"), "unknown backend 'nosuch'"),
                           (("upgrade-diff", "2.0", "2.1", "--backend", "nosuch"), "unknown backend 'nosuch'")):
        proc = cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "sa-conformance-upgrade").exists()


def test_arguments_after_double_dash_belong_to_upgrade(tmp_path):
    """`upgrade OLD NEW --html X -- PYTEST...`: options before `--` are ours."""
    from sa_conformance import cli as climod

    parser_args = ["upgrade", "2.0", "2.1", "--html", str(tmp_path / "u.html"), "--", "--backend", "x"]
    args = climod.build_parser().parse_args(parser_args[: parser_args.index("--")])
    assert args.html == str(tmp_path / "u.html") and args.takes_pytest_args
    refused = cli("diff", "a.json", "b.json", "--", "-x")
    assert refused.returncode == 2 and "not accepted by diff" in refused.stderr
